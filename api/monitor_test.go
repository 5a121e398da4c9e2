package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"

	"github.com/tinmanhq/tinman/servicetest"
)

// withMonitor serves e's API again, with the queue monitor on the Redis of opt.
func (e *env) withMonitor(t *testing.T, opt asynq.RedisConnOpt) {
	t.Helper()
	e.api = mustNew(t, e.config(t, func(c *Config) { c.Monitor = opt }))
	t.Cleanup(func() { _ = e.api.Close() })
	e.srv = httptest.NewServer(e.api.Handler())
	t.Cleanup(e.srv.Close)
}

// TestQueueMonitorErrorsAreProblems: every error asynqmon answers (plain
// text, a 500 for a queue that does not exist) is a problem, with the
// status it stands for; what it answers well passes untouched.
func TestQueueMonitorErrorsAreProblems(t *testing.T) {
	t.Parallel()
	e := setup(t)
	opt := e.rdb.Options()
	e.withMonitor(t, asynq.RedisClientOpt{Addr: opt.Addr, DB: opt.DB, Password: opt.Password})
	enqueue(t, e.rdb)
	cases := []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/monitor/api/queues/nosuch", http.StatusNotFound, "not_found"},
		{"GET", "/monitor/api/queues/nosuch/pending_tasks", http.StatusNotFound, "not_found"},
		{"GET", "/monitor/api/queues/default/tasks/no-such-task", http.StatusNotFound, "not_found"},
		{"GET", "/monitor/api/metrics?duration=abc", http.StatusBadRequest, "invalid_request"},
		{"GET", "/monitor/api/metrics", http.StatusInternalServerError, "internal"}, // no Prometheus to ask
		{"HEAD", "/monitor/api/queues", http.StatusMethodNotAllowed, "method_not_allowed"},
	}
	for _, c := range cases {
		a := e.do(t, RoleViewer, c.method, c.path, "")
		if a.status != c.status || a.header.Get("Content-Type") != ProblemContentType {
			t.Errorf("%s %s: %d %s, want a %d problem: %s", c.method, c.path, a.status, a.header.Get("Content-Type"), c.status, a.body)
			continue
		}
		if c.method == "HEAD" {
			continue // no body
		}
		if p := a.problem(t); p.Code != c.code || strings.Contains(p.Detail, opt.Addr) {
			t.Errorf("%s %s: %+v, want code %s and no Redis address", c.method, c.path, p, c.code)
		}
	}
	if !strings.Contains(e.logs.String(), "queue monitor failed") {
		t.Error("the monitor's 500 is not logged")
	}
	a := e.do(t, RoleViewer, "GET", "/monitor/api/queues", "")
	if a.status != http.StatusOK || a.header.Get("Content-Type") == ProblemContentType || !json.Valid(a.body) {
		t.Errorf("GET /monitor/api/queues: %d %s %.200s", a.status, a.header.Get("Content-Type"), a.body)
	}
}

// TestQueueMonitorAssetsPassUntouched: the UI's scripts (a megabyte and
// more) come through byte for byte, as asynqmon serves them alone.
func TestQueueMonitorAssetsPassUntouched(t *testing.T) {
	t.Parallel()
	e := setup(t)
	opt := e.rdb.Options()
	ropt := asynq.RedisClientOpt{Addr: opt.Addr, DB: opt.DB, Password: opt.Password}
	e.withMonitor(t, ropt)
	alone := asynqmon.New(asynqmon.Options{RootPath: "/monitor", RedisConnOpt: ropt, ReadOnly: true})
	t.Cleanup(func() { _ = alone.Close() })
	var manifest struct {
		Entrypoints []string `json:"entrypoints"`
	}
	e.do(t, RoleViewer, "GET", "/monitor/asset-manifest.json", "").decode(t, &manifest)
	if len(manifest.Entrypoints) == 0 {
		t.Fatal("the monitor's asset manifest lists no scripts")
	}
	for _, path := range append(manifest.Entrypoints, "", "index.html") {
		a := e.do(t, RoleViewer, "GET", "/monitor/"+path, "")
		rec := httptest.NewRecorder()
		alone.ServeHTTP(rec, httptest.NewRequest("GET", "/monitor/"+path, nil))
		if a.status != rec.Code || !bytes.Equal(a.body, rec.Body.Bytes()) || a.header.Get("Content-Type") != rec.Header().Get("Content-Type") {
			t.Errorf("/monitor/%s: %d %s (%d bytes), asynqmon alone %d %s (%d bytes)", path, a.status,
				a.header.Get("Content-Type"), len(a.body), rec.Code, rec.Header().Get("Content-Type"), rec.Body.Len())
		}
	}
}

// TestQueueMonitorWithoutRedisIs503: with the queues' Redis gone, the
// monitor's failures are 503 problems with Retry-After.
func TestQueueMonitorWithoutRedisIs503(t *testing.T) {
	t.Parallel()
	e := setup(t)
	proc := servicetest.RedisProcess(t)
	ropt, err := asynq.ParseRedisURI(proc.URL())
	if err != nil {
		t.Fatal(err)
	}
	e.withMonitor(t, ropt)
	want(t, e.do(t, RoleViewer, "GET", "/monitor/api/queues", ""), http.StatusOK)
	proc.Stop(t)
	a := e.do(t, RoleViewer, "GET", "/monitor/api/queues", "")
	if p := a.problem(t); a.status != http.StatusServiceUnavailable || p.Code != "unavailable" || a.header.Get("Retry-After") == "" {
		t.Errorf("monitor without Redis: %d %+v, Retry-After %q", a.status, p, a.header.Get("Retry-After"))
	}
}
