package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/events/eventstest"
)

// Run sweeps on its own: an event staged while NATS was down reaches the
// stream without anyone calling Flush or Send, and Run ends with its context.
func TestOutboxRun(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ob := newOutbox(t, e.rdb, e.pub, OutboxConfig{SweepInterval: 10 * time.Millisecond})
	mustAppend(eventstest.Context(t), t, ob, "job-1", 1)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- ob.Run(ctx) }()
	got := eventstest.Collect(t, e.watcher, events.Filter{Since: time.Hour}, eventstest.UntilID("job.job-1.1"))
	cancel()
	if err := <-done; err != nil || len(got) != 1 {
		t.Errorf("Run() = %v after %v", err, eventstest.IDs(got))
	}
}

// startRun runs ob.Run until the test ends, and returns a stop that cancels
// it and waits for it.
func startRun(t *testing.T, ob *Outbox) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- ob.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run() = %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// Events sent while Run runs are removed from Redis by Run's batches, with
// no sweep (its interval is an hour): nothing stays pending.
func TestOutboxRunRemovesSent(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := eventstest.Context(t)
	counted := redis.NewClient(e.rdb.Options())
	t.Cleanup(func() { _ = counted.Close() })
	hook := &scriptHook{}
	counted.AddHook(hook)
	ob := newOutbox(t, counted, e.pub, OutboxConfig{SweepInterval: time.Hour})
	startRun(t, ob)

	// Send until Run removes one in a batch: then it is surely running.
	probes := int64(0)
	for deadline := time.Now().Add(10 * time.Second); hook.pipelines.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("Run removed no sent event in a batch within 10 s")
		}
		probes++
		if err := ob.send(ctx, mustAppend(ctx, t, ob, "job-probe", probes)); err != nil {
			t.Fatalf("Send probe %d: %v", probes, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	const jobs, n = 5, 20
	var wg sync.WaitGroup
	for j := range jobs {
		wg.Go(func() {
			job := fmt.Sprintf("job-%d", j)
			for seq := int64(1); seq <= n; seq++ {
				s, err := appendSeq(ctx, t, ob, job, seq)
				if err == nil {
					err = ob.send(ctx, s)
				}
				if err != nil {
					t.Errorf("%s.%d: %v", job, seq, err)
					return
				}
			}
		})
	}
	wg.Wait()
	waitPending(t, ob, 0, 10*time.Second)
	got := eventstest.Stored(t, e.js)
	checkSeqs(t, ofJob(got, "job-probe"), "job-probe", int(probes))
	for j := range jobs {
		job := fmt.Sprintf("job-%d", j)
		checkSeqs(t, ofJob(got, job), job, n)
		if l := stagedLen(t, e.rdb, job); l != 0 {
			t.Errorf("%d events of %s left staged", l, job)
		}
	}
}

// waitPending waits, up to limit, until ob has want pending streams.
func waitPending(t *testing.T, ob *Outbox, want int64, limit time.Duration) {
	t.Helper()
	var p int64
	var err error
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if p, err = ob.Pending(eventstest.Context(t)); err == nil && p == want {
			return
		}
	}
	t.Fatalf("Pending() = %d, %v after %s; want %d", p, err, limit, want)
}

