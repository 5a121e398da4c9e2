package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
	"github.com/tinmanhq/tinman/workers"
)

// deployResult is the plan a deploy keeps in its result, as jobs show -o json prints it.
func deployResult(t *testing.T, o operator, id string) (jobs.Job, workers.DeployPlan, map[string]any) {
	t.Helper()
	job := decodeOutput[jobs.Job](t, o, "jobs", "show", id)
	var plan workers.DeployPlan
	var raw map[string]any
	if json.Unmarshal(job.Result, &plan) != nil || json.Unmarshal(job.Result, &raw) != nil {
		t.Fatalf("deploy %s result %s", id, job.Result)
	}
	return job, plan, raw
}

// The deploy is woken by its jobs: with its poll an hour apart, each batch
// still ends when its last job does. --wait shows each job's state
// changes; the result reads cleanly.
func TestDeployWokenByItsJobs(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	o := operator{t, startDevWith(t, redisURL, 3, func(c *devConfig) {
		fastInstaller(c)
		c.Worker.DeployPoll = time.Hour
	})}
	code, out, errOut := o.run("deploy", "--image", "ubuntu-24.04", "--servers", "sim-01,sim-02,sim-03", "--batch-size", "2", "--id", "wake-1", "--wait")
	if code != exitOK {
		t.Fatalf("deploy --wait: exit %d, stdout:\n%s\nstderr: %s", code, out, errOut)
	}
	for _, want := range []string{"3 servers in 2 batches of 2", "batch 2 of 2: sim-03", "batch 2 of 2 done: 1 succeeded, 0 failed",
		"wake-1.sim-01", "wake-1.sim-03", "3 servers in 2 batches: 3 succeeded, 0 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("deploy --wait output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "batch-3") || strings.Contains(out, "batch 3") {
		t.Errorf("a 2-batch deploy names a third batch:\n%s", out)
	}
	_, plan, raw := deployResult(t, o, "wake-1")
	if _, ok := raw["started_at"]; ok || plan.Servers != 3 || plan.Batches != 2 || plan.Succeeded != 3 || len(plan.SucceededSample) != 3 {
		t.Errorf("result %+v (raw %v): want 3 servers, 2 batches, 3 succeeded, no started_at", plan, raw)
	}

	// One server, as NDJSON: every line a JSON object, the job's states among them.
	code, out, errOut = o.run("deploy", "--image", "ubuntu-24.04", "--servers", "sim-02", "--id", "wake-2", "--wait", "-o", "json")
	if code != exitOK {
		t.Fatalf("deploy --wait -o json: exit %d, stdout:\n%s\nstderr: %s", code, out, errOut)
	}
	dec := json.NewDecoder(strings.NewReader(out)) // the submission's answer, then the events, each JSON
	for dec.More() {
		var v map[string]any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("deploy --wait -o json printed something that is not JSON (%v):\n%s", err, out)
		}
	}
	for _, want := range []string{`1 server in 1 batch of 1`, `"job_id":"wake-2.sim-02"`, `tinman.job.succeeded`} {
		if !strings.Contains(out, want) {
			t.Errorf("deploy --wait -o json lacks %s:\n%s", want, out)
		}
	}
}

