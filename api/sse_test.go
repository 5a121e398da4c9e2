package api

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
)

func TestEventsStreamLive(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := e.stream(t, ctx, "server=srv-1")
	if f := s.next(t); f.comment != "stream open" {
		t.Fatalf("first frame %+v, want the open comment", f)
	}
	e.publishEvent(t, events.JobQueued, "srv-2", "other")
	e.publishEvent(t, events.JobQueued, "srv-1", "j1")
	e.publishEvent(t, events.JobSucceeded, "srv-1", "j1")
	for _, typ := range []events.Type{events.JobQueued, events.JobSucceeded} {
		f := s.nextEvent(t)
		var ev events.Event
		if err := json.Unmarshal([]byte(f.data), &ev); err != nil {
			t.Fatalf("data %q: %v", f.data, err)
		}
		if f.event != string(typ) || ev.Type != typ || ev.Subject != "srv-1" || ev.SpecVersion != "1.0" {
			t.Errorf("frame %+v, want %s about srv-1", f, typ)
		}
		if seq, err := strconv.ParseUint(f.id, 10, 64); err != nil || seq < 2 {
			t.Errorf("id %q, want the stream sequence (srv-2's event came first)", f.id)
		}
	}
}

func TestEventsResumeAfterLastEventID(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for i := range 5 {
		e.publishEvent(t, events.JobQueued, "srv-1", "r"+strconv.Itoa(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := e.stream(t, ctx, "", "Last-Event-ID", "3")
	for want := 4; want <= 5; want++ {
		if f := s.nextEvent(t); f.id != strconv.Itoa(want) {
			t.Fatalf("after Last-Event-ID 3 got id %s, want %d", f.id, want)
		}
	}
	// The query parameter does the same for clients that cannot set headers.
	e.known(t, "r4", "srv-1")
	s = e.stream(t, ctx, "last_event_id=4&job=r4")
	if f := s.nextEvent(t); f.id != "5" {
		t.Fatalf("last_event_id=4&job=r4: id %s, want 5", f.id)
	}
}

func TestEventsFilters(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.publishEvent(t, events.JobQueued, "srv-1", "a")
	e.publishEvent(t, events.JobFailed, "srv-1", "a")
	e.publishEvent(t, events.JobQueued, "srv-2", "b")
	e.publishEvent(t, events.JobFailed, "srv-2", "b")
	e.known(t, "b", "srv-2")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cases := map[string][]string{
		"since=1h&type=job.failed":                {"2", "4"},
		"since=1h&job=b":                          {"3", "4"},
		"since=1h&server=srv-1":                   {"1", "2"},
		"since=1h&type=tinman.job.*&server=srv-2": {"3", "4"},
	}
	for query, ids := range cases {
		s := e.stream(t, ctx, query)
		for _, id := range ids {
			if f := s.nextEvent(t); f.id != id {
				t.Errorf("%s: id %s, want %s", query, f.id, id)
			}
		}
	}
	for query, field := range map[string]string{"since=yesterday": "since", "server=A!": "server", "type=job%20failed": "type",
		"job=%20": "job", "colour=red": "colour", "last_event_id=x": "last_event_id"} {
		a := e.do(t, RoleViewer, "GET", "/v1/events?"+query, "")
		if p := a.problem(t); a.status != http.StatusBadRequest || p.Field != field {
			t.Errorf("%s: %d %+v, want 400 naming %s", query, a.status, p, field)
		}
	}
}

// TestEventsStreamOutlivesServerTimeouts serves with short read and write
// timeouts: the stream lifts them, heartbeats flow, and events still arrive.
func TestEventsStreamOutlivesServerTimeouts(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *Config) {
		c.Heartbeat = 100 * time.Millisecond
		c.Timeouts = Timeouts{Read: 300 * time.Millisecond, Write: 300 * time.Millisecond, ReadHeader: 300 * time.Millisecond}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.api.Serve(ctx, ln) }()
	e.srv.URL = "http://" + ln.Addr().String()

	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := e.stream(t, sctx, "")
	beats := 0
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if f := s.next(t); f.comment == "heartbeat" {
			beats++
		}
	}
	e.publishEvent(t, events.JobQueued, "srv-1", "late")
	if f := s.nextEvent(t); f.event != string(events.JobQueued) {
		t.Errorf("after the timeouts passed: %+v", f)
	}
	if beats < 5 {
		t.Errorf("%d heartbeats in a second at 100 ms", beats)
	}
	// Shutdown ends the stream, and Serve returns.
	stop()
	for {
		if _, err := s.rd.ReadString('\n'); err != nil {
			break
		}
	}
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// known makes the API know job id, on server, by its submitted record.
func (e *env) known(t *testing.T, id, server string) {
	t.Helper()
	req := jobs.Request{ID: id, Type: jobs.Power, Server: server, Params: json.RawMessage(`{"action":"status"}`)}
	if _, err := e.store.CreateSubmitted(t.Context(), req); err != nil {
		t.Fatal(err)
	}
}
