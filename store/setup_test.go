package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/store/storetest"
)

// env is a Store on a Redis database of the test's own, publishing to a
// private JetStream with the Tinman streams.
type env struct {
	store  *store.Store
	outbox *store.Outbox
	rdb    *redis.Client
	js     jetstream.JetStream
}

func setup(t *testing.T) env {
	t.Helper()
	_, js := servicetest.JetStream(t, servicetest.NATS(t))
	c := events.DefaultStreamConfig()
	c.Storage = jetstream.MemoryStorage
	if err := events.EnsureStreams(testContext(t), js, c); err != nil {
		t.Fatalf("EnsureStreams: %v", err)
	}
	_, rdb := servicetest.Redis(t)
	ob := storetest.Outbox(t, rdb, events.NewPublisher(js), store.OutboxConfig{})
	return env{store: storetest.Store(t, rdb, ob, store.Config{Source: "/tinman/test"}), outbox: ob, rdb: rdb, js: js}
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func newJob(id string) jobs.Job {
	req := jobs.Request{ID: id, Type: jobs.Power, Server: "srv-1", Params: []byte(`{"action":"cycle"}`), RequestedBy: "ops@example.com"}
	return jobs.NewJob(req, 8, time.Now().Add(-time.Second))
}

// published returns the job's events in TINMAN_EVENTS, in stream order.
func published(t *testing.T, e env, jobID string) []events.Event {
	t.Helper()
	ctx := testContext(t)
	s, err := e.js.Stream(ctx, events.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []events.Event
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		msg, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get message %d: %v", seq, err)
		}
		ev, err := events.Decode(msg.Data)
		if err != nil {
			t.Fatalf("message %d: %v", seq, err)
		}
		if d, err := ev.JobData(); err == nil && d.JobID == jobID {
			out = append(out, ev)
		}
	}
	return out
}

// staged is how many events wait in the job's outbox list. It reads the
// outbox's Redis layout (tinman:outbox:job:<job id>): no API counts them.
func staged(t *testing.T, e env, jobID string) int64 {
	t.Helper()
	n, err := e.rdb.LLen(testContext(t), "tinman:outbox:job:"+jobID).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// newOfflineStore is a Store on e's Redis whose NATS connection is closed.
func newOfflineStore(t *testing.T, e env) *store.Store {
	t.Helper()
	nc, js := servicetest.JetStream(t, servicetest.NATS(t))
	nc.Close()
	ob := storetest.Outbox(t, e.rdb, events.NewPublisher(js), store.OutboxConfig{})
	return storetest.Store(t, e.rdb, ob, store.Config{Source: "/tinman/test"})
}
