package events_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/events/eventstest"
	"github.com/tinmanhq/tinman/jobs"
)

// TestWatchFilter replays a mixed history through each filter. The last
// event matches every filter of the table, so each watch knows when to stop.
func TestWatchFilter(t *testing.T) {
	t.Parallel()
	e := setup(t)
	rejected, err := events.NewRejected(source, "job-r", "srv-b", []byte(`{"type":"nope"}`), jobs.Invalid("type", "unknown"))
	if err != nil {
		t.Fatal(err)
	}
	rejected.ID = "rejected-1"
	changed, err := events.New(source, events.ServerStateChanged, "srv-b", map[string]string{"state": "available"})
	if err != nil {
		t.Fatal(err)
	}
	changed.ID = "state-1"
	eventstest.Publish(t, e.pub, eventstest.JobEvent(t, events.JobQueued, "job-a", "srv-a", 1), eventstest.JobEvent(t, events.JobQueued, "job-b", "srv-b", 1))
	if err := e.pub.PublishRaw(eventstest.Context(t), "tinman.events.srv-a.job.queued", "garbage", []byte("not an event")); err != nil {
		t.Fatal(err)
	}
	eventstest.Publish(t, e.pub, eventstest.JobEvent(t, events.JobQueued, "job-d", "srv-a", 1), rejected, eventstest.JobEvent(t, events.JobStarted, "job-a", "srv-a", 2),
		changed, eventstest.JobEvent(t, events.JobFailed, "job-b", "srv-b", 2), eventstest.JobEvent(t, events.JobFailed, "job-a", "srv-a", 3))

	jobEvents := []string{"job.job-a.1", "job.job-b.1", "job.job-d.1", "job.job-a.2", "job.job-b.2", "job.job-a.3"}
	tests := []struct {
		name string
		f    events.Filter
		want []string
	}{
		{"all", events.Filter{}, []string{"job.job-a.1", "job.job-b.1", "job.job-d.1", "rejected-1", "job.job-a.2", "state-1", "job.job-b.2", "job.job-a.3"}},
		{"server", events.Filter{Server: "srv-a"}, []string{"job.job-a.1", "job.job-d.1", "job.job-a.2", "job.job-a.3"}},
		{"job", events.Filter{Job: "job-a"}, []string{"job.job-a.1", "job.job-a.2", "job.job-a.3"}},
		{"type", events.Filter{Type: "job.failed"}, []string{"job.job-b.2", "job.job-a.3"}},
		{"full type", events.Filter{Type: "tinman.job.failed"}, []string{"job.job-b.2", "job.job-a.3"}},
		{"kind", events.Filter{Type: "job"}, jobEvents},
		{"kind pattern", events.Filter{Type: "tinman.job.*"}, jobEvents},
		{"server and type", events.Filter{Server: "srv-a", Type: "job.failed"}, []string{"job.job-a.3"}},
		{"server, job and type", events.Filter{Server: "srv-a", Job: "job-a", Type: "job.*"}, []string{"job.job-a.1", "job.job-a.2", "job.job-a.3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.f.Since = time.Hour
			got := eventstest.IDs(eventstest.Collect(t, e.watcher, tt.f, eventstest.UntilID("job.job-a.3")))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Watch(%+v) = %v, want %v", tt.f, got, tt.want)
			}
		})
	}
}

