// Package eventstest helps tests that publish, watch and read Tinman's
// events on a real JetStream. Only tests import it.
package eventstest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
)

// Source is the CloudEvents source of the events these helpers make.
const Source = "/tinman/test"

// Streams creates the Tinman streams on js with storage.
func Streams(t testing.TB, js jetstream.JetStream, storage jetstream.StorageType) {
	t.Helper()
	c := events.DefaultStreamConfig()
	c.Storage = storage
	if err := events.EnsureStreams(Context(t), js, c); err != nil {
		t.Fatalf("EnsureStreams: %v", err)
	}
}

// Context bounds every wait of a test: nothing hangs for ever.
func Context(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// JobEvent returns the event of type typ for job id on server at seq.
func JobEvent(t testing.TB, typ events.Type, id, server string, seq int64) events.Event {
	t.Helper()
	job := jobs.Job{ID: id, Type: jobs.Power, Server: server, State: jobs.StateQueued, MaxAttempts: 3}
	ev, err := events.NewJobEvent(Source, typ, job, seq, events.Detail{})
	if err != nil {
		t.Fatalf("NewJobEvent: %v", err)
	}
	return ev
}

// Publish publishes evs in order, failing the test on an error.
func Publish(t testing.TB, pub *events.Publisher, evs ...events.Event) {
	t.Helper()
	for _, ev := range evs {
		if err := pub.Publish(Context(t), ev); err != nil {
			t.Fatalf("publish %s: %v", ev.ID, err)
		}
	}
}

// Collect watches with f until last returns true for an event, and returns
// what it saw. It fails the test when the watch ends any other way.
func Collect(t testing.TB, w *events.Watcher, f events.Filter, last func(events.Delivered) bool) []events.Delivered {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []events.Delivered
	err := w.Watch(ctx, f, func(d events.Delivered) error {
		got = append(got, d)
		if last(d) {
			return events.ErrStopWatching
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Watch(%+v) = %v after %d events %v", f, err, len(got), IDs(got))
	}
	return got
}

// UntilID stops a Collect at the event with id.
func UntilID(id string) func(events.Delivered) bool {
	return func(d events.Delivered) bool { return d.ID == id }
}

// IDs are the events' ids.
func IDs(ds []events.Delivered) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

// Stream returns TINMAN_EVENTS.
func Stream(t testing.TB, js jetstream.JetStream) jetstream.Stream {
	t.Helper()
	s, err := js.Stream(Context(t), events.EventsStream)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	return s
}

// Stored returns every message of TINMAN_EVENTS, decoded, in stream order.
func Stored(t testing.TB, js jetstream.JetStream) []events.Delivered {
	t.Helper()
	ctx := Context(t)
	s := Stream(t, js)
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	var out []events.Delivered
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		msg, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("get message %d: %v", seq, err)
		}
		ev, err := events.Decode(msg.Data)
		if err != nil {
			t.Fatalf("message %d does not decode: %v", seq, err)
		}
		out = append(out, events.Delivered{Event: ev, StreamSeq: seq})
	}
	if uint64(len(out)) != info.State.Msgs {
		t.Fatalf("read %d messages, stream holds %d", len(out), info.State.Msgs)
	}
	return out
}
