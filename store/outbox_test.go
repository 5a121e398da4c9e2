package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/events/eventstest"
	"github.com/tinmanhq/tinman/servicetest"
)

// appendSeq stages stream's event number seq (after seq-1), with writes.
func appendSeq(ctx context.Context, t *testing.T, ob *Outbox, stream string, seq int64, writes ...Write) (Staged, error) {
	t.Helper()
	return ob.appendJob(ctx, stream, seq-1, eventstest.JobEvent(t, events.JobProgress, stream, "srv-1", seq), writes...)
}

// mustAppend is appendSeq that fails the test on an error.
func mustAppend(ctx context.Context, t *testing.T, ob *Outbox, stream string, seq int64, writes ...Write) Staged {
	t.Helper()
	s, err := appendSeq(ctx, t, ob, stream, seq, writes...)
	if err != nil {
		t.Fatalf("Append %s.%d: %v", stream, seq, err)
	}
	return s
}

// stagedLen is how many events wait in stream's outbox list. It reads the
// outbox's Redis layout (keys.go): no API counts them.
func stagedLen(t *testing.T, rdb *redis.Client, stream string) int64 {
	t.Helper()
	n, err := rdb.LLen(eventstest.Context(t), jobStream(stream).listKey()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func checkPending(t *testing.T, ob *Outbox, want int64) {
	t.Helper()
	if p, err := ob.Pending(eventstest.Context(t)); err != nil || p != want {
		t.Errorf("Pending() = %d, %v; want %d", p, err, want)
	}
}

// Append numbers a stream's events 1, 2, 3... and refuses an event whose
// prev is not the stream's last seq, staging nothing then.
func TestOutboxAppendSeq(t *testing.T) {
	t.Parallel()
	_, rdb := servicetest.Redis(t)
	ob := newOutbox(t, rdb, nil, OutboxConfig{})
	ctx := eventstest.Context(t)
	create := func(stream string) Write {
		return Write{Key: "rec:" + stream, Value: []byte("v"), TTL: time.Hour, Create: true}
	}
	tests := []struct {
		name   string
		before int64 // events appended first, 1..before, without writes
		writes func(stream string) []Write
		prev   int64
		want   error // nil: staged as prev+1
	}{
		{"first event", 0, nil, 0, nil},
		{"next event", 3, nil, 3, nil},
		{"fresh stream, prev ahead", 0, nil, 4, ErrSeqConflict},
		{"prev behind", 3, nil, 2, ErrSeqConflict},
		{"prev replayed", 3, nil, 0, ErrSeqConflict},
		{"prev ahead", 3, nil, 4, ErrSeqConflict},
		{"create starts anew", 3, func(s string) []Write { return []Write{create(s)} }, 0, nil},
		{"two writes do not start anew", 3, func(s string) []Write {
			return []Write{create(s), {Key: "other:" + s, Value: []byte("v"), TTL: time.Hour}}
		}, 0, ErrSeqConflict},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stream := fmt.Sprintf("job-%d", i)
			for seq := int64(1); seq <= tt.before; seq++ {
				mustAppend(ctx, t, ob, stream, seq)
			}
			var writes []Write
			if tt.writes != nil {
				writes = tt.writes(stream)
			}
			_, err := appendSeq(ctx, t, ob, stream, tt.prev+1, writes...)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Append(prev %d) = %v, want %v", tt.prev, err, tt.want)
			}
			wantLen, next := tt.before, tt.before+1 // refused: nothing staged, the stream goes on
			if err == nil {
				wantLen, next = tt.before+1, tt.prev+2
			}
			if n := stagedLen(t, rdb, stream); n != wantLen {
				t.Errorf("%d events staged, want %d", n, wantLen)
			}
			if _, err := appendSeq(ctx, t, ob, stream, next); err != nil {
				t.Errorf("then Append(prev %d) = %v, want the stream's next event", next-1, err)
			}
		})
	}
}