// An event published whose removal from Redis never happened (Redis refused
// it, or the process stopped first) is sent again by the sweep, and
// JetStream drops the duplicate: the stream holds it exactly once.
func TestOutboxSweepResendsLeftBehind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		batch bool // removal left to Run's batches
	}{
		{"removal fails", false},
		{"batched removal fails", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			ctx := eventstest.Context(t)
			broken := redis.NewClient(e.rdb.Options())
			t.Cleanup(func() { _ = broken.Close() })
			broken.AddHook(&scriptHook{fail: true})
			ob := newOutbox(t, broken, e.pub, OutboxConfig{SweepInterval: time.Hour})
			var left int
			if tt.batch {
				left = sendUntilBatched(t, e, ob)
			} else {
				err := ob.send(ctx, mustAppend(ctx, t, e.outbox, "job-1", 1))
				if err == nil {
					t.Fatal("Send with removal refused = nil, want the removal's error")
				}
				left = 1
			}
			checkPending(t, e.outbox, int64(left))
			if n := len(eventstest.Stored(t, e.js)); n != left {
				t.Fatalf("stream holds %d events before the sweep, want %d: Send published them", n, left)
			}
			if err := e.outbox.Sweep(ctx); err != nil {
				t.Fatalf("Sweep: %v", err)
			}
			checkPending(t, e.outbox, 0)
			got := eventstest.Stored(t, e.js)
			for i := 1; i <= left; i++ {
				job := fmt.Sprintf("job-%d", i)
				checkSeqs(t, ofJob(got, job), job, 1)
			}
			if len(got) != left {
				t.Errorf("stream holds %v, want job-1.1 to job-%d.1 once each", eventstest.IDs(got), left)
			}
		})
	}
}

// sendUntilBatched runs ob (whose removals all fail) and sends the first
// event of job-1, job-2... until Send hands one to Run's batches (it returns
// nil only then), then stops Run. It returns how many jobs it sent.
func sendUntilBatched(t *testing.T, e env, ob *Outbox) int {
	t.Helper()
	ctx := eventstest.Context(t)
	stop := startRun(t, ob)
	defer stop()
	for i, deadline := 1, time.Now().Add(10*time.Second); time.Now().Before(deadline); i++ {
		err := ob.send(ctx, mustAppend(ctx, t, e.outbox, fmt.Sprintf("job-%d", i), 1))
		if err == nil {
			return i
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("Send never handed its removal to Run within 10 s")
	return 0
}

// scriptHook counts pipelines of removals (popHead: Run's batches; appends
// are pipelined too, and go-redis pipelines a connection's setup); with
// fail, it refuses every script, alone or pipelined, so that nothing sent
// is ever removed.
type scriptHook struct {
	fail      bool
	pipelines atomic.Int64
}

var errRefused = errors.New("refused by the test")

func isScript(cmd redis.Cmder) bool { return cmd.Name() == "eval" || cmd.Name() == "evalsha" }

// isPop reports whether cmd runs popHead.
func isPop(cmd redis.Cmder) bool {
	args := cmd.Args()
	return cmd.Name() == "evalsha" && len(args) > 1 && args[1] == popHead.Hash()
}

func (h *scriptHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *scriptHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !slices.ContainsFunc(cmds, isScript) {
			return next(ctx, cmds)
		}
		if slices.ContainsFunc(cmds, isPop) {
			h.pipelines.Add(1)
		}
		if h.fail {
			for _, cmd := range cmds {
				cmd.SetErr(errRefused)
			}
			return errRefused
		}
		return next(ctx, cmds)
	}
}

func (h *scriptHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.fail && isScript(cmd) {
			cmd.SetErr(errRefused)
			return errRefused
		}
		return next(ctx, cmd)
	}
}

// Run's batched removals load popHead again when Redis lost its scripts
// (restarted, SCRIPT FLUSH): the sent events still leave Redis.
func TestOutboxRunRemovesSentAfterScriptFlush(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := eventstest.Context(t)
	ob := newOutbox(t, e.rdb, e.pub, OutboxConfig{SweepInterval: time.Hour})
	startRun(t, ob)
	for seq := int64(1); seq <= 3; seq++ {
		s := mustAppend(ctx, t, ob, "job-flush", seq)
		if err := e.rdb.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if err := ob.send(ctx, s); err != nil {
			t.Fatalf("send %d: %v", seq, err)
		}
	}
	waitPending(t, ob, 0, 10*time.Second)
	if l := stagedLen(t, e.rdb, "job-flush"); l != 0 {
		t.Errorf("%d events of job-flush left staged", l)
	}
	checkSeqs(t, ofJob(eventstest.Stored(t, e.js), "job-flush"), "job-flush", 3)
}
