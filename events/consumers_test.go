package events_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/events/eventstest"
)

// TestWatchDeletesItsConsumer ends 100 watches, by their callback and by
// their context: none leaves a consumer on TINMAN_EVENTS behind.
func TestWatchDeletesItsConsumer(t *testing.T) {
	t.Parallel()
	e := setup(t)
	eventstest.Publish(t, e.pub, eventstest.JobEvent(t, events.JobQueued, "job-a", "srv-a", 1))
	for i := range 100 {
		ctx, cancel := context.WithTimeout(eventstest.Context(t), 30*time.Second)
		var err error
		if i%2 == 0 { // the callback ends it
			err = e.watcher.Watch(ctx, events.Filter{Since: time.Hour}, func(events.Delivered) error { return events.ErrStopWatching })
		} else { // the context ends it, once the consumer exists
			err = e.watcher.Watch(ctx, events.Filter{Since: time.Hour}, func(events.Delivered) error { cancel(); return nil })
			if errors.Is(err, context.Canceled) {
				err = nil
			}
		}
		cancel()
		if err != nil {
			t.Fatalf("watch %d: %v", i, err)
		}
	}
	if n := consumers(t, e.js); len(n) != 0 {
		t.Errorf("%d consumers left after 100 watches: %v", len(n), n)
	}
}

// TestWatchNarrowsTheSubject checks the subject filter and the inactive
// threshold of the consumer while the watch runs: server and type are NATS's to match, and a job
// without a server is first located from its queued event.
func TestWatchNarrowsTheSubject(t *testing.T) {
	t.Parallel()
	e := setup(t)
	eventstest.Publish(t, e.pub, eventstest.JobEvent(t, events.JobQueued, "job-a", "srv-a", 1), eventstest.JobEvent(t, events.JobQueued, "job-b", "srv-b", 1),
		eventstest.JobEvent(t, events.JobFailed, "job-a", "srv-a", 2), eventstest.JobEvent(t, events.JobQueued, "deploy-1", "", 1))
	tests := []struct {
		f    events.Filter
		want string
	}{
		{events.Filter{Server: "srv-a"}, "tinman.events.srv-a.>"},
		{events.Filter{Server: "srv-a", Type: "job.failed"}, "tinman.events.srv-a.job.failed"},
		{events.Filter{Server: "srv-a", Job: "job-a"}, "tinman.events.srv-a.>"},
		{events.Filter{Job: "job-a"}, "tinman.events.srv-a.>"},
		{events.Filter{Job: "job-a", Type: "job"}, "tinman.events.srv-a.job.*"},
		{events.Filter{Job: "deploy-1", Server: events.NoServer}, "tinman.events._.>"},
	}
	for _, tt := range tests {
		tt.f.Since = time.Hour
		eventstest.Publish(t, e.pub, eventstest.JobEvent(t, events.JobProgress, "job-a", "srv-a", 3)) // something to stop at
		var filters [][]string
		ctx, cancel := context.WithTimeout(eventstest.Context(t), 30*time.Second)
		err := e.watcher.Watch(ctx, tt.f, func(events.Delivered) error {
			filters = filterSubjects(t, e.js)
			for _, info := range consumerInfos(t, e.js) {
				if info.Config.InactiveThreshold != events.WatchInactiveThreshold {
					t.Errorf("%+v: inactive threshold %s, want %s", tt.f, info.Config.InactiveThreshold, events.WatchInactiveThreshold)
				}
			}
			return events.ErrStopWatching
		})
		cancel()
		if err != nil {
			t.Fatalf("%+v: %v", tt.f, err)
		}
		if len(filters) != 1 || !slices.Equal(filters[0], []string{tt.want}) {
			t.Errorf("%+v: consumers' filters %v, want one of [%s]", tt.f, filters, tt.want)
		}
	}
}

// consumers lists the names of TINMAN_EVENTS's consumers.
func consumers(t *testing.T, js jetstream.JetStream) []string {
	t.Helper()
	var names []string
	for _, info := range consumerInfos(t, js) {
		names = append(names, info.Name)
	}
	return names
}

// filterSubjects lists the subject filters of TINMAN_EVENTS's consumers.
func filterSubjects(t *testing.T, js jetstream.JetStream) [][]string {
	t.Helper()
	var out [][]string
	for _, info := range consumerInfos(t, js) {
		fs := info.Config.FilterSubjects
		if info.Config.FilterSubject != "" {
			fs = append(fs, info.Config.FilterSubject)
		}
		out = append(out, fs)
	}
	return out
}

func consumerInfos(t *testing.T, js jetstream.JetStream) []*jetstream.ConsumerInfo {
	t.Helper()
	ctx := eventstest.Context(t)
	s, err := js.Stream(ctx, events.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.ConsumerInfo
	l := s.ListConsumers(ctx)
	for info := range l.Info() {
		out = append(out, info)
	}
	if err := l.Err(); err != nil {
		t.Fatalf("list consumers: %v", err)
	}
	return out
}