// A Create write fails the whole append when its key exists: no record is
// written, no event staged, and the stream's numbering goes on.
func TestOutboxAppendCreateExists(t *testing.T) {
	t.Parallel()
	_, rdb := servicetest.Redis(t)
	ob := newOutbox(t, rdb, nil, OutboxConfig{})
	ctx := eventstest.Context(t)
	first := Write{Key: "rec:job-1", Value: []byte("first"), TTL: time.Hour, Create: true}
	mustAppend(ctx, t, ob, "job-1", 1, first)
	mustAppend(ctx, t, ob, "job-1", 2)
	again := Write{Key: "rec:job-1", Value: []byte("second"), TTL: time.Hour, Create: true}
	side := Write{Key: "side:job-1", Value: []byte("side"), TTL: time.Hour}
	for _, writes := range [][]Write{{again}, {side, again}} {
		if _, err := appendSeq(ctx, t, ob, "job-1", 1, writes...); !errors.Is(err, ErrExists) {
			t.Errorf("Append(%d writes) on an existing record = %v, want ErrExists", len(writes), err)
		}
	}
	if v, err := rdb.Get(ctx, "rec:job-1").Result(); err != nil || v != "first" {
		t.Errorf("record = %q, %v; want the first", v, err)
	}
	if n, err := rdb.Exists(ctx, "side:job-1").Result(); err != nil || n != 0 {
		t.Errorf("a refused append wrote its other record (%d, %v)", n, err)
	}
	if n := stagedLen(t, rdb, "job-1"); n != 2 {
		t.Errorf("%d events staged, want 2", n)
	}
	mustAppend(ctx, t, ob, "job-1", 3)
	checkPending(t, ob, 1)
}

// The records are written with the event, with their TTL.
func TestOutboxAppendWrites(t *testing.T) {
	t.Parallel()
	_, rdb := servicetest.Redis(t)
	ob := newOutbox(t, rdb, nil, OutboxConfig{})
	ctx := eventstest.Context(t)
	mustAppend(ctx, t, ob, "job-1", 1,
		Write{Key: "a:job-1", Value: []byte(`{"a":1}`), TTL: time.Hour, Create: true},
		Write{Key: "b:job-1", Value: []byte("b"), TTL: 90 * time.Second})
	mustAppend(ctx, t, ob, "job-1", 2, Write{Key: "a:job-1", Value: []byte(`{"a":2}`), TTL: 2 * time.Hour})
	for key, want := range map[string]struct {
		value string
		ttl   time.Duration
	}{"a:job-1": {`{"a":2}`, 2 * time.Hour}, "b:job-1": {"b", 90 * time.Second}} {
		v, err := rdb.Get(ctx, key).Result()
		ttl := rdb.TTL(ctx, key).Val()
		if err != nil || v != want.value || ttl <= want.ttl-time.Minute || ttl > want.ttl {
			t.Errorf("%s = %q (ttl %s), %v; want %q (ttl %s)", key, v, ttl, err, want.value, want.ttl)
		}
	}
}

func TestOutboxSendInOrder(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := eventstest.Context(t)
	const n = 5
	for seq := int64(1); seq <= n; seq++ {
		if err := e.outbox.send(ctx, mustAppend(ctx, t, e.outbox, "job-1", seq)); err != nil {
			t.Fatalf("Send seq %d: %v", seq, err)
		}
	}
	got := eventstest.Collect(t, e.watcher, events.Filter{Job: "job-1", Since: time.Hour}, eventstest.UntilID("job.job-1.5"))
	checkSeqs(t, got, "job-1", n)
	checkPending(t, e.outbox, 0)
	if l := stagedLen(t, e.rdb, "job-1"); l != 0 {
		t.Errorf("%d events left staged", l)
	}
}

// Send of an event queued behind others (their send failed) flushes the
// stream in order: the earlier events reach the stream first.
func TestOutboxSendFlushesBacklog(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := eventstest.Context(t)
	mustAppend(ctx, t, e.outbox, "job-1", 1)
	mustAppend(ctx, t, e.outbox, "job-1", 2)
	if err := e.outbox.send(ctx, mustAppend(ctx, t, e.outbox, "job-1", 3)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	checkSeqs(t, eventstest.Stored(t, e.js), "job-1", 3)
	checkPending(t, e.outbox, 0)
}

// checkSeqs fails unless got is job's events 1..n, in order, once each.
func checkSeqs(t *testing.T, got []events.Delivered, job string, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("%d events %v, want %d", len(got), eventstest.IDs(got), n)
	}
	for i, d := range got {
		data, err := d.JobData()
		if want := events.JobEventID(job, int64(i+1)); err != nil || d.ID != want || data.Seq != int64(i+1) {
			t.Errorf("event %d = %s seq %d (%v), want %s", i, d.ID, data.Seq, err, want)
		}
	}
}

