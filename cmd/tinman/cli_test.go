package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/servicetest"
)

// tinman runs the real command line in-process and returns its exit code and output.
func tinman(t *testing.T, timeout time.Duration, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCLIPublishWaitAndWatchReplay(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	s := startDev(t, redisURL, 3)
	s.sim(t, "sim-03").SetPowerState("On")
	url := "--nats-url=" + s.dev.natsURL

	code, out, errOut := tinman(t, time.Minute, "publish", "power", "--server", "sim-03", "--action", "cycle", "--wait", url)
	if code != exitOK {
		t.Fatalf("publish --wait exit %d, stderr %q, stdout %q", code, errOut, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	jobID := lines[0]
	for _, want := range []string{"job.queued", "job.started", "job.succeeded"} {
		if !strings.Contains(out, want) {
			t.Errorf("publish --wait output lacks %s:\n%s", want, out)
		}
	}

	// watch --since replays the job's history, then follows until stopped.
	code, out, errOut = tinman(t, 3*time.Second, "watch", "--server", "sim-03", "--since", "10m", url)
	if code != exitOK {
		t.Fatalf("watch exit %d, stderr %q", code, errOut)
	}
	if n := strings.Count(out, jobID); n != 3 {
		t.Errorf("watch replayed %d events of job %s, want 3:\n%s", n, jobID, out)
	}

	code, out, _ = tinman(t, 3*time.Second, "watch", "--job", jobID, "--since", "10m", "--json", url)
	if code != exitOK || strings.Count(out, `"specversion":"1.0"`) != 3 {
		t.Errorf("watch --json exit %d, want 3 CloudEvents lines:\n%s", code, out)
	}
}

func TestCLIExitCodes(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	s := startDev(t, redisURL, 1)
	url := "--nats-url=" + s.dev.natsURL
	s.sim(t, "sim-01").Faults().SetAuthFailure(true)

	tests := []struct {
		name string
		args []string
		want int
		says string
	}{
		{"job fails", []string{"publish", "power", "--server", "sim-01", "--action", "status", "--wait", url}, exitFailed, "job.failed"},
		{"bad param", []string{"publish", "power", "--server", "sim-01", "--action", "explode", url}, exitUsage, `unknown power action (--action) "explode": must be one of on, off`},
		{"param of another type", []string{"publish", "power", "--server", "sim-01", "--device", "pxe", url}, exitUsage, "params"},
		{"unknown type", []string{"publish", "reboot", "--server", "sim-01", url}, exitUsage, "must be one of"},
		{"no NATS", []string{"publish", "power", "--server", "sim-01", "--action", "on", "--nats-url=nats://127.0.0.1:1"}, exitUnreachable, "connect to NATS"},
		{"unknown flag", []string{"watch", "--colour", url}, exitUsage, "unknown flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := tinman(t, time.Minute, tt.args...)
			if code != tt.want || !strings.Contains(out+errOut, tt.says) {
				t.Errorf("exit %d (want %d); output %q %q, want it to say %q", code, tt.want, out, errOut, tt.says)
			}
		})
	}
}

func TestCLISimEnrolsAFleet(t *testing.T) {
	t.Parallel()
	redisURL, rdb := servicetest.Redis(t)
	code, out, errOut := tinman(t, 3*time.Second, "sim", "--count", "12", "--enroll", "--redis-url", redisURL, "--prefix", "load-", "--secret-key", testKeyText)
	if code != exitOK {
		t.Fatalf("sim exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "load-0012 127.0.0.1:") {
		t.Errorf("sim output lacks load-0012's address:\n%s", out)
	}
	if n := rdb.SCard(context.Background(), "tinman:servers").Val(); n != 12 {
		t.Errorf("%d servers enrolled, want 12", n)
	}
	if code, _, errOut := tinman(t, time.Second, "sim", "--count", "0"); code != exitUsage || !strings.Contains(errOut, "--count") {
		t.Errorf("sim --count 0: exit %d %q, want usage error naming --count", code, errOut)
	}
}

// A worker setting that makes no sense is exit 2 naming the flag, before
// anything is reached: from the command line and from TINMAN_ variables.
func TestWorkerRefusesNonsenseSettings(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ args []string }{
		{[]string{"worker", "--lease-ttl", "0s"}},
		{[]string{"worker", "--concurrency", "-1"}},
		{[]string{"worker", "--bmc-timeout", "-5s"}},
		{[]string{"worker", "--breaker-threshold", "0"}},
		{[]string{"worker", "--ipmi-min-interval", "-1s"}},
		{[]string{"worker", "--installer-image", "os/ubuntu"}},
		{[]string{"worker", "--boot-url", "10.0.2.2:8081"}},
	} {
		code, _, errOut := tinman(t, 10*time.Second, tt.args...)
		if code != exitUsage || !strings.Contains(errOut, tt.args[1]) {
			t.Errorf("tinman %v: exit %d %q, want 2 naming %s", tt.args, code, errOut, tt.args[1])
		}
	}
}