// TestWatchSince publishes two events at least two seconds apart, then
// replays from a point halfway between them, and from before both.
func TestWatchSince(t *testing.T) {
	t.Parallel()
	e := setup(t)
	eventstest.Publish(t, e.pub, eventstest.JobEvent(t, events.JobQueued, "job-old", "srv-1", 1))
	oldAt := storedAt(t, e, 1)
	for time.Since(oldAt) < 2*time.Second {
		time.Sleep(50 * time.Millisecond)
	}
	eventstest.Publish(t, e.pub, eventstest.JobEvent(t, events.JobQueued, "job-new", "srv-1", 1))
	newAt := storedAt(t, e, 2)
	tests := []struct {
		name  string
		since func() time.Duration
		want  []string
	}{
		{"shorter than the old event's age", func() time.Duration { return time.Since(newAt) + newAt.Sub(oldAt)/2 }, []string{"job.job-new.1"}},
		{"longer than the old event's age", func() time.Duration { return time.Since(oldAt) + time.Minute }, []string{"job.job-old.1", "job.job-new.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := eventstest.IDs(eventstest.Collect(t, e.watcher, events.Filter{Since: tt.since()}, eventstest.UntilID("job.job-new.1")))
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// storedAt is the time JetStream stored the message at seq.
func storedAt(t *testing.T, e env, seq uint64) time.Time {
	t.Helper()
	msg, err := eventstest.Stream(t, e.js).GetMsg(eventstest.Context(t), seq)
	if err != nil {
		t.Fatal(err)
	}
	return msg.Time
}

func TestWatchAfterSeq(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for seq := int64(1); seq <= 3; seq++ {
		eventstest.Publish(t, e.pub, eventstest.JobEvent(t, events.JobProgress, "job-1", "srv-1", seq))
	}
	all := eventstest.Collect(t, e.watcher, events.Filter{Since: time.Hour}, eventstest.UntilID("job.job-1.3"))
	if len(all) != 3 {
		t.Fatalf("history = %v", eventstest.IDs(all))
	}
	tests := []struct {
		name string
		f    events.Filter
		want []string
	}{
		{"after the first", events.Filter{AfterSeq: all[0].StreamSeq}, []string{"job.job-1.2", "job.job-1.3"}},
		{"after the second", events.Filter{AfterSeq: all[1].StreamSeq}, []string{"job.job-1.3"}},
		{"wins over since", events.Filter{AfterSeq: all[0].StreamSeq, Since: time.Nanosecond}, []string{"job.job-1.2", "job.job-1.3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := eventstest.Collect(t, e.watcher, tt.f, eventstest.UntilID("job.job-1.3"))
			if !slices.Equal(eventstest.IDs(got), tt.want) || got[0].StreamSeq != tt.f.AfterSeq+1 {
				t.Errorf("Watch(%+v) = %v from stream seq %d, want %v", tt.f, eventstest.IDs(got), got[0].StreamSeq, tt.want)
			}
		})
	}
}

// The zero Filter follows new events only: history stays behind.
func TestWatchNewOnly(t *testing.T) {
	t.Parallel()
	e := setup(t)
	eventstest.Publish(t, e.pub, eventstest.JobEvent(t, events.JobQueued, "job-old", "srv-1", 1))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var first string // written by the callback, read once the watch has returned
	done := make(chan error, 1)
	go func() {
		done <- e.watcher.Watch(ctx, events.Filter{}, func(d events.Delivered) error {
			first = d.ID
			return events.ErrStopWatching
		})
	}()
	// The watch starts in its own time: publish until it has seen something.
	for seq := int64(1); seq <= 300; seq++ {
		eventstest.Publish(t, e.pub, eventstest.JobEvent(t, events.JobProgress, "job-new", "srv-1", seq))
		select {
		case err := <-done:
			if err != nil || !strings.HasPrefix(first, "job.job-new.") {
				t.Errorf("Watch() = %v with first event %q, want nil after a new event: history stays behind", err, first)
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatal("the watch saw none of 300 new events")
}

func TestWatchCallbackError(t *testing.T) {
	t.Parallel()
	e := setup(t)
	eventstest.Publish(t, e.pub, eventstest.JobEvent(t, events.JobQueued, "job-1", "srv-1", 1))
	boom := errors.New("boom")
	tests := []struct {
		name string
		ret  error
		want error
	}{
		{"stop watching", events.ErrStopWatching, nil},
		{"wrapped stop watching", fmt.Errorf("done: %w", events.ErrStopWatching), nil},
		{"other error", boom, boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			calls := 0
			err := e.watcher.Watch(eventstest.Context(t), events.Filter{Since: time.Hour}, func(events.Delivered) error {
				calls++
				return tt.ret
			})
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) || calls != 1 {
				t.Errorf("Watch() = %v after %d calls, want %v after 1", err, calls, tt.want)
			}
		})
	}
}

func TestWatchContextCancel(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx, cancel := context.WithCancel(t.Context())
	seen := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- e.watcher.Watch(ctx, events.Filter{}, func(events.Delivered) error {
			select {
			case seen <- struct{}{}:
			default:
			}
			return nil
		})
	}()
	// Publish until the watch is inside its loop, then cancel it there.
	for seq := int64(1); len(seen) == 0; seq++ {
		if seq > 300 {
			t.Fatal("the watch saw none of 300 events")
		}
		eventstest.Publish(t, e.pub, eventstest.JobEvent(t, events.JobProgress, "job-1", "srv-1", seq))
		select {
		case err := <-done:
			t.Fatalf("Watch() = %v before its context ended", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Watch() after cancel = %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Watch did not return within 30 s of its context ending")
	}
}

func TestWatchWithoutStream(t *testing.T) {
	t.Parallel()
	e := setup(t)
	if err := e.js.DeleteStream(eventstest.Context(t), events.EventsStream); err != nil {
		t.Fatal(err)
	}
	err := e.watcher.Watch(eventstest.Context(t), events.Filter{}, func(events.Delivered) error { return nil })
	if err == nil {
		t.Fatal("Watch() with no events stream = nil, want an error")
	}
}
