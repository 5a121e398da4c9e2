package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
)

const source = "/tinman/test"

// env is what an integration test needs: JetStream with the Tinman streams,
// a Redis database of its own, and the events types built on them.
type env struct {
	js      jetstream.JetStream
	rdb     *redis.Client
	pub     *events.Publisher
	outbox  *Outbox
	watcher *events.Watcher
}

func setup(t *testing.T) env {
	t.Helper()
	_, js := servicetest.JetStream(t, servicetest.NATS(t))
	ensureStreams(t, js, jetstream.MemoryStorage)
	_, rdb := servicetest.Redis(t)
	pub := events.NewPublisher(js)
	return env{js: js, rdb: rdb, pub: pub, outbox: NewOutbox(rdb, pub, OutboxConfig{}), watcher: events.NewWatcher(js)}
}

func ensureStreams(t *testing.T, js jetstream.JetStream, storage jetstream.StorageType) {
	t.Helper()
	c := events.DefaultStreamConfig()
	c.Storage = storage
	if err := events.EnsureStreams(testContext(t), js, c); err != nil {
		t.Fatalf("EnsureStreams: %v", err)
	}
}

// testContext bounds every wait of a test: nothing hangs for ever.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// jobEvent returns the event of type typ for job id on server at seq.
func jobEvent(t *testing.T, typ events.Type, id, server string, seq int64) events.Event {
	t.Helper()
	job := jobs.Job{ID: id, Type: jobs.Power, Server: server, State: jobs.StateQueued, MaxAttempts: 3}
	ev, err := events.NewJobEvent(source, typ, job, seq, events.Detail{})
	if err != nil {
		t.Fatalf("NewJobEvent: %v", err)
	}
	return ev
}

func publish(t *testing.T, pub *events.Publisher, evs ...events.Event) {
	t.Helper()
	for _, ev := range evs {
		if err := pub.Publish(testContext(t), ev); err != nil {
			t.Fatalf("publish %s: %v", ev.ID, err)
		}
	}
}

// collect watches with f until last returns true for an event, and returns
// what it saw. It fails the test when the watch ends any other way.
func collect(t *testing.T, w *events.Watcher, f events.Filter, last func(events.Delivered) bool) []events.Delivered {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
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
		t.Fatalf("Watch(%+v) = %v after %d events %v", f, err, len(got), ids(got))
	}
	return got
}

func untilID(id string) func(events.Delivered) bool {
	return func(d events.Delivered) bool { return d.ID == id }
}

func ids(ds []events.Delivered) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

// stored returns every message of TINMAN_EVENTS, decoded, in stream order.
func stored(t *testing.T, js jetstream.JetStream) []events.Delivered {
	t.Helper()
	ctx := testContext(t)
	s, err := js.Stream(ctx, events.EventsStream)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
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

func mustStream(t *testing.T, e env) jetstream.Stream {
	t.Helper()
	s, err := e.js.Stream(testContext(t), events.EventsStream)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	return s
}
