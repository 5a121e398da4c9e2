package main

import (
	"fmt"
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

// TestSettingsRefusedByFlagName walks each layer (file, TINMAN_* variable,
// command line) through the real command: the worker's and dispatcher's
// own New refuses the value, the command exits 2 naming the flag and the
// value that won, before it waits for NATS or Redis (which are unreachable
// here: a check made after them would not end within the call's deadline).
func TestSettingsRefusedByFlagName(t *testing.T) {
	dir := t.TempDir()
	file := func(body string) string {
		path := filepath.Join(dir, fmt.Sprintf("tinman-%d.yaml", len(body)))
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	unreachable := []string{"--nats-url", "nats://127.0.0.1:1", "--redis-url", "redis://127.0.0.1:1"}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{name: "file", args: []string{"worker", "--config", file("worker:\n  lease-ttl: 0s\n")}, want: "--lease-ttl 0s: must be more than 0"},
		{name: "variable over file", env: map[string]string{"TINMAN_CONCURRENCY": "-3"},
			args: []string{"worker", "--config", file("worker:\n  concurrency: 7\n")}, want: "--concurrency -3: must be more than 0"},
		{name: "flag over variable", env: map[string]string{"TINMAN_CONCURRENCY": "-3"},
			args: []string{"worker", "--concurrency", "-5"}, want: "--concurrency -5: must be more than 0"},
		{name: "every fault named", args: []string{"worker", "--bmc-timeout", "0s", "--ipmi-min-interval", "-1s", "--breaker-threshold", "0"},
			want: "--ipmi-min-interval -1s: must be 0 or more; --breaker-threshold 0: must be more than 0; --bmc-timeout 0s: must be more than 0"},
		{name: "dispatcher", args: []string{"dispatcher", "--ack-wait", "-1s"}, want: "--ack-wait -1s: must be more than 0"},
		{name: "dispatcher concurrency from file", args: []string{"dispatcher", "--config", file("dispatcher:\n  dispatch-concurrency: 0\n")},
			want: "--dispatch-concurrency 0: must be more than 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			code, _, errOut := tinman(t, 20*time.Second, append(tt.args, unreachable...)...)
			if code != exitUsage || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d %q, want 2 with %q", code, errOut, tt.want)
			}
		})
	}
}
