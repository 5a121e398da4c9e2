package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

func TestUnknownRoutesAnswerProblems(t *testing.T) {
	t.Parallel()
	e := setup(t)
	a := e.do(t, RoleViewer, "GET", "/v2/nothing", "")
	if p := a.problem(t); a.status != http.StatusNotFound || p.Code != "not_found" {
		t.Errorf("unknown path: %d %+v", a.status, p)
	}
	a = e.do(t, RoleAdmin, "PUT", "/v1/jobs", "{}")
	if p := a.problem(t); a.status != http.StatusMethodNotAllowed || !strings.Contains(a.header.Get("Allow"), "POST") {
		t.Errorf("wrong method: %d %+v Allow %q", a.status, p, a.header.Get("Allow"))
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	e := setup(t)
	a := e.do(t, RoleNone, "GET", "/healthz", "")
	if id := a.header.Get(RequestIDHeader); len(id) != 26 {
		t.Errorf("made-up request id %q, want a ULID", id)
	}
	a = e.do(t, RoleNone, "GET", "/healthz", "", RequestIDHeader, "trace-123")
	if id := a.header.Get(RequestIDHeader); id != "trace-123" {
		t.Errorf("request id %q, want the client's", id)
	}
	a = e.do(t, RoleViewer, "GET", "/v1/jobs/none", "", RequestIDHeader, "trace-456")
	if p := a.problem(t); p.Instance != "trace-456" {
		t.Errorf("problem instance %q, want the request id", p.Instance)
	}
	if !strings.Contains(e.logs.String(), `"request_id":"trace-456"`) || !strings.Contains(e.logs.String(), `"route":"GET /v1/jobs/{id}"`) {
		t.Errorf("the request log lacks the request id or route:\n%s", e.logs.String())
	}
}

// hooks is a hand-written Webhooks and Callbacks.
type hooks struct{}

func (hooks) ServeGitHub(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }
func (hooks) ServeGeneric(http.ResponseWriter, *http.Request)    { panic("generic webhook exploded") }
func (hooks) ServeCallback(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Server", r.PathValue("id"))
	w.WriteHeader(http.StatusNoContent)
}

func TestWebhooksAndCallbacks(t *testing.T) {
	t.Parallel()
	off := setup(t)
	for _, path := range []string{"/v1/webhooks/github", "/v1/webhooks/generic", "/v1/servers/s1/callbacks"} {
		a := off.do(t, RoleNone, "POST", path, "{}")
		if p := a.problem(t); a.status != http.StatusNotImplemented {
			t.Errorf("%s unconfigured: %d %+v", path, a.status, p)
		}
	}
	on := setup(t, func(c *Config) { c.Webhooks, c.Callbacks = hooks{}, hooks{} })
	want(t, on.do(t, RoleNone, "POST", "/v1/webhooks/github", "{}"), http.StatusAccepted)
	a := on.do(t, RoleNone, "POST", "/v1/servers/s1/callbacks", "{}")
	if a.status != http.StatusNoContent || a.header.Get("X-Server") != "s1" {
		t.Errorf("callback: %d, server %q", a.status, a.header.Get("X-Server"))
	}
	// A panic is a logged 500 problem, and the server goes on.
	a = on.do(t, RoleNone, "POST", "/v1/webhooks/generic", "{}")
	if p := a.problem(t); a.status != http.StatusInternalServerError || p.Code != "panic" {
		t.Errorf("panic: %d %+v", a.status, p)
	}
	if !strings.Contains(on.logs.String(), "generic webhook exploded") {
		t.Error("the panic is not logged")
	}
	want(t, on.do(t, RoleNone, "GET", "/healthz", ""), http.StatusOK)
}

func TestHealthNeedsNoToken(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *Config) { c.Health = NewHealth(time.Second) })
	want(t, e.do(t, RoleNone, "GET", "/healthz", ""), http.StatusOK)
	// Not probed yet: not ready.
	want(t, e.do(t, RoleNone, "GET", "/readyz", ""), http.StatusServiceUnavailable)
	e.api.Health().probe(context.Background())
	want(t, e.do(t, RoleNone, "GET", "/readyz", ""), http.StatusOK)
	e.api.Health().Drain()
	want(t, e.do(t, RoleNone, "GET", "/readyz", ""), http.StatusServiceUnavailable)
}

