package callback_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/callback"
	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/hostiletest"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/store/storetest"
)

// TestHostileCallbacks walks the catalogue of hostile installer reports
// (testdata/hostile, edge "callback"), each sent over HTTP and published
// on NATS: over HTTP it gets its status and the field named; on NATS it is
// refused and removed from the stream; either way nothing is recorded,
// no job is woken, nothing in Redis changes, and the receiver takes a
// right report at the end, over both.
func TestHostileCallbacks(t *testing.T) {
	t.Parallel()
	h := setupHostile(t)
	hostiletest.Run(t, "testdata/hostile", "callback", func(t *testing.T, c hostiletest.Case) {
		body, err := c.Body()
		if err != nil {
			t.Fatal(err)
		}
		before := servicetest.RedisSnapshot(t, h.rdb)
		h.checkHTTP(t, c, body)
		if c.Subject != "-" {
			h.publish(t, h.subject(c), body)
		}
		before.Unchanged(t, h.rdb)
		if woken := h.wake.count(); woken != 0 {
			t.Errorf("%d jobs woken", woken)
		}
	})
	good := `{"job_id":"prov-1","token":"` + installToken + `","event":"installed"}`
	if got := h.post(t, "srv-1", []byte(good)); got.StatusCode != http.StatusNoContent {
		t.Errorf("a right report over HTTP after the hostile ones: %d", got.StatusCode)
	}
	h.publish(t, events.CallbackPrefix+"srv-2", []byte(`{"job_id":"wipe-2","token":"`+wipeToken+`","event":"wiped"}`))
	if ok, err := h.st.CallbackReceived(context.Background(), "wipe-2", store.CallbackWiped); !ok || err != nil {
		t.Errorf("a right report over NATS after the hostile ones was not recorded (%v)", err)
	}
}

const (
	installToken = "5e1f0c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f"
	wipeToken    = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
)

// hostileEnv is a receiver over HTTP and NATS with three jobs: prov-1
// installing srv-1, wipe-2 wiping srv-2, and prov-3 on srv-3, whose
// boot configuration (and token) went with its end.
type hostileEnv struct {
	st     *store.Store
	rdb    *redis.Client
	js     jetstream.JetStream
	wake   *waker
	srv    *httptest.Server
	stream jetstream.Stream
}

func setupHostile(t *testing.T) *hostileEnv {
	t.Helper()
	_, rdb := servicetest.Redis(t)
	js := servicetest.Streams(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st := storetest.Store(t, rdb, storetest.Outbox(t, rdb, events.NewPublisher(js), store.OutboxConfig{}), store.Config{})
	for _, j := range []struct{ id, server, purpose, token string }{
		{"prov-1", "srv-1", "install", installToken}, {"wipe-2", "srv-2", "wipe", wipeToken}, {"prov-3", "srv-3", "", ""},
	} {
		req := jobs.Request{ID: j.id, Type: jobs.Provision, Server: j.server, Params: json.RawMessage(`{"image":"u"}`)}
		if j.purpose == "wipe" {
			req.Type, req.Params = jobs.Deprovision, nil
		}
		if _, _, err := st.Accept(ctx, jobs.NewJob(req, 3, time.Now())); err != nil {
			t.Fatal(err)
		}
		if j.token == "" {
			continue
		}
		cfg := store.BootConfig{Server: j.server, JobID: j.id, Purpose: j.purpose, Token: j.token, Expires: time.Now().Add(time.Hour)}
		if err := st.SetBootConfig(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	h := &hostileEnv{st: st, rdb: rdb, js: js, wake: &waker{}}
	h.serve(t)
	return h
}

// serve runs the receiver on NATS and behind an HTTP server until the test ends.
func (h *hostileEnv) serve(t *testing.T) {
	t.Helper()
	r := callback.NewReceiver(h.st, h.wake, zerolog.Nop())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, h.js) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("receiver: %v", err)
		}
	})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/servers/{id}/callbacks", r.ServeCallback)
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	var err error
	if h.stream, err = h.js.Stream(context.Background(), events.RequestsStream); err != nil {
		t.Fatal(err)
	}
}

func (h *hostileEnv) subject(c hostiletest.Case) string {
	if c.Subject != "" {
		return c.Subject
	}
	return events.CallbackPrefix + c.Server
}

// post sends a report about server over HTTP, the path as written.
func (h *hostileEnv) post(t *testing.T, server string, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = "/v1/servers/" + server + "/callbacks"
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("POST callback of %s: %v", server, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// checkHTTP posts c and checks the status and the field named.
func (h *hostileEnv) checkHTTP(t *testing.T, c hostiletest.Case, body []byte) {
	t.Helper()
	resp := h.post(t, c.Server, body)
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != c.Want.Status {
		t.Errorf("HTTP: status %d, want %d: %s", resp.StatusCode, c.Want.Status, data)
		return
	}
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
		return // the mux's answer: the route was not reached
	}
	var p struct {
		Status int    `json:"status"`
		Title  string `json:"title"`
		Field  string `json:"field"`
	}
	if err := json.Unmarshal(data, &p); err != nil || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("HTTP: %s %s is not a problem: %v", resp.Header.Get("Content-Type"), data, err)
	}
	if p.Status != c.Want.Status || p.Title == "" || p.Field != c.Want.Field {
		t.Errorf("HTTP: problem %s, want status %d naming %q", data, c.Want.Status, c.Want.Field)
	}
}

// publish publishes a report on subject and waits until the receiver has
// handled it: a handled report, recorded or refused, leaves the stream.
func (h *hostileEnv) publish(t *testing.T, subject string, body []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := h.js.PublishMsg(ctx, &nats.Msg{Subject: subject, Data: body}); err != nil {
		t.Fatalf("publish on %s: %v", subject, err)
	}
	for range 200 {
		info, err := h.stream.Info(ctx, jetstream.WithSubjectFilter(events.CallbackPrefix+">"))
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs == 0 {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("NATS: the report on %s is still in %s after 5 s: not handled, or left for redelivery", subject, events.RequestsStream)
}

// count is the number of tasks woken.
func (w *waker) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.ran)
}
