package store

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/events/eventstest"
)

// Keys of the version 1 layout are moved in place, their staged events are
// still sent in order, and a second Migrate finds nothing to do.
func TestMigrateV1(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := eventstest.Context(t)
	st := newStore(t, e.rdb, e.outbox, Config{})
	// Two staged events of job-a, one of server srv-1, as version 1 kept them.
	for seq := int64(1); seq <= 2; seq++ {
		entry, err := outboxEntry(eventstest.JobEvent(t, events.JobProgress, "job-a", "srv-1", seq))
		if err != nil {
			t.Fatal(err)
		}
		e.rdb.RPush(ctx, "tinman:outbox:job-a", entry)
	}
	ev, err := events.New(source, events.ServerStateChanged, "srv-1", events.StateChangedData{Server: "srv-1", State: "available"})
	if err != nil {
		t.Fatal(err)
	}
	ev.ID = events.ServerEventID("srv-1", 1)
	entry, _ := outboxEntry(ev)
	e.rdb.RPush(ctx, "tinman:outbox:server.srv-1", entry)
	e.rdb.SAdd(ctx, v1OutboxPending, "job-a", "server.srv-1")
	e.rdb.SAdd(ctx, v1BreakersOpen, "srv-2", "srv-3")
	e.rdb.Set(ctx, "tinman:breaker:probe:srv-2", 1, time.Minute)
	e.rdb.SAdd(ctx, breakersOpen, "srv-4") // written by a new process meanwhile: kept

	n, err := st.Migrate(ctx)
	if err != nil || n != 3 {
		t.Fatalf("Migrate() = %d, %v; want 3 keys moved (two lists and the breakers)", n, err)
	}
	for _, k := range []string{v1OutboxPending, "tinman:outbox:job-a", "tinman:outbox:server.srv-1", v1BreakersOpen, "tinman:breaker:probe:srv-2"} {
		if e.rdb.Exists(ctx, k).Val() != 0 {
			t.Errorf("old key %s is still there", k)
		}
	}
	if got, _ := st.OpenBreakers(ctx); !sameSet(got, []string{"srv-2", "srv-3", "srv-4"}) {
		t.Errorf("open breakers %v, want srv-2, srv-3, srv-4", got)
	}
	if p, err := e.outbox.Pending(ctx); err != nil || p != 2 {
		t.Errorf("Pending() = %d, %v after migrating; want the two streams", p, err)
	}
	if err := e.outbox.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	got := eventstest.IDs(eventstest.Stored(t, e.js))
	if want := []string{"job.job-a.1", "job.job-a.2", "server.srv-1.1"}; !sameSet(got, want) {
		t.Errorf("sent %v, want %v", got, want)
	}
	if n, err := st.Migrate(ctx); err != nil || n != 0 {
		t.Errorf("second Migrate() = %d, %v; want nothing to do", n, err)
	}
}

// A server named "open" kept its failure count at tinman:breaker:open in
// version 1 too (a string, not the set): it stays where it is.
func TestMigrateV1KeepsServerNamedOpen(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := eventstest.Context(t)
	e.rdb.Set(ctx, breakerKey("open"), 2, time.Minute)
	if _, err := newStore(t, e.rdb, e.outbox, Config{}).Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := e.rdb.Get(ctx, breakerKey("open")).Int(); err != nil || n != 2 {
		t.Errorf("failure count of server open = %d, %v; want 2, kept", n, err)
	}
}

// Processes that start together migrate once: one moves the keys, the
// others wait for it and move nothing.
func TestMigrateConcurrent(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := eventstest.Context(t)
	e.rdb.RPush(ctx, "tinman:outbox:job-a", "x")
	e.rdb.SAdd(ctx, v1OutboxPending, "job-a")
	var wg sync.WaitGroup
	moved := make([]int, 4)
	for i := range moved {
		wg.Go(func() {
			n, err := newStore(t, e.rdb, e.outbox, Config{}).Migrate(ctx)
			if err != nil {
				t.Error(err)
			}
			moved[i] = n
		})
	}
	wg.Wait()
	slices.Sort(moved)
	if !slices.Equal(moved, []int{0, 0, 0, 1}) {
		t.Errorf("keys moved by each process %v, want one move in all", moved)
	}
	if n := e.rdb.LLen(ctx, jobStream("job-a").listKey()).Val(); n != 1 {
		t.Errorf("job-a's list holds %d entries, want 1", n)
	}
}

// A database written by a newer layout is refused, naming both versions.
func TestMigrateRefusesNewerLayout(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	e.rdb.Set(ctx, layoutKey, layoutVersion+1, 0)
	if _, err := newStore(t, e.rdb, e.outbox, Config{}).Migrate(ctx); !errors.Is(err, ErrNewerLayout) {
		t.Errorf("Migrate() on a newer layout = %v, want ErrNewerLayout", err)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
