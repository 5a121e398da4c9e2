package store

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/events/eventstest"
	"github.com/tinmanhq/tinman/servicetest"
)

const source = eventstest.Source

// env is what an outbox test needs: JetStream with the Tinman streams, a
// Redis database of its own, and an outbox and a watcher on them.
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
	eventstest.Streams(t, js, jetstream.MemoryStorage)
	_, rdb := servicetest.Redis(t)
	pub := events.NewPublisher(js)
	return env{js: js, rdb: rdb, pub: pub, outbox: newOutbox(t, rdb, pub, OutboxConfig{}), watcher: events.NewWatcher(js)}
}

// newOutbox is NewOutbox for a test: a Config it refuses fails the test.
func newOutbox(t testing.TB, rdb redis.UniversalClient, pub *events.Publisher, cfg OutboxConfig) *Outbox {
	t.Helper()
	ob, err := NewOutbox(rdb, pub, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ob
}

// newStore is New for a test: a Config it refuses fails the test.
func newStore(t testing.TB, rdb redis.UniversalClient, ob *Outbox, cfg Config) *Store {
	t.Helper()
	st, err := New(rdb, ob, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
