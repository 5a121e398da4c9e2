package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/api"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
)

func TestDeployWaitFollowsBatchesToTheEnd(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	o := operator{t, startDevWith(t, redisURL, 4, fastInstaller)}

	// A rollout over a selector, two batches of two: exit 0.
	code, out, errOut := o.run("deploy", "--image", "ubuntu-24.04", "--selector", "fleet=sim", "--batch-size", "2", "--id", "roll-1", "--wait")
	if code != exitOK {
		t.Fatalf("deploy --wait: exit %d, stdout:\n%s\nstderr: %s", code, out, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if lines[0] != "roll-1" {
		t.Errorf("deploy printed %q first, want its job id", lines[0])
	}
	if n := strings.Count(out, "deploy.batch_started"); n != 2 {
		t.Errorf("deploy --wait showed %d batch starts, want 2:\n%s", n, out)
	}
	for _, want := range []string{"batch 1 of 2: sim-01, sim-02", "job.succeeded", "4 servers in 2 batches: 4 succeeded, 0 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("deploy --wait output lacks %q:\n%s", want, out)
		}
	}

	// The deploy and its provisions are jobs like any other.
	if out := o.ok("jobs", "list", "--type", "deploy"); !strings.Contains(out, "roll-1") || !strings.Contains(out, "succeeded") {
		t.Errorf("jobs list --type deploy:\n%s", out)
	}
	if list := decodeOutput[api.JobList](t, o, "jobs", "list", "--type", "provision", "--state", "succeeded"); len(list.Jobs) != 4 {
		t.Errorf("jobs list: %d succeeded provisions, want 4", len(list.Jobs))
	}
	if out := o.ok("jobs", "show", "roll-1"); !strings.Contains(out, "Deploy:") || !strings.Contains(out, "4 succeeded, 0 failed") {
		t.Errorf("jobs show of a deploy:\n%s", out)
	}
	o.check([]exitCase{{"cancel a finished deploy", []string{"jobs", "cancel", "roll-1"}, exitFailed, "already ended"}})

	// The same id again is the same deploy, not a second one.
	code, out, errOut = o.run("deploy", "--image", "ubuntu-24.04", "--selector", "fleet=sim", "--batch-size", "2", "--id", "roll-1", "-o", "json")
	var sub api.Submitted
	if code != exitOK || json.Unmarshal([]byte(out), &sub) != nil || sub.JobID != "roll-1" || sub.State != jobs.StateSucceeded ||
		!strings.Contains(errOut, "same job") {
		t.Errorf("deploy with a known id: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	// A rollout whose failures pass --max-failures halts: exit 1.
	// With --wait, a repeat of a deploy that ended says how it ended.
	code, out, errOut = o.run("deploy", "--image", "ubuntu-24.04", "--selector", "fleet=sim", "--batch-size", "2", "--id", "roll-1", "--wait")
	if code != exitOK || !strings.Contains(out, "deploy roll-1 succeeded: image ubuntu-24.04") {
		t.Errorf("deploy --wait with the id of an ended deploy: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	o.s.sim(t, "sim-03").Faults().SetAuthFailure(true)
	code, out, errOut = o.run("deploy", "--image", "debian-13", "--servers", "sim-03,sim-04", "--batch-size", "1", "--wait")
	if code != exitFailed {
		t.Fatalf("halting deploy --wait: exit %d, want 1; stdout:\n%s\nstderr: %s", code, out, errOut)
	}
	for _, want := range []string{"deploy.halted", "job.failed", "1 failed (sim-03)", "halted after batch 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("halting deploy output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "deploy.batch_started"); n != 1 {
		t.Errorf("the halted deploy started %d batches, want 1:\n%s", n, out)
	}
}

func TestDeployExitCodes(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	o := operator{t, startDev(t, redisURL, 1)}
	o.check([]exitCase{
		{"no image", []string{"deploy", "--servers", "sim-01"}, exitUsage, "--image is required"},
		{"no targets", []string{"deploy", "--image", "x"}, exitUsage, "either --selector"},
		{"both targets", []string{"deploy", "--image", "x", "--servers", "sim-01", "--selector", "a=b"}, exitUsage, "either --selector"},
		{"bad selector", []string{"deploy", "--image", "x", "--selector", "rack"}, exitUsage, "--selector \"rack\""},
		{"batch size 0", []string{"deploy", "--image", "x", "--servers", "sim-01", "--batch-size", "0"}, exitUsage, "params.batch_size (--batch-size): must be at least 1"},
		{"bad image", []string{"deploy", "--image", "   ", "--servers", "sim-01"}, exitUsage, "(--image)"},
		{"bad id", []string{"deploy", "--image", "x", "--servers", "sim-01", "--id", "-bad"}, exitUsage, "(--id)"},
		{"argument", []string{"deploy", "now", "--image", "x", "--servers", "sim-01"}, exitUsage, "unexpected argument"},
	})
	code, _, errOut := tinman(t, 30*time.Second, "deploy", "--image", "x", "--servers", "sim-01", "--api-url", "http://127.0.0.1:1")
	if code != exitUnreachable || !strings.Contains(errOut, "retry with --id") {
		t.Errorf("deploy against a closed port: exit %d, %q; want exit 3 with how to retry", code, errOut)
	}
}
