package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/natsembed"
	"github.com/tinmanhq/tinman/servicetest"
)

func TestVersionFlag(t *testing.T) {
	t.Parallel()
	code, out, _ := tinman(t, 5*time.Second, "--version")
	if code != exitOK || !strings.HasPrefix(out, "tinman "+version+" (commit ") {
		t.Errorf("--version: exit %d %q", code, out)
	}
}

func TestWatchRefusesATypeThatIsNoPattern(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{"bogus", "job.failed.x", ">.job"} {
		code, _, errOut := tinman(t, 5*time.Second, "watch", "--type", typ, "--nats-url", "nats://127.0.0.1:1")
		if code != exitUsage || !strings.Contains(errOut, "--type") {
			t.Errorf("watch --type %s: exit %d %q, want 2 naming --type", typ, code, errOut)
		}
	}
}

// A client that reaches a NATS with no Tinman streams says so, and what to
// do, instead of "no response from stream".
func TestClientOnAForeignNATS(t *testing.T) {
	t.Parallel()
	ns, err := natsembed.Start(natsembed.Config{Port: -1, StoreDir: t.TempDir(), Name: "foreign"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	for _, args := range [][]string{{"watch"}, {"publish", "power", "--server", "srv-1", "--action", "on"}} {
		code, _, errOut := tinman(t, 20*time.Second, append(args, "--nats-url", ns.URL())...)
		if code != exitUnreachable || !strings.Contains(errOut, "has no Tinman streams") || !strings.Contains(errOut, "tinman dev") {
			t.Errorf("%v on a foreign NATS: exit %d %q", args, code, errOut)
		}
	}
}

// A second `tinman dev` does not take the context file of one that runs.
func TestDevRefusesALiveContextFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dev.json")
	data, _ := json.Marshal(devContext{NATSURL: "nats://127.0.0.1:1", APIURL: "http://127.0.0.1:1", PID: os.Getppid()})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TINMAN_CONTEXT", path)
	code, _, errOut := tinman(t, 20*time.Second, "dev", "--http-addr", "127.0.0.1:0", "--nats-port", "-1")
	if code != exitUsage || !strings.Contains(errOut, "another tinman dev") || !strings.Contains(errOut, "TINMAN_CONTEXT") {
		t.Errorf("dev beside a live one: exit %d %q", code, errOut)
	}
	if after, _ := os.ReadFile(path); string(after) != string(data) {
		t.Errorf("the live dev's context file changed: %s", after)
	}
}

// `jobs watch` attaches to a job and exits with its outcome.
func TestJobsWatchExitsWithTheOutcome(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	o := operator{t, startDev(t, redisURL, 2)}
	o.ok("publish", "power", "--server", "sim-01", "--action", "on", "--id", "watch-ok")
	dispatched(t, o, "watch-ok")
	if out := o.ok("jobs", "watch", "watch-ok"); !strings.Contains(out, "succeeded") {
		t.Errorf("jobs watch of a job that succeeds:\n%s", out)
	}
	o.s.sim(t, "sim-02").Faults().SetAuthFailure(true)
	o.ok("publish", "power", "--server", "sim-02", "--action", "on", "--id", "watch-failed")
	dispatched(t, o, "watch-failed")
	code, out, errOut := o.run("jobs", "watch", "watch-failed", "--json")
	if code != exitFailed || !strings.Contains(errOut, "ended failed") || !strings.Contains(out, `"type":"tinman.job.failed"`) {
		t.Errorf("jobs watch of a job that fails: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut := o.run("jobs", "watch", "no-such-job"); code != exitUsage || !strings.Contains(errOut, "404") {
		t.Errorf("jobs watch of no job: exit %d %q", code, errOut)
	}
}

// dispatched waits until a job published on NATS has its record (the
// dispatcher made it), 30 s at most.
func dispatched(t *testing.T, o operator, id string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		code, _, errOut := o.run("jobs", "show", id)
		if code == exitOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s has no record after 30 s: %s", id, errOut)
		}
	}
}
