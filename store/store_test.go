package store_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

// Accept stores the job with its queued event (seq 1), which it sends. A
// second Accept of the id returns the stored job, stages nothing and leaves
// the numbering alone.
func TestAccept(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := testContext(t)
	first := newJob("job-1")
	got, enqueue, err := e.store.Accept(ctx, first)
	if err != nil || !enqueue || got.ID != "job-1" || got.State != jobs.StateQueued || got.Seq != 1 {
		t.Fatalf("first Accept = %+v, %t, %v; want queued at seq 1, enqueue", got, enqueue, err)
	}
	second := newJob("job-1")
	second.Type, second.Server, second.RequestedBy = jobs.Inspect, "srv-2", "someone-else"
	got, enqueue, err = e.store.Accept(ctx, second)
	if err != nil || !enqueue {
		t.Fatalf("second Accept = %t, %v; want the queued job, enqueue", enqueue, err)
	}
	if got.Type != jobs.Power || got.Server != "srv-1" || got.RequestedBy != "ops@example.com" || got.Seq != 1 ||
		!got.CreatedAt.Equal(first.CreatedAt) {
		t.Errorf("second Accept returned %+v, want the first job", got)
	}
	for server, want := range map[string]int{"srv-1": 1, "srv-2": 0} {
		if list, err := e.store.ListJobs(ctx, store.JobFilter{Server: server}); err != nil || len(list) != want {
			t.Errorf("jobs of %s: %d, %v; want %d: the second Accept named srv-2, but the job is srv-1's", server, len(list), err, want)
		}
	}
	if read, err := e.store.Job(ctx, "job-1"); err != nil || read.Server != "srv-1" || read.Seq != 1 ||
		string(read.Params) != `{"action":"cycle"}` {
		t.Errorf("Job() = %+v, %v", read, err)
	}
	if n := staged(t, e, "job-1"); n != 0 {
		t.Errorf("%d events staged, want none: the queued event is sent", n)
	}
	checkPublished(t, e, "job-1", events.JobQueued)
	if _, err := e.store.Record(ctx, &got, events.JobStarted, events.Detail{}); err != nil || got.Seq != 2 {
		t.Errorf("Record after two Accepts = seq %d, %v; want seq 2", got.Seq, err)
	}
}

// Accepts of one new job racing: one creates it, every one returns it
// queued, and the queued event is staged and published once.
func TestAcceptConcurrent(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := testContext(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			got, enqueue, err := e.store.Accept(ctx, newJob("job-1"))
			if err != nil || !enqueue || got.State != jobs.StateQueued || got.Seq != 1 {
				t.Errorf("Accept #%d = %s seq %d, %t, %v; want queued at seq 1, enqueue", i, got.State, got.Seq, enqueue, err)
			}
		})
	}
	wg.Wait()
	if n := staged(t, e, "job-1"); n != 0 {
		t.Errorf("%d events staged, want none", n)
	}
	checkPublished(t, e, "job-1", events.JobQueued)
}

// With NATS down, Accept still stores the job and its queued event; an
// Accept again stages nothing more, and the flush publishes the event once.
func TestAcceptWithoutNATS(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := testContext(t)
	offline := newOfflineStore(t, e)
	for call := 1; call <= 2; call++ {
		got, enqueue, err := offline.Accept(ctx, newJob("job-1"))
		if err != nil || !enqueue || got.State != jobs.StateQueued {
			t.Fatalf("Accept #%d with NATS down = %s, %t, %v; want queued, enqueue", call, got.State, enqueue, err)
		}
		if n := staged(t, e, "job-1"); n != 1 {
			t.Fatalf("after Accept #%d, %d events staged; want the queued event once", call, n)
		}
	}
	if err := e.store.Flush(ctx, "job-1"); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	checkPublished(t, e, "job-1", events.JobQueued)
}

// recordTypes is the event that takes a job into each state.
var recordTypes = map[jobs.State]events.Type{
	jobs.StateRunning: events.JobStarted, jobs.StateRetrying: events.JobRetrying, jobs.StateSucceeded: events.JobSucceeded,
	jobs.StateFailed: events.JobFailed, jobs.StateCanceled: events.JobCanceled,
}

func TestAcceptPastQueued(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, state := range []jobs.State{jobs.StateRunning, jobs.StateRetrying, jobs.StateSucceeded, jobs.StateFailed, jobs.StateCanceled} {
		t.Run(string(state), func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			job, _, err := e.store.Accept(ctx, newJob("job-"+string(state)))
			if err != nil {
				t.Fatal(err)
			}
			job.State = state
			if recordTypes[state].Terminal() {
				job.Result = json.RawMessage(`{}`)
			}
			if _, err := e.store.Record(ctx, &job, recordTypes[state], events.Detail{}); err != nil {
				t.Fatal(err)
			}
			got, enqueue, err := e.store.Accept(ctx, newJob(job.ID))
			if err != nil || enqueue || got.State != state || got.Seq != 2 {
				t.Errorf("Accept = %s seq %d, %t, %v; want %s seq 2, no enqueue", got.State, got.Seq, enqueue, err, state)
			}
			if n := staged(t, e, job.ID); n != 0 {
				t.Errorf("%d events staged for a job past the queue", n)
			}
			checkPublished(t, e, job.ID, events.JobQueued, recordTypes[state])
		})
	}
}