// Writers racing to append to one stream: each seq is won by exactly one,
// and the winners' sends, concurrent too, publish 1..n in order, once each.
func TestOutboxConcurrentAppend(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := eventstest.Context(t)
	const writers, n = 4, 40
	var wins [n + 1]atomic.Int32
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for seq := int64(1); seq <= n; seq++ {
				s, err := appendSeq(ctx, t, e.outbox, "job-1", seq)
				if errors.Is(err, ErrSeqConflict) {
					continue
				}
				if err != nil {
					t.Errorf("Append seq %d: %v", seq, err)
					return
				}
				wins[seq].Add(1)
				if err := e.outbox.send(ctx, s); err != nil {
					t.Errorf("Send seq %d: %v", seq, err)
				}
			}
		})
	}
	wg.Wait()
	for seq := 1; seq <= n; seq++ {
		if w := wins[seq].Load(); w != 1 {
			t.Errorf("seq %d appended %d times, want once", seq, w)
		}
	}
	checkSeqs(t, eventstest.Stored(t, e.js), "job-1", n)
	checkPending(t, e.outbox, 0)
}

// Two processes flushing the same stream publish each event once and in
// order: JetStream drops the re-publish, pop-if-head keeps what the other
// has not sent. 100 events cross Flush's 64-entry page.
func TestOutboxConcurrentFlush(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := eventstest.Context(t)
	const n = 100
	for seq := int64(1); seq <= n; seq++ {
		mustAppend(ctx, t, e.outbox, "job-1", seq)
	}
	other := newOutbox(t, e.rdb, events.NewPublisher(e.js), OutboxConfig{})
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		ob := []*Outbox{e.outbox, other}[i%2]
		wg.Go(func() { errs[i] = ob.Flush(ctx, "job-1") })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Flush %d: %v", i, err)
		}
	}
	checkSeqs(t, eventstest.Stored(t, e.js), "job-1", n)
	checkPending(t, e.outbox, 0)
}

// A stream staged while Flush finds it empty must stay pending, or the sweep
// never sends its event. The hook appends between Flush's LRANGE, which
// finds the list empty, and its removal of the stream from the pending set.
func TestOutboxFlushRaceKeepsStreamPending(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := eventstest.Context(t)
	hooked := redis.NewClient(e.rdb.Options())
	t.Cleanup(func() { _ = hooked.Close() })
	var ran atomic.Bool
	hooked.AddHook(&afterEmptyRange{do: func() {
		ran.Store(true)
		if _, err := appendSeq(ctx, t, e.outbox, "job-1", 1); err != nil {
			t.Error(err)
		}
	}})
	racing := newOutbox(t, hooked, e.pub, OutboxConfig{})
	if err := racing.Flush(ctx, "job-1"); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if !ran.Load() {
		t.Fatal("the hook never ran: Flush no longer reads an empty list first, rewrite the test")
	}
	checkPending(t, e.outbox, 1)
	if err := e.outbox.Sweep(ctx); err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if got := eventstest.Stored(t, e.js); len(got) != 1 {
		t.Errorf("after a sweep the stream holds %v, want [job-1.1]: the staged event is lost to the sweep", eventstest.IDs(got))
	}
}

// afterEmptyRange runs do once, right after the first LRANGE that finds nothing.
type afterEmptyRange struct {
	once sync.Once
	do   func()
}

func (h *afterEmptyRange) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *afterEmptyRange) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *afterEmptyRange) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if c, ok := cmd.(*redis.StringSliceCmd); ok && cmd.Name() == "lrange" && err == nil && len(c.Val()) == 0 {
			h.once.Do(h.do)
		}
		return err
	}
}

// An append that meets a key of the wrong type writes nothing at all: the
// record, the counter and the outbox stay as they were (Redis does not roll
// back a script that fails half way, so the script checks first).
func TestOutboxAppendWrongTypeWritesNothing(t *testing.T) {
	t.Parallel()
	_, rdb := servicetest.Redis(t)
	ob := newOutbox(t, rdb, nil, OutboxConfig{})
	ctx := eventstest.Context(t)
	rdb.RPush(ctx, seqKey("job-w"), "not a counter")
	_, err := ob.appendJob(ctx, "job-w", 0, eventstest.JobEvent(t, events.JobQueued, "job-w", "srv-1", 1),
		Write{Key: "rec:job-w", Value: []byte("v"), TTL: time.Hour})
	if err == nil {
		t.Fatal("append over a list seq key succeeded")
	}
	if n := rdb.Exists(ctx, "rec:job-w", jobStream("job-w").listKey(), outboxPending).Val(); n != 0 {
		t.Errorf("a refused append wrote %d keys", n)
	}
}
