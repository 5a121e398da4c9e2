package dispatch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/hostiletest"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
)

// TestHostileNATS walks the catalogue of hostile requests published on
// NATS (testdata/hostile, edge "nats") through a running dispatcher: each
// is rejected with a tinman.request.rejected event naming its field and
// carrying the request, or dropped by JetStream as a duplicate, and
// terminated; none makes a job, a task or any other change in Redis; the
// dispatcher goes on and queues a good request at the end.
func TestHostileNATS(t *testing.T) {
	t.Parallel()
	h := setupHostile(t)
	hostiletest.Run(t, "testdata/hostile", "nats", func(t *testing.T, c hostiletest.Case) {
		before := servicetest.RedisSnapshot(t, h.rdb)
		ack := h.publishCase(t, c)
		switch c.Want.Outcome {
		case "rejected":
			h.checkRejection(t, c, ack)
		case "duplicate":
			if !ack.Duplicate {
				t.Errorf("JetStream stored the request as new (seq %d), want a duplicate", ack.Sequence)
			}
		default:
			t.Fatalf("outcome %q: want rejected or duplicate", c.Want.Outcome)
		}
		waitTerminated(t, h.js)
		before.Unchanged(t, h.rdb)
		h.noJobQueued(t)
	})
	h.publish(t, "tinman.requests.power", "after-1", `{"server":"s1","params":{"action":"status"}}`)
	if ev := h.next(t, "tinman.job.queued"); !strings.Contains(string(ev.Data), `"after-1"`) {
		t.Errorf("after the hostile requests, a good one: %s", ev.Data)
	}
}

// hostileEnv is a running dispatcher (see setup) with s1 enrolled, s-m in
// maintenance and one job queued (seed-1), and a watch on every event.
type hostileEnv struct {
	*env
	seen chan events.Event
}

func setupHostile(t *testing.T) *hostileEnv {
	t.Helper()
	h := &hostileEnv{env: setup(t), seen: make(chan events.Event, 64)}
	ctx := context.Background()
	srv := jobs.Server{ID: "s-m", BMC: jobs.BMC{Address: "127.0.0.1:1", Provider: jobs.ProviderIPMI},
		Maintenance: &jobs.Maintenance{Reason: "fan swap", SetBy: "test", Since: time.Now().UTC()}}
	if err := h.store.PutServer(ctx, srv, jobs.Credentials{Username: "u", Password: "p"}); err != nil {
		t.Fatal(err)
	}
	h.watch(t)
	h.publish(t, "tinman.requests.power", "seed-1", `{"server":"s1","params":{"action":"on"}}`)
	if ev := h.next(t, "tinman.job.queued"); !strings.Contains(string(ev.Data), `"seed-1"`) {
		t.Fatalf("the seed request: %s", ev.Data)
	}
	h.task(t, "seed-1")
	return h
}

// watch feeds every event published from now on to h.seen.
func (h *hostileEnv) watch(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started, done := make(chan struct{}), make(chan error, 1)
	go func() {
		done <- events.NewWatcher(h.js).Watch(ctx, events.Filter{Started: func() { close(started) }},
			func(d events.Delivered) error {
				select {
				case h.seen <- d.Event:
				case <-ctx.Done():
				}
				return nil
			})
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("watch events: %v", err)
	}
}

// next returns the next event of typ; any other that comes first is an error.
func (h *hostileEnv) next(t *testing.T, typ events.Type) events.Event {
	t.Helper()
	for {
		select {
		case ev := <-h.seen:
			if ev.Type == typ {
				return ev
			}
			t.Errorf("unexpected %s while waiting for %s: %s", ev.Type, typ, ev.Data)
		case <-time.After(20 * time.Second):
			t.Fatalf("no %s within 20 s", typ)
		}
	}
}

// noJobQueued fails if an event other than a rejection came meanwhile.
func (h *hostileEnv) noJobQueued(t *testing.T) {
	t.Helper()
	for {
		select {
		case ev := <-h.seen:
			t.Errorf("unexpected %s: %s", ev.Type, ev.Data)
		default:
			return
		}
	}
}

// publishCase publishes c's payload on its subject with its headers.
func (h *hostileEnv) publishCase(t *testing.T, c hostiletest.Case) *jetstream.PubAck {
	t.Helper()
	body, err := c.Body()
	if err != nil {
		t.Fatal(err)
	}
	msg := &nats.Msg{Subject: c.Subject, Data: body, Header: nats.Header{}}
	if msg.Subject == "" {
		msg.Subject = "tinman.requests.power"
	}
	for _, hv := range c.Headers {
		msg.Header.Add(hv[0], hv[1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := h.js.PublishMsg(ctx, msg)
	if err != nil {
		t.Fatalf("publish on %s: %v", msg.Subject, err)
	}
	return ack
}

// checkRejection waits for the rejection of the request at ack and checks
// that it names the field and carries the request.
func (h *hostileEnv) checkRejection(t *testing.T, c hostiletest.Case, ack *jetstream.PubAck) {
	t.Helper()
	ev := h.next(t, events.RequestRejected)
	if want := events.RejectionEventID(events.RequestsStream, ack.Sequence); ev.ID != want {
		t.Fatalf("rejection %s, want %s", ev.ID, want)
	}
	var d events.RejectedData
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		t.Fatal(err)
	}
	switch {
	case d.Error == nil:
		t.Fatalf("rejection without an error: %s", ev.Data)
	case d.Error.Field != c.Want.Field || c.Want.Code != "" && string(d.Error.Code) != c.Want.Code:
		t.Errorf("rejected with %s %q naming %q, want %s naming %q", d.Error.Code, d.Error.Message, d.Error.Field, c.Want.Code, c.Want.Field)
	}
	body, _ := c.Body()
	if !carries(d, body) {
		t.Errorf("the rejection does not carry the request: %.300s", ev.Data)
	}
}

// carries reports whether a rejection holds the request it refused: as
// JSON, or as text (cut to the largest request there may be).
func carries(d events.RejectedData, body []byte) bool {
	var compact, escaped bytes.Buffer
	switch {
	case d.Request != nil: // as JSON: compact, with <, > and & escaped
		if json.Compact(&compact, body) != nil {
			return false
		}
		json.HTMLEscape(&escaped, compact.Bytes())
		return bytes.Equal(d.Request, escaped.Bytes())
	case d.RequestTruncated:
		return len(body) > jobs.MaxRequestSize && strings.HasPrefix(string(body), d.RequestText[:min(len(d.RequestText), 1000)])
	}
	return d.RequestText == strings.ToValidUTF8(string(body), "\uFFFD")
}
