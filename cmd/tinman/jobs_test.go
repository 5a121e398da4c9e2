package main

import (
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/api"
	"github.com/tinmanhq/tinman/client"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
)

// waitServerState polls `servers show` until the server is in state want.
func waitServerState(t *testing.T, o operator, id string, want jobs.ServerState) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		srv := decodeOutput[client.Server](t, o, "servers", "show", id)
		if srv.State == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server %s is %s after a minute, want %s", id, srv.State, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestJobsListShowCancelAndARefusedRemoval(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	// The installer never reports within the test: the provision waits.
	o := operator{t, startDevWith(t, redisURL, 2, func(c *devConfig) {
		c.InstallerDelay = 10 * time.Minute
		c.Worker.WaitPoll = 200 * time.Millisecond
	})}
	o.s.sim(t, "sim-01").SetPowerState("On")

	o.ok("publish", "provision", "--server", "sim-01", "--image", "ubuntu-24.04", "--id", "prov-held")
	o.ok("publish", "power", "--server", "sim-02", "--action", "status", "--id", "status-02", "--wait")
	waitServerState(t, o, "sim-01", jobs.ServerProvisioning)

	// A server a job holds cannot be removed: the operation failed, exit 1.
	code, _, errOut := o.run("servers", "remove", "sim-01")
	if code != exitFailed || !strings.Contains(errOut, "409 Conflict") || !strings.Contains(errOut, "provisioning") {
		t.Errorf("servers remove of a provisioning server: exit %d, stderr %q; want exit 1 saying why", code, errOut)
	}

	// list and show.
	out := o.ok("jobs", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[0], "ATTEMPT") {
		t.Errorf("jobs list:\n%s", out)
	}
	if out := o.ok("jobs", "list", "--server", "sim-02"); !strings.Contains(out, "status-02") || strings.Contains(out, "prov-held") ||
		!strings.Contains(out, "succeeded") || !strings.Contains(out, "power") {
		t.Errorf("jobs list --server sim-02:\n%s", out)
	}
	if list := decodeOutput[api.JobList](t, o, "jobs", "list", "--type", "provision", "--limit", "5"); len(list.Jobs) != 1 || list.Jobs[0].ID != "prov-held" {
		t.Errorf("jobs list --type provision -o json = %+v", list.Jobs)
	}
	out = o.ok("jobs", "show", "status-02")
	for _, want := range []string{"ID:", "status-02", "State:", "succeeded", `{"action":"status"}`, "Result:"} {
		if !strings.Contains(out, want) {
			t.Errorf("jobs show lacks %q:\n%s", want, out)
		}
	}
	if job := decodeOutput[jobs.Job](t, o, "jobs", "show", "prov-held"); job.State.Terminal() || job.Server != "sim-01" {
		t.Errorf("jobs show prov-held -o json = %+v, want it not ended yet", job)
	}

	// cancel --wait follows the job to its end: canceled is exit 0.
	code, out, errOut = o.run("jobs", "cancel", "prov-held", "--wait")
	if code != exitOK || !strings.Contains(out, "canceled") {
		t.Fatalf("jobs cancel --wait: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if job := decodeOutput[jobs.Job](t, o, "jobs", "show", "prov-held"); job.State != jobs.StateCanceled {
		t.Errorf("after cancel --wait the job is %s", job.State)
	}

	o.check([]exitCase{
		{"cancel an ended job", []string{"jobs", "cancel", "status-02"}, exitFailed, "already ended"},
		{"cancel an unknown job", []string{"jobs", "cancel", "no-such-job"}, exitUsage, "404 Not Found"},
		{"show an unknown job", []string{"jobs", "show", "no-such-job"}, exitUsage, "job no-such-job not found"},
		{"bad state", []string{"jobs", "list", "--state", "sleeping"}, exitUsage, `unknown job state (--state) "sleeping": must be one of`},
		{"bad type", []string{"jobs", "list", "--type", "reboot"}, exitUsage, `unknown job type (--type) "reboot": must be one of`},
		{"bad limit", []string{"jobs", "list", "--limit", "0"}, exitUsage, "limit (--limit)"},
		{"bad server", []string{"jobs", "list", "--server", "NOT_AN_ID"}, exitUsage, "server (--server)"},
		{"limit not a number", []string{"jobs", "list", "--limit", "many"}, exitUsage, "invalid argument"},
		{"two ids", []string{"jobs", "show", "a", "b"}, exitUsage, "needs one job ID"},
	})
	if code, _, errOut := tinman(t, 10*time.Second, "jobs", "retry", "x"); code != exitUsage || !strings.Contains(errOut, "unknown command") {
		t.Errorf("jobs retry: exit %d, %q; want a usage error", code, errOut)
	}
}

func TestJobsUnreachable(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"jobs", "list"}, {"jobs", "show", "x"}, {"jobs", "cancel", "x", "--wait"}} {
		code, _, errOut := tinman(t, 30*time.Second, append(args, "--api-url", "http://127.0.0.1:1")...)
		if code != exitUnreachable || !strings.Contains(errOut, "reach the API") {
			t.Errorf("tinman %s against a closed port: exit %d, %q; want exit 3", strings.Join(args, " "), code, errOut)
		}
	}
}
