package workers_test

import (
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/workers"
)

// A task that is not the one in charge of its job (the original of a job
// that a rescue handed to a new task, recovered late by asynq) does nothing:
// no event, no BMC call. The task in charge runs the job.
func TestOrphanedTaskDoesNothing(t *testing.T) {
	t.Parallel()
	e := setup(t, &fakeBMC{state: jobs.PowerStateOff})
	ctx := context.Background()
	policy := workers.DefaultRetryPolicy()
	req := jobs.Request{ID: "rescued-1", Type: jobs.Power, Server: "srv-1", Params: []byte(`{"action":"on"}`)}
	job, _, err := e.store.Accept(ctx, jobs.NewJob(req, policy.MaxAttempts(req.Type), time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	job.Task = "rescued-1~1"
	if _, err := e.store.Record(ctx, &job, events.JobProgress, events.Detail{Step: "rescued"}); err != nil {
		t.Fatal(err)
	}
	orphan, _ := workers.NewTask(job, policy, asynq.Retention(time.Hour))
	if _, err := e.queue.Enqueue(orphan); err != nil {
		t.Fatal(err)
	}
	waitCompleted(t, e, "rescued-1")
	if calls := e.bmc.Calls(); len(calls) != 0 {
		t.Fatalf("the orphaned task called the BMC: %v", calls)
	}
	inCharge, _ := workers.NewTask(job, policy, asynq.TaskID(job.Task))
	if _, err := e.queue.Enqueue(inCharge); err != nil {
		t.Fatal(err)
	}
	got := e.events(t, "rescued-1")
	if last := got[len(got)-1]; last.State != jobs.StateSucceeded || last.Seq != 4 {
		t.Errorf("events %+v, want queued, progress (rescued), started, succeeded: seq 4", got)
	}
}

// waitCompleted waits until asynq has finished task id without error.
func waitCompleted(t *testing.T, e *env, id string) {
	t.Helper()
	insp := asynq.NewInspectorFromRedisClient(e.rdb)
	for range 200 {
		if info, err := insp.GetTaskInfo("default", id); err == nil && info.State == asynq.TaskStateCompleted {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("task %s did not complete", id)
}

// A lifecycle job whose every attempt started and none ended (its workers
// died each time) fails attempts_exhausted and its server goes to error with
// the reason: it is not left provisioning until the watchdog's deadline.
func TestExhaustedLifecycleJobLeavesItsServerInError(t *testing.T) {
	t.Parallel()
	e := setup(t, &fakeBMC{state: jobs.PowerStateOff})
	ctx := context.Background()
	policy := workers.DefaultRetryPolicy()
	req := jobs.Request{ID: "worn-1", Type: jobs.Provision, Server: "srv-1", Params: []byte(`{"image":"u"}`)}
	job, _, err := e.store.Accept(ctx, jobs.NewJob(req, policy.MaxAttempts(req.Type), time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.TransitionServer(ctx, "srv-1", []jobs.ServerState{jobs.ServerAvailable}, jobs.ServerProvisioning, job.ID, "provision"); err != nil {
		t.Fatal(err)
	}
	job.State, job.Attempt = jobs.StateRunning, job.MaxAttempts // the last attempt's worker died too
	if _, err := e.store.Record(ctx, &job, events.JobStarted, events.Detail{}); err != nil {
		t.Fatal(err)
	}
	task, _ := workers.NewTask(job, policy)
	if _, err := e.queue.Enqueue(task); err != nil {
		t.Fatal(err)
	}
	got := e.events(t, "worn-1")
	if last := got[len(got)-1]; last.State != jobs.StateFailed || last.Error == nil || last.Error.Code != workers.CodeAttemptsExhausted {
		t.Fatalf("last event %+v, want failed attempts_exhausted", last)
	}
	srv, err := e.store.Server(ctx, "srv-1")
	if err != nil || srv.State != jobs.ServerError || srv.LastError == nil {
		t.Errorf("server after the exhausted job: %s %+v (%v), want error with the reason", srv.State, srv.LastError, err)
	}
}