// A rejected job fails its batch at once, with the rejection's reason (the
// deploy's poll is an hour apart: the rejection wakes it), and is readable
// as a job; a deploy on servers another deploy holds is refused at once,
// naming it.
func TestDeployRejectedJobAndOverlap(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	s := startDevWith(t, redisURL, 3, func(c *devConfig) {
		c.InstallerDelay = time.Hour // provisions stay provisioning
		c.Worker.DeployPoll = time.Hour
	})
	o := operator{t, s}
	s.sim(t, "sim-01").SetPowerState("On")
	s.publish(t, "provision", "busy-1", `{"id":"busy-1","type":"provision","server":"sim-01","params":{"image":"ubuntu-24.04"}}`)
	waitServerState(t, o, "sim-01", jobs.ServerProvisioning)

	code, out, errOut := o.run("deploy", "--image", "ubuntu-24.04", "--servers", "sim-01", "--id", "rej-1", "--wait")
	if code != exitFailed {
		t.Fatalf("deploy onto a provisioning server: exit %d, want 1; stdout:\n%s\nstderr: %s", code, out, errOut)
	}
	for _, want := range []string{"request.rejected", "1 failure passed max_failures 0: sim-01 (", "provisioning", "1 failed (sim-01)"} {
		if !strings.Contains(out, want) {
			t.Errorf("halted deploy output lacks %q:\n%s", want, out)
		}
	}
	child := decodeOutput[jobs.Job](t, o, "jobs", "show", "rej-1.sim-01")
	if child.State != jobs.StateRejected || child.Error == nil || child.Error.Field != "server" {
		t.Errorf("jobs show of the rejected job: %+v", child)
	}
	_, plan, _ := deployResult(t, o, "rej-1")
	if len(plan.Failures) != 1 || plan.Failures[0].JobID != "rej-1.sim-01" || plan.Failures[0].State != jobs.StateRejected || plan.Failures[0].Message == "" {
		t.Errorf("the result's failures %+v, want the rejection with its reason", plan.Failures)
	}

	// A deploy holds its servers until it ends: rej-1 ended, so sim-01 is
	// free of holds; hold-1 runs on sim-02 (its installer never reports).
	o.ok("deploy", "--image", "ubuntu-24.04", "--servers", "sim-02", "--id", "hold-1")
	for job := decodeOutput[jobs.Job](t, o, "jobs", "show", "hold-1"); job.State == jobs.StateSubmitted; job = decodeOutput[jobs.Job](t, o, "jobs", "show", "hold-1") {
		time.Sleep(50 * time.Millisecond) // until its dispatcher has held sim-02
	}
	code, _, errOut = o.run("deploy", "--image", "ubuntu-24.04", "--servers", "sim-03,sim-02", "--id", "over-1")
	if code == exitOK || !strings.Contains(errOut, "server sim-02 is held by deploy hold-1") || !strings.Contains(errOut, "--servers") {
		t.Errorf("overlapping deploy: exit %d, stderr %q; want it refused naming hold-1 and --servers", code, errOut)
	}
	code, _, errOut = o.run("deploy", "--image", "ubuntu-24.04", "--servers", "sim-01", "--id", "after-1")
	if code != exitOK || strings.Contains(errOut, "held by") {
		t.Errorf("deploy on the servers of an ended deploy: exit %d, stderr %q", code, errOut)
	}
}

// At scale the result and the summary stay small: counts and the first 20
// of each, never every name.
func TestDeployResultAtScale(t *testing.T) {
	t.Parallel()
	const n = 24
	redisURL, _ := servicetest.Redis(t)
	o := operator{t, startDevWith(t, redisURL, n, fastInstaller)}
	o.s.sim(t, fmt.Sprintf("sim-%02d", n)).Faults().SetAuthFailure(true)
	code, out, errOut := o.run("deploy", "--image", "ubuntu-24.04", "--selector", "fleet=sim", "--batch-size", fmt.Sprint(n), "--max-failures", "1", "--id", "big-1", "--wait")
	if code != exitOK {
		t.Fatalf("deploy --wait: exit %d, stdout:\n%s\nstderr: %s", code, out, errOut)
	}
	for _, want := range []string{"batch 1 of 1: sim-01, sim-02", fmt.Sprintf("and %d more", n-20),
		fmt.Sprintf("%d servers in 1 batch: %d succeeded, 1 failed (sim-%02d)", n, n-1, n)} {
		if !strings.Contains(out, want) {
			t.Errorf("deploy --wait output lacks %q:\n%s", want, out)
		}
	}
	job, plan, _ := deployResult(t, o, "big-1")
	if plan.Succeeded != n-1 || len(plan.SucceededSample) != workers.SampleSize || plan.Failed != 1 || len(plan.Failures) != 1 ||
		plan.Failures[0].Code != jobs.CodeBMCAuthFailed {
		t.Errorf("result %+v", plan)
	}
	if len(job.Result) > 2000 {
		t.Errorf("the result of %d servers is %d bytes: %s", n, len(job.Result), job.Result)
	}
}
