package workers_test

import (
	"context"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/workers"
)

func TestLeaseOneOperationPerServer(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	bmc := &fakeBMC{state: jobs.PowerStateOff, hold: hold}
	e := setup(t, bmc)
	e.submit(t, "first", jobs.Power, `{"action":"on"}`)
	e.watch(t, "first", func(d events.JobData) bool { return d.State == jobs.StateRunning })
	e.submit(t, "second", jobs.Power, `{"action":"off"}`)

	// The second job waits for the server, says so once, and spends no attempt.
	waiting := e.watch(t, "second", func(d events.JobData) bool { return d.Step == "waiting-for-server" })
	if last := waiting[len(waiting)-1]; last.Message == "" || last.Attempt != 0 {
		t.Errorf("waiting event %+v: want the holder named and no attempt spent", last)
	}
	close(hold)
	first := e.events(t, "first")
	second := e.events(t, "second")
	if first[len(first)-1].State != jobs.StateSucceeded || second[len(second)-1].State != jobs.StateSucceeded {
		t.Fatalf("first ended %s, second %s: want both succeeded", first[len(first)-1].State, second[len(second)-1].State)
	}
	var progress int
	for _, d := range second {
		if d.Step == "waiting-for-server" {
			progress++
		}
		if d.State == jobs.StateRunning && d.Attempt != 1 {
			t.Errorf("second job started at attempt %d, want 1: waiting must not spend attempts", d.Attempt)
		}
	}
	if progress != 1 {
		t.Errorf("second job announced its wait %d times, want once", progress)
	}
	bmc.mu.Lock()
	defer bmc.mu.Unlock()
	if bmc.overlap {
		t.Error("two BMC operations on one server overlapped")
	}
}

func TestLeaseLostStopsBMCCalls(t *testing.T) {
	t.Parallel()
	bmc := &fakeBMC{state: jobs.PowerStateOff, hold: make(chan struct{})}
	// The rescue is kept out: it would take the job as lost (its lease
	// held by another, its task not yet in asynq's heartbeat) and hand it
	// to a new task before the worker finds its lease gone; that path is
	// rescue_test.go's.
	e := setupWith(t, bmc, func(c *workers.Config) { c.RescueInterval = time.Hour })
	e.submit(t, "robbed", jobs.Power, `{"action":"on"}`)
	e.watch(t, "robbed", func(d events.JobData) bool { return d.State == jobs.StateRunning })

	// Another holder takes the server, as after a long pause of this worker.
	ctx := context.Background()
	if err := e.rdb.Set(ctx, "tinman:lease:srv-1", "intruder", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	evs := e.watch(t, "robbed", func(d events.JobData) bool { return d.State == jobs.StateRetrying || d.State.Terminal() })
	last := evs[len(evs)-1]
	if last.Error == nil || last.Error.Code != workers.CodeLeaseLost || !last.Error.Retryable {
		t.Fatalf("after losing its lease the job reported %+v, want a retryable %s", last, workers.CodeLeaseLost)
	}
	calls := bmc.Calls()
	if len(calls) != 0 {
		t.Errorf("BMC calls after the lease was lost: %q, want none (the held call was cut off)", calls)
	}
	// The retry waits for the intruder and makes no call either.
	time.Sleep(time.Second)
	if calls := bmc.Calls(); len(calls) != 0 {
		t.Errorf("BMC calls while another holds the lease: %q", calls)
	}
}
