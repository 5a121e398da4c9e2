package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/bmc/bmctest"
	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
	"github.com/tinmanhq/tinman/store"
)

// TestIDsCannotCollide runs the real system with jobs and servers named
// after every word of every Redis key name (and ids shaped like the event
// ids and outbox streams of other kinds), beside ordinary work, and checks
// that nothing else changed: every job's events arrive whole and numbered,
// a server's state changes are not taken for a job's, no key holds the wrong
// type, and an open circuit breaker stays open.
//
// Before the key layout of store/keys.go, a job named "pending" turned the
// outbox's pending set into a list, a server named "open" deleted the set of
// open breakers, and a job named "server.<id>" took that server's event ids.
func TestIDsCannotCollide(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	logs := &servicetest.Buffer{}
	s := startDevWith(t, redisURL, 1, func(c *devConfig) { faultConfig(c, logs) })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st := s.dev.backend.store

	// A victim whose BMC is dead: its breaker opens, and must stay open.
	enrol(t, s, "victim", jobs.BMC{Address: bmctest.DeadAddress(t), Provider: jobs.ProviderRedfish}, "admin", "password")
	s.publish(t, "power", "victim-on", `{"id":"victim-on","type":"power","server":"victim","params":{"action":"on"}}`)
	s.collect(t, events.Filter{Job: "victim-on"}, time.Minute, terminal)
	if open, _ := st.OpenBreakers(ctx); !slices.Contains(open, "victim") {
		t.Fatalf("open breakers %v after victim's failures, want victim", open)
	}

	// Servers named after every word, all answering at sim-01's BMC.
	sim := s.sim(t, "sim-01")
	user, pass := sim.Credentials()
	words := collisionWords()
	for _, w := range words {
		if jobs.ValidServerID(w) {
			enrol(t, s, w, jobs.BMC{Address: sim.Addr(), Provider: jobs.ProviderRedfish}, user, pass)
		}
	}
	// sim-01 changes state twice (available -> inspecting -> available)
	// while a job named after its event stream runs.
	s.publish(t, "inspect", "inspect-sim", `{"id":"inspect-sim","type":"inspect","server":"sim-01"}`)
	var ids []string
	for _, w := range words {
		server := w
		if !jobs.ValidServerID(w) {
			server = "sim-01"
		}
		if !jobs.ValidJobID(w) {
			continue
		}
		s.publish(t, "power", w, fmt.Sprintf(`{"id":%q,"type":"power","server":%q,"params":{"action":"status"}}`, w, server))
		ids = append(ids, w)
	}
	for _, id := range append(ids, "inspect-sim") {
		checkWhole(t, id, s.collect(t, events.Filter{Job: id, Type: "job"}, time.Minute, terminal))
	}
	changes := s.collect(t, events.Filter{Server: "sim-01", Type: "server.state_changed"}, time.Minute,
		func(ev events.Event) bool { return strings.HasSuffix(ev.ID, ".2") })
	if len(changes) != 2 || changes[0].ID != events.ServerEventID("sim-01", 1) {
		t.Errorf("sim-01 state changes %s, want its two, numbered 1 and 2", typesOf(changes))
	}

	if open, _ := st.OpenBreakers(ctx); !slices.Contains(open, "victim") {
		t.Errorf("open breakers %v after jobs on a server named open, want victim still open", open)
	}
	if srv, err := st.Server(ctx, "victim"); err != nil || srv.Maintenance == nil || srv.Maintenance.SetBy != store.BreakerSetter {
		t.Errorf("victim %+v (%v), want it still in the breaker's maintenance", srv.Maintenance, err)
	}
	checkKeyTypes(ctx, t, s)
	waitOutboxEmpty(ctx, t, s)
	if strings.Contains(logs.String(), "WRONGTYPE") {
		t.Errorf("a log line reports WRONGTYPE:\n%s", logs.String())
	}
}

// checkWhole asserts a job's events are numbered 1, 2, 3... with no gap,
// from queued to succeeded (a job that waited for its server says so in a
// progress event between).
func checkWhole(t *testing.T, id string, evs []events.Event) {
	t.Helper()
	for i, ev := range evs {
		d, err := ev.JobData()
		if err != nil || d.Seq != int64(i+1) || ev.ID != events.JobEventID(id, d.Seq) {
			t.Errorf("job %s event %d: %s %s seq %d (%v), want seq %d", id, i, ev.ID, ev.Type, d.Seq, err, i+1)
		}
	}
	if len(evs) < 3 || evs[0].Type != events.JobQueued || evs[len(evs)-1].Type != events.JobSucceeded {
		t.Errorf("job %s events %s, want queued ... succeeded", id, typesOf(evs))
	}
}

// collisionWords are the words of every key name of the store's layout, and
// ids shaped like other kinds' event ids and outbox streams.
func collisionWords() []string {
	fixed, prefixes := store.KeyNames()
	set := map[string]bool{"server.sim-01": true, "rejected.TINMAN_REQUESTS.1": true, "job.sim-01": true,
		"server:sim-01": true, "job:pending": true, "inspect-sim.1": true}
	for _, k := range append(fixed, prefixes...) {
		for _, w := range strings.FieldsFunc(k, func(r rune) bool { return r == ':' || r == '-' }) {
			set[w] = true
		}
	}
	out := make([]string, 0, len(set))
	for w := range set {
		out = append(out, w)
	}
	slices.Sort(out)
	return out
}

// checkKeyTypes asserts that the fixed names hold the types they are for.
func checkKeyTypes(ctx context.Context, t *testing.T, s *system) {
	t.Helper()
	want := map[string]string{"tinman:jobs": "zset", "tinman:servers": "set", "tinman:outbox-pending": "set", "tinman:breakers-open": "set"}
	for key, typ := range want {
		got, err := s.dev.backend.rdb.Type(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got != typ && got != "none" {
			t.Errorf("%s is a %s, want a %s", key, got, typ)
		}
	}
}

// waitOutboxEmpty waits until every staged event has been sent.
func waitOutboxEmpty(ctx context.Context, t *testing.T, s *system) {
	t.Helper()
	for {
		n, err := s.dev.backend.outbox.Pending(ctx)
		if err == nil && n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("outbox still holds %d streams (%v)", n, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
