package main

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/servicetest"
)

// tinman sim refuses flags that make no sense with exit 2 naming the flag,
// before it starts a BMC.
func TestSimRefusesNonsenseSettings(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"sim", "--count", "20001"},
		{"sim", "--installer-delay", "-1s"},
		{"sim", "--boot-url", "10.0.2.2:8081"},
		{"sim", "--boot-url", "ftp://127.0.0.1:8081"},
		{"dev", "--sims", "10001"},
	} {
		code, _, errOut := tinman(t, 10*time.Second, args...)
		if code != exitUsage || !strings.Contains(errOut, args[1]) {
			t.Errorf("tinman %v: exit %d %q, want 2 naming %s", args, code, errOut, args[1])
		}
	}
}

// The open files limit is raised to its hard limit; a need beyond the hard
// limit is a usage error naming the limit and the flag that asked.
func TestRaiseFileLimit(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if err := raiseFileLimit(16, "--count 1"); err != nil {
		t.Fatalf("raiseFileLimit(16) = %v", err)
	}
	var after syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &after); err != nil || after.Cur != lim.Max {
		t.Errorf("soft limit after = %d, %v; want the hard limit %d", after.Cur, err, lim.Max)
	}
	if lim.Max == ^uint64(0) {
		t.Log("no hard limit: no need can pass it")
		return
	}
	err := raiseFileLimit(lim.Max+1, "--count 99")
	var exit *exitError
	if !errors.As(err, &exit) || exit.code != exitUsage || !strings.Contains(err.Error(), "--count 99") ||
		!strings.Contains(err.Error(), "RLIMIT_NOFILE") {
		t.Errorf("raiseFileLimit(hard+1) = %v, want a usage error naming --count 99 and RLIMIT_NOFILE", err)
	}
}

// tinman sim --boot-url starts its fleet and the simulated installer, whose
// logs follow --log-level (a sim without log flags once refused every
// --boot-url with `--log-level ""`).
func TestSimWithBootURLStarts(t *testing.T) {
	t.Parallel()
	natsURL := servicetest.NATS(t)
	_, js := servicetest.JetStream(t, natsURL)
	if err := events.EnsureStreams(t.Context(), js, events.DefaultStreamConfig()); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := tinman(t, 3*time.Second, "sim", "--count", "2", "--boot-url", "http://127.0.0.1:9", "--nats-url", natsURL,
		"--log-level", "warn", "--log-format", "json")
	if code != exitOK || !strings.Contains(out, "sim-0002 127.0.0.1:") {
		t.Fatalf("tinman sim --boot-url: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
