package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

func TestConfigFileLayers(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tinman.yaml")
	if err := os.WriteFile(path, []byte("nats-url: nats://from-file:4222\nhealth-addr: :9000\nworker:\n  concurrency: 7\n  ipmi-min-interval: 5s\n  servers-per-rack: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := newWorkerCmd()
	cmd.Flags().String("config", path, "")
	if err := cmd.Flags().Set("health-addr", ":7000"); err != nil { // the command line wins
		t.Fatal(err)
	}
	err := applyConfigFile(cmd)
	if err == nil || !strings.Contains(err.Error(), `"servers-per-rack" is not a setting`) {
		t.Fatalf("unknown key in the worker section: %v, want an error naming it", err)
	}
	if err := os.WriteFile(path, []byte("nats-url: nats://from-file:4222\nhealth-addr: :9000\nconcurrency-of-nothing: 1\nworker:\n  concurrency: 7\n  ipmi-min-interval: 5s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd = newWorkerCmd()
	cmd.Flags().String("config", path, "")
	_ = cmd.Flags().Set("health-addr", ":7000")
	if err := applyConfigFile(cmd); err != nil {
		t.Fatal(err)
	}
	get := func(c *cobra.Command, name string) string { return c.Flags().Lookup(name).Value.String() }
	if get(cmd, "nats-url") != "nats://from-file:4222" || get(cmd, "concurrency") != "7" ||
		get(cmd, "ipmi-min-interval") != (5*time.Second).String() || get(cmd, "health-addr") != ":7000" {
		t.Errorf("settings nats-url=%s concurrency=%s ipmi-min-interval=%s health-addr=%s",
			get(cmd, "nats-url"), get(cmd, "concurrency"), get(cmd, "ipmi-min-interval"), get(cmd, "health-addr"))
	}
}

func TestConfigFileBadValueExits2NamingTheKey(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tinman.yaml")
	if err := os.WriteFile(path, []byte("worker:\n  concurrency: lots\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := tinman(t, 5*time.Second, "worker", "--config", path)
	if code != exitUsage || !strings.Contains(errOut, "concurrency") {
		t.Errorf("exit %d %q, want 2 naming concurrency", code, errOut)
	}
}
