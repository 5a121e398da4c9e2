package events_test

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/events/eventstest"
	"github.com/tinmanhq/tinman/servicetest"
)

const source = eventstest.Source

// env is what an integration test needs: JetStream with the Tinman streams,
// a Redis database of its own, and the events types built on them.
type env struct {
	js      jetstream.JetStream
	rdb     *redis.Client
	pub     *events.Publisher
	watcher *events.Watcher
}

func setup(t *testing.T) env {
	t.Helper()
	_, js := servicetest.JetStream(t, servicetest.NATS(t))
	eventstest.Streams(t, js, jetstream.MemoryStorage)
	_, rdb := servicetest.Redis(t)
	return env{js: js, rdb: rdb, pub: events.NewPublisher(js), watcher: events.NewWatcher(js)}
}