func TestMetricsAfterRequests(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.enrol(t, "srv-1", nil)
	want(t, e.do(t, RoleOperator, "POST", "/v1/jobs", powerOn), http.StatusAccepted)
	want(t, e.do(t, RoleOperator, "POST", "/v1/jobs", `{"type":"power"}`), http.StatusBadRequest)
	want(t, e.do(t, RoleViewer, "GET", "/v1/jobs/none", ""), http.StatusNotFound)
	a := e.do(t, RoleViewer, "GET", "/metrics", "")
	want(t, a, http.StatusOK)
	text := string(a.body)
	for _, series := range []string{
		`tinman_http_request_duration_seconds_count{method="POST",route="POST /v1/jobs",status="202"} 1`,
		`tinman_http_request_duration_seconds_count{method="GET",route="GET /v1/jobs/{id}",status="404"} 1`,
		`tinman_api_jobs_submitted_total{outcome="accepted",type="power"} 1`,
		`tinman_api_jobs_submitted_total{outcome="invalid",type="unknown"} 1`,
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(text, series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
	if regexp.MustCompile(`route="/v1/jobs/[^{]`).MatchString(text) {
		t.Error("a route label holds a concrete path: label values must be bounded")
	}
}

func TestQueueMonitorIsReadOnly(t *testing.T) {
	t.Parallel()
	e2 := setup(t)
	opt := e2.rdb.Options()
	e2.api = mustNew(t, e2.config(t, func(c *Config) {
		c.Monitor = asynq.RedisClientOpt{Addr: opt.Addr, DB: opt.DB, Password: opt.Password}
	}))
	t.Cleanup(func() { _ = e2.api.Close() })
	e2.srv = httptest.NewServer(e2.api.Handler())
	t.Cleanup(e2.srv.Close)
	enqueue(t, e2.rdb)
	a := e2.do(t, RoleViewer, "GET", "/monitor/", "")
	if a.status != http.StatusOK || !strings.Contains(string(a.body), "<html") {
		t.Fatalf("GET /monitor/: %d %.200s", a.status, a.body)
	}
	a = e2.do(t, RoleViewer, "GET", "/monitor/api/queues", "")
	if a.status != http.StatusOK || !strings.Contains(string(a.body), `"default"`) {
		t.Errorf("GET /monitor/api/queues: %d %s", a.status, a.body)
	}
	for _, path := range []string{"/monitor/api/queues/default:pause", "/monitor/api/queues/default/pending_tasks:delete_all"} {
		a = e2.do(t, RoleAdmin, "POST", path, "{}")
		if a.status != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: %d, want 405: the monitor is read-only", path, a.status)
		}
	}
	a = e2.do(t, RoleNone, "GET", "/monitor/", "")
	if a.status != http.StatusUnauthorized || !strings.Contains(strings.Join(a.header.Values("WWW-Authenticate"), " "), "Basic") {
		t.Errorf("no token: %d, WWW-Authenticate %q: a browser must be asked", a.status, a.header.Values("WWW-Authenticate"))
	}
	// A browser sends the token as a Basic auth password.
	req, _ := http.NewRequest("GET", e2.srv.URL+"/monitor/api/queues", nil)
	req.SetBasicAuth("anyone", testTokens[RoleViewer])
	want(t, send(t, req), http.StatusOK)
}

// enqueue puts one task on the default queue.
func enqueue(t *testing.T, rdb *redis.Client) {
	t.Helper()
	c := asynq.NewClientFromRedisClient(rdb)
	if _, err := c.Enqueue(asynq.NewTask("power", []byte("{}"))); err != nil {
		t.Fatal(err)
	}
}

func TestTwoAPIsShareARegistry(t *testing.T) {
	t.Parallel()
	reg := NewRegistry()
	a, b := mustNew(t, Config{Registry: reg}), mustNew(t, Config{Registry: reg})
	if a.metrics.httpTime != b.metrics.httpTime {
		t.Error("the second API did not take the first one's series")
	}
}