func TestJobNotFound(t *testing.T) {
	t.Parallel()
	e := setup(t)
	_, err := e.store.Job(testContext(t), "job-missing")
	var je *jobs.Error
	if !errors.As(err, &je) || je.Code != jobs.CodeNotFound {
		t.Errorf("Job(missing) = %v, want a jobs.Error with code not_found", err)
	}
}

// Record numbers a job's events after the queued one and publishes them in order.
func TestRecordPublishesInOrder(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := testContext(t)
	job, _, err := e.store.Accept(ctx, newJob("job-1"))
	if err != nil {
		t.Fatal(err)
	}
	retryAt := time.Now().Add(time.Minute)
	steps := []struct {
		typ    events.Type
		state  jobs.State
		detail events.Detail
	}{
		{events.JobStarted, jobs.StateRunning, events.Detail{Provider: "redfish"}},
		{events.JobRetrying, jobs.StateRetrying, events.Detail{NextAttemptAt: retryAt}},
		{events.JobProgress, jobs.StateRunning, events.Detail{Step: "power-on"}},
		{events.JobSucceeded, jobs.StateSucceeded, events.Detail{}},
	}
	for i, s := range steps {
		job.State, job.Attempt = s.state, i+1
		if s.state == jobs.StateSucceeded {
			job.Result = json.RawMessage(`{"power_state":"on"}`)
		}
		before := job.UpdatedAt
		ev, err := e.store.Record(ctx, &job, s.typ, s.detail)
		if want := fmt.Sprintf("job.job-1.%d", i+2); err != nil || ev.ID != want {
			t.Fatalf("Record %s = %s, %v; want %s", s.typ, ev.ID, err, want)
		}
		if job.Seq != int64(i+2) || !job.UpdatedAt.After(before) {
			t.Errorf("after Record %s the job has seq %d, updated %s (was %s); want seq %d, updated later",
				s.typ, job.Seq, job.UpdatedAt, before, i+2)
		}
	}
	checkPublished(t, e, "job-1", events.JobQueued, events.JobStarted, events.JobRetrying, events.JobProgress, events.JobSucceeded)
	got, err := e.store.Job(ctx, "job-1")
	if err != nil || got.State != jobs.StateSucceeded || got.Attempt != 4 || got.Seq != 5 || !got.UpdatedAt.Equal(job.UpdatedAt) {
		t.Errorf("Job() = %+v, %v; want the last recorded state", got, err)
	}
	if p, err := e.outbox.Pending(ctx); err != nil || p != 0 {
		t.Errorf("Pending() = %d, %v; want 0", p, err)
	}
}

// checkPublished fails unless the job's events in the stream are types, with seq 1..n.
func checkPublished(t *testing.T, e env, jobID string, types ...events.Type) {
	t.Helper()
	got := published(t, e, jobID)
	if len(got) != len(types) {
		t.Fatalf("%d events published for %s, want %d", len(got), jobID, len(types))
	}
	for i, ev := range got {
		d, err := ev.JobData()
		if err != nil || ev.Type != types[i] || d.Seq != int64(i+1) || ev.ID != events.JobEventID(jobID, int64(i+1)) {
			t.Errorf("event %d = %s %s seq %d (%v), want %s seq %d", i, ev.ID, ev.Type, d.Seq, err, types[i], i+1)
		}
		if (d.Result != nil) != ev.Type.Terminal() {
			t.Errorf("event %s result %s: want one on terminal events only", ev.ID, d.Result)
		}
	}
}

// With NATS unreachable Record still succeeds: the events are durable in
// the outbox, and the next flush publishes them, in order.
func TestRecordWithoutNATS(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := testContext(t)
	job, _, err := e.store.Accept(ctx, newJob("job-1"))
	if err != nil {
		t.Fatal(err)
	}
	offline := newOfflineStore(t, e)
	job.State = jobs.StateRunning
	for _, typ := range []events.Type{events.JobStarted, events.JobProgress} {
		if _, err := offline.Record(ctx, &job, typ, events.Detail{}); err != nil {
			t.Fatalf("Record %s with NATS down = %v, want nil", typ, err)
		}
	}
	if n := staged(t, e, "job-1"); n != 2 || job.Seq != 3 {
		t.Fatalf("%d events staged, job at seq %d; want started and progress, seq 3", n, job.Seq)
	}
	if err := e.store.Flush(ctx, "job-1"); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	checkPublished(t, e, "job-1", events.JobQueued, events.JobStarted, events.JobProgress)
}

