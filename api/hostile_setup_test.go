package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/hostiletest"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
)

// hostile is the API served as in production (Serve: its timeouts, header
// limit and health checks) on real NATS and Redis, with srv-1 available,
// srv-m in maintenance and job-1 queued on srv-1.
type hostile struct {
	*env
	base   string
	client *http.Client
	served <-chan struct{} // closed when Serve returns
}

// setupHostile starts the API with Serve and waits until it is ready.
func setupHostile(t *testing.T) *hostile {
	t.Helper()
	var e *env
	e = setup(t, func(c *Config) {
		c.Health = NewHealth(250*time.Millisecond,
			Check{Name: "redis", Probe: func(ctx context.Context) error { return e.rdb.Ping(ctx).Err() }},
			Check{Name: "nats", Probe: func(ctx context.Context) error { _, err := e.js.AccountInfo(ctx); return err }})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	var serveErr error
	go func() {
		defer close(served)
		serveErr = e.api.Serve(ctx, ln)
	}()
	t.Cleanup(func() {
		cancel()
		<-served
		if serveErr != nil {
			t.Errorf("Serve: %v", serveErr)
		}
	})
	h := &hostile{env: e, base: "http://" + ln.Addr().String(), served: served, client: &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	h.fixtures(t)
	h.waitReady(t)
	return h
}

// fixtures enrols srv-1 and srv-m (in maintenance) and queues job-1 on srv-1.
func (h *hostile) fixtures(t *testing.T) {
	t.Helper()
	h.enrol(t, "srv-1", map[string]string{"rack": "r1"})
	h.enrol(t, "srv-m", nil)
	_, err := h.store.UpdateServerSettings(context.Background(), "srv-m", func(srv *jobs.Server) error {
		srv.Maintenance = &jobs.Maintenance{Reason: "fan swap", SetBy: "test", Since: time.Now().UTC()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	h.accept(t, jobs.Request{ID: "job-1", Type: jobs.Power, Server: "srv-1", Params: json.RawMessage(`{"action":"on"}`)})
}

// waitReady waits until /readyz answers 200, for up to 5 s: its checks
// run in the background, and one may time out on a loaded machine.
func (h *hostile) waitReady(t *testing.T) {
	t.Helper()
	for range 200 {
		if h.ready(t) == nil {
			return
		}
		select {
		case <-h.served:
			t.Fatal("Serve returned while the test runs")
		case <-time.After(25 * time.Millisecond):
		}
	}
	t.Fatalf("the API is not ready: /readyz: %v", h.ready(t))
}

// ready reports why the API is not ready, or nil.
func (h *hostile) ready(t *testing.T) error {
	t.Helper()
	resp, err := h.client.Get(h.base + "/readyz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status + ": " + string(body))
	}
	return nil
}

// request makes c's request, its path sent exactly as written.
func (h *hostile) request(t *testing.T, c hostiletest.Case) *http.Request {
	t.Helper()
	body, err := c.Body()
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(c.Method, h.base, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	path, query, _ := strings.Cut(c.Path, "?")
	req.URL = &url.URL{Scheme: "http", Host: req.URL.Host, Opaque: path, RawQuery: query}
	if body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	} else if !hasHeader(c, "Content-Type") {
		req.Header.Set("Content-Type", "application/json")
	}
	switch c.Role {
	case "none":
	case "":
		req.Header.Set("Authorization", "Bearer "+h.tokens[RoleAdmin])
	default:
		role, err := ParseRole(c.Role)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+h.tokens[role])
	}
	for _, hv := range c.Headers {
		if hv[0] == "Authorization" {
			req.Header.Del("Authorization")
		}
	}
	for _, hv := range c.Headers {
		req.Header.Add(hv[0], strings.ReplaceAll(hv[1], "{viewer}", h.tokens[RoleViewer]))
	}
	return req
}

func hasHeader(c hostiletest.Case, name string) bool {
	for _, hv := range c.Headers {
		if strings.EqualFold(hv[0], name) {
			return true
		}
	}
	return false
}

// send sends c and reads the answer.
func (h *hostile) send(t *testing.T, c hostiletest.Case) answer {
	t.Helper()
	resp, err := h.client.Do(h.request(t, c))
	if err != nil {
		t.Fatalf("%s %s: %v", c.Method, c.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s %s: %v", c.Method, c.Path, err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: data}
}

// state is what no hostile input may change: every Redis key, and the
// requests stream (a job is a message there before it is anything else).
type state struct {
	redis    servicetest.Snapshot
	requests uint64 // the stream's last sequence
	watches  int    // consumers on the events stream (each SSE stream holds one)
}

func (h *hostile) state(t *testing.T) state {
	t.Helper()
	return state{redis: servicetest.RedisSnapshot(t, h.rdb), requests: servicetest.StreamState(t, h.js, events.RequestsStream).LastSeq,
		watches: servicetest.StreamState(t, h.js, events.EventsStream).Consumers}
}

// unchanged fails the test when anything changed since before. An SSE
// stream's consumer goes a moment after its answer: it is waited for.
func (h *hostile) unchanged(t *testing.T, before state) {
	t.Helper()
	after := h.state(t)
	for i := 0; after.watches > before.watches && i < 100; i++ {
		time.Sleep(20 * time.Millisecond)
		after = h.state(t)
	}
	if diff := before.redis.Diff(after.redis); len(diff) > 0 {
		t.Errorf("Redis changed:\n%s", strings.Join(diff, "\n"))
	}
	if after.requests != before.requests {
		t.Errorf("%d requests published: a job was submitted", after.requests-before.requests)
	}
	if after.watches != before.watches {
		t.Errorf("%d event stream consumers left behind", after.watches-before.watches)
	}
}

// walk sends each case of edge's catalogue with send and checks its
// answer, that nothing changed, and that the API is still ready.
func (h *hostile) walk(t *testing.T, edge string, send func(*testing.T, hostiletest.Case) answer) {
	t.Helper()
	hostiletest.Run(t, "testdata/hostile", edge, func(t *testing.T, c hostiletest.Case) {
		before := h.state(t)
		check(t, c, send(t, c))
		h.unchanged(t, before)
		h.waitReady(t)
	})
}

// check fails the test unless a is the answer c wants.
func check(t *testing.T, c hostiletest.Case, a answer) {
	t.Helper()
	if a.status != c.Want.Status {
		t.Errorf("%s %s: status %d, want %d: %.300s", c.Method, c.Path, a.status, c.Want.Status, a.body)
		return
	}
	if a.status < 400 || c.Method == http.MethodHead {
		return
	}
	p := a.problem(t)
	if c.Want.Code != "" && p.Code != c.Want.Code {
		t.Errorf("%s %s: code %q, want %q: %s", c.Method, c.Path, p.Code, c.Want.Code, a.body)
	}
	if p.Field != c.Want.Field {
		t.Errorf("%s %s: field %q, want %q: %s", c.Method, c.Path, p.Field, c.Want.Field, a.body)
	}
}
