// Package storetest builds stores for tests: a Config that store.New
// refuses fails the test. Test helper, never imported by production code.
package storetest

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/store"
)

// Store is store.New for a test: a Config it refuses fails the test.
func Store(t testing.TB, rdb redis.UniversalClient, outbox *store.Outbox, cfg store.Config) *store.Store {
	t.Helper()
	st, err := store.New(rdb, outbox, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Outbox is store.NewOutbox for a test: a Config it refuses fails the test.
func Outbox(t testing.TB, rdb redis.UniversalClient, pub *events.Publisher, cfg store.OutboxConfig) *store.Outbox {
	t.Helper()
	ob, err := store.NewOutbox(rdb, pub, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ob
}