// Once NATS is back, the next Record sends the events left staged first.
func TestRecordSendsBacklog(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := testContext(t)
	job, _, err := newOfflineStore(t, e).Accept(ctx, newJob("job-1"))
	if err != nil {
		t.Fatal(err)
	}
	job.State = jobs.StateRunning
	if _, err := e.store.Record(ctx, &job, events.JobStarted, events.Detail{}); err != nil {
		t.Fatal(err)
	}
	if n := staged(t, e, "job-1"); n != 0 {
		t.Errorf("%d events left staged", n)
	}
	checkPublished(t, e, "job-1", events.JobQueued, events.JobStarted)
}

// A copy of the job that is not at its last event (another Record came
// first) is refused with ErrSeqConflict: nothing written, nothing staged,
// the copy left as it was.
func TestRecordStaleCopy(t *testing.T) {
	t.Parallel()
	e := setup(t)
	tests := []struct {
		name string
		seq  int64 // of the copy; the job is at 2
	}{
		{"behind", 1},
		{"ahead", 3},
		{"never accepted", 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			job, _, err := e.store.Accept(ctx, newJob(fmt.Sprintf("job-%d", i)))
			if err != nil {
				t.Fatal(err)
			}
			stale := job
			job.State = jobs.StateRunning
			if _, err := e.store.Record(ctx, &job, events.JobStarted, events.Detail{}); err != nil {
				t.Fatal(err)
			}
			stale.Seq, stale.State = tt.seq, jobs.StateCanceled
			want := stale
			if _, err := e.store.Record(ctx, &stale, events.JobCanceled, events.Detail{}); !errors.Is(err, store.ErrSeqConflict) {
				t.Fatalf("Record on a copy at seq %d = %v, want ErrSeqConflict", tt.seq, err)
			}
			if stale.Seq != want.Seq || !stale.UpdatedAt.Equal(want.UpdatedAt) {
				t.Errorf("refused Record changed the copy: seq %d, updated %s", stale.Seq, stale.UpdatedAt)
			}
			if got, err := e.store.Job(ctx, job.ID); err != nil || got.State != jobs.StateRunning || got.Seq != 2 {
				t.Errorf("Job() = %s seq %d, %v; want running at seq 2", got.State, got.Seq, err)
			}
			if n := staged(t, e, job.ID); n != 0 {
				t.Errorf("%d events staged", n)
			}
			checkPublished(t, e, job.ID, events.JobQueued, events.JobStarted)
		})
	}
}

// Workers recording on copies of one job, each re-reading it after a
// conflict: every seq is won by exactly one Record, and the job's events
// are published 1..n, in order, without gaps.
func TestRecordConcurrent(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := testContext(t)
	if _, _, err := e.store.Accept(ctx, newJob("job-1")); err != nil {
		t.Fatal(err)
	}
	const workers, n = 4, 30
	var mu sync.Mutex
	wins := map[int64]int{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for {
				job, err := e.store.Job(ctx, "job-1")
				if err != nil || job.Seq >= n {
					if err != nil {
						t.Error(err)
					}
					return
				}
				job.State = jobs.StateRunning
				_, err = e.store.Record(ctx, &job, events.JobProgress, events.Detail{Message: fmt.Sprint(w)})
				if errors.Is(err, store.ErrSeqConflict) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				wins[job.Seq]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for seq := int64(2); seq <= n; seq++ {
		if wins[seq] != 1 {
			t.Errorf("seq %d recorded %d times, want once", seq, wins[seq])
		}
	}
	if len(wins) != n-1 {
		t.Errorf("recorded seqs %v, want 2..%d", wins, n)
	}
	want := []events.Type{events.JobQueued}
	for range n - 1 {
		want = append(want, events.JobProgress)
	}
	checkPublished(t, e, "job-1", want...)
	if p, err := e.outbox.Pending(ctx); err != nil || p != 0 {
		t.Errorf("Pending() = %d, %v; want 0", p, err)
	}
}

// Accept sends its append and the job's listing in one round trip; when
// Redis has lost its scripts (restarted, SCRIPT FLUSH) it loads the script
// and the job is accepted and listed all the same.
func TestAcceptAfterScriptFlush(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := testContext(t)
	if err := e.rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	job := newJob("job-after-flush")
	job.Server = "srv-flush"
	if got, enqueue, err := e.store.Accept(ctx, job); err != nil || !enqueue || got.Seq != 1 {
		t.Fatalf("Accept after SCRIPT FLUSH = %+v, %t, %v", got, enqueue, err)
	}
	if list, err := e.store.ListJobs(ctx, store.JobFilter{Server: "srv-flush"}); err != nil || len(list) != 1 || list[0].ID != job.ID {
		t.Errorf("jobs of srv-flush = %v, %v; want the job", list, err)
	}
	checkPublished(t, e, job.ID, events.JobQueued)
}
