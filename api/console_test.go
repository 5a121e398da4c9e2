package api

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/client"
	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
)

func TestWhoamiAnswersTheTokensRole(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, role := range []Role{RoleViewer, RoleOperator, RoleAdmin} {
		a := e.do(t, role, "GET", "/v1/whoami", "")
		want(t, a, http.StatusOK)
		var got Whoami
		a.decode(t, &got)
		name := role.String() + ":" + HashToken(e.tokens[role])[len("sha256:"):][:8]
		if got.Role != role.String() || got.Name != name {
			t.Errorf("%s: %+v, want name %s", role, got, name)
		}
	}
	if p := e.do(t, RoleNone, "GET", "/v1/whoami", "").problem(t); p.Status != http.StatusUnauthorized {
		t.Errorf("no token: %+v", p)
	}
}

// fleetServers enrols a small fleet: two racks, one server in
// maintenance, one in error, one powered on.
func fleetServers(t *testing.T, e *env) {
	t.Helper()
	ctx := context.Background()
	for i := range 12 {
		e.enrol(t, fmt.Sprintf("node-%02d", i), map[string]string{"rack": fmt.Sprintf("r%d", i%2), "site": "ams"})
	}
	change := func(id string, fn func(*jobs.Server)) {
		_, err := e.store.UpdateServer(ctx, id, func(s *jobs.Server, _ *jobs.Credentials) error { fn(s); return nil })
		if err != nil {
			t.Fatal(err)
		}
	}
	change("node-03", func(s *jobs.Server) {
		s.Maintenance = &jobs.Maintenance{Reason: "Fan Replaced", SetBy: "ops", Since: time.Now()}
	})
	change("node-04", func(s *jobs.Server) {
		s.State, s.LastError = jobs.ServerError, &jobs.ServerFailure{Reason: "boot_timeout after power-cycle", JobID: "j-1", At: time.Now()}
	})
	change("node-05", func(s *jobs.Server) { s.PowerState = jobs.PowerStateOn })
	change("node-06", func(s *jobs.Server) { s.Site = "fra" })
	change("node-07", func(s *jobs.Server) { s.Site = "fra" })
}

func TestFleetFiltersAndPages(t *testing.T) {
	t.Parallel()
	e := setup(t)
	fleetServers(t, e)
	for _, tt := range []struct {
		query   string
		matched int
		ids     []string
	}{
		{"limit=3", 12, []string{"node-00", "node-01", "node-02"}},
		{"limit=3&offset=10", 12, []string{"node-10", "node-11"}},
		{"offset=99", 12, nil},
		{"state=error", 1, []string{"node-04"}},
		{"selector=rack%3Dr1&state=enrolled&limit=2", 6, []string{"node-01", "node-03"}},
		{"selector=rack%3Dr0&limit=4&offset=4", 6, []string{"node-08", "node-10"}},
		{"maintenance=true", 1, []string{"node-03"}},
		{"maintenance=false&selector=rack%3Dr1&limit=1", 5, []string{"node-01"}},
		{"power=on", 1, []string{"node-05"}},
		{"q=FAN", 1, []string{"node-03"}},
		{"q=boot_timeout", 1, []string{"node-04"}},
		{"q=rack%3Dr0&limit=2", 6, []string{"node-00", "node-02"}},
		{"q=node-1", 2, []string{"node-10", "node-11"}},
		{"state=active", 0, nil},
		{"site=fra", 2, []string{"node-06", "node-07"}},
		{"site=default&selector=rack%3Dr1&limit=3", 5, []string{"node-01", "node-03", "node-05"}},
		{"q=FRA", 2, []string{"node-06", "node-07"}},
	} {
		t.Run(tt.query, func(t *testing.T) {
			a := e.do(t, RoleViewer, "GET", "/v1/fleet?"+tt.query, "")
			want(t, a, http.StatusOK)
			var page FleetPage
			a.decode(t, &page)
			var ids []string
			for _, s := range page.Servers {
				ids = append(ids, s.ID)
			}
			if !slices.Equal(ids, tt.ids) || page.Matched != tt.matched || page.Servers == nil {
				t.Errorf("servers %v of %d, want %v of %d", ids, page.Matched, tt.ids, tt.matched)
			}
		})
	}
}

func TestFleetCounts(t *testing.T) {
	t.Parallel()
	e := setup(t)
	fleetServers(t, e)
	for query, want := range map[string]FleetCounts{
		"":                   {Matched: 12, States: map[jobs.ServerState]int{"enrolled": 11, "error": 1}},
		"selector=rack%3Dr1": {Matched: 6, States: map[jobs.ServerState]int{"enrolled": 6}},
		"q=boot":             {Matched: 1, States: map[jobs.ServerState]int{"error": 1}},
		"power=off":          {Matched: 0, States: map[jobs.ServerState]int{}},
	} {
		a := e.do(t, RoleViewer, "GET", "/v1/fleet/counts?"+query, "")
		var got FleetCounts
		a.decode(t, &got)
		if a.status != http.StatusOK || got.Matched != want.Matched || !maps.Equal(got.States, want.States) {
			t.Errorf("%q: %d %+v, want %+v", query, a.status, got, want)
		}
	}
}

func TestFleetRefusesWhatItDoesNotKnow(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for query, field := range map[string]string{
		"state=lost": "state", "site=Fra": "site", "power=half": "power", "maintenance=maybe": "maintenance", "limit=0": "limit",
		"offset=-1": "offset", "selector=rack": "selector", "page=2": "page", "q=a&q=b": "q",
	} {
		if p := e.do(t, RoleViewer, "GET", "/v1/fleet?"+query, "").problem(t); p.Status != http.StatusBadRequest || p.Field != field {
			t.Errorf("%s: %d field %q, want 400 naming %s", query, p.Status, p.Field, field)
		}
	}
	for _, param := range []string{"state=error", "offset=1", "limit=5"} {
		if p := e.do(t, RoleViewer, "GET", "/v1/fleet/counts?"+param, "").problem(t); p.Status != http.StatusBadRequest {
			t.Errorf("counts with %s: %+v, want 400: counts are by state, of every page", param, p)
		}
	}
}

func TestInventoryOnceInspected(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.enrol(t, "node-1", nil)
	if p := e.do(t, RoleViewer, "GET", "/v1/servers/node-1/inventory", "").problem(t); p.Status != http.StatusNotFound {
		t.Errorf("never inspected: %+v", p)
	}
	if p := e.do(t, RoleViewer, "GET", "/v1/servers/node-9/inventory", "").problem(t); p.Status != http.StatusNotFound {
		t.Errorf("not enrolled: %+v", p)
	}
	inv := jobs.Inventory{Vendor: "Acme", Model: "X1", CPUs: []jobs.CPU{{Model: "Z", Cores: 8}}, InspectedAt: time.Now().UTC()}
	if err := e.store.SetInventory(context.Background(), "node-1", inv); err != nil {
		t.Fatal(err)
	}
	a := e.do(t, RoleViewer, "GET", "/v1/servers/node-1/inventory", "")
	want(t, a, http.StatusOK)
	var got jobs.Inventory
	a.decode(t, &got)
	if got.Vendor != "Acme" || len(got.CPUs) != 1 || got.CPUs[0].Cores != 8 {
		t.Errorf("inventory %+v", got)
	}
}

// record moves job to state with result and error, as a worker would.
func (e *env) record(t *testing.T, job jobs.Job, state jobs.State, result any, failure *jobs.Error) jobs.Job {
	t.Helper()
	job.State, job.Error = state, failure
	if result != nil {
		data, err := json.Marshal(result)
		if err != nil {
			t.Fatal(err)
		}
		job.Result = data
	}
	typ := events.JobProgress
	switch state {
	case jobs.StateSucceeded:
		typ = events.JobSucceeded
	case jobs.StateFailed:
		typ = events.JobFailed
	}
	if _, err := e.store.Record(context.Background(), &job, typ, events.Detail{}); err != nil {
		t.Fatal(err)
	}
	return job
}

// deploy accepts a deploy of servers a to e in batches of 2, holding them
// as its admission does.
func (e *env) deploy(t *testing.T, id string) jobs.Job {
	t.Helper()
	if err := e.store.HoldServers(context.Background(), id, []string{"a", "b", "c", "d", "e"}); err != nil {
		t.Fatal(err)
	}
	return e.accept(t, jobs.Request{ID: id, Type: jobs.Deploy,
		Params: json.RawMessage(`{"image":"img-2","servers":["a","b","c","d","e"],"batch_size":2}`)})
}

// plan is the result of a deploy of a to e in batches of 2 at batch current.
func plan(current int, started any, succeeded, failed int, halted bool) map[string]any {
	return map[string]any{"image": "img-2", "servers": 5, "batch_size": 2, "batches": 3, "current": current,
		"started_at": started, "succeeded": succeeded, "failed": failed, "halted": halted}
}

func (e *env) provision(t *testing.T, deploy, server string) jobs.Job {
	t.Helper()
	return e.accept(t, jobs.Request{ID: deploy + "." + server, Type: jobs.Provision, Server: server,
		Params: json.RawMessage(`{"image":"img-2"}`)})
}

func (e *env) deployView(t *testing.T, id string) DeployView {
	t.Helper()
	a := e.do(t, RoleViewer, "GET", "/v1/deploys/"+id, "")
	want(t, a, http.StatusOK)
	var v DeployView
	a.decode(t, &v)
	return v
}

// children says each batch as "state: server=state ..." for comparison.
func children(v DeployView) []string {
	var out []string
	for _, b := range v.Batches {
		s := b.State + ":"
		for _, c := range b.Servers {
			s += " " + c.Server + "=" + string(c.State)
		}
		out = append(out, s)
	}
	return out
}

func TestDeployViewLaysOutTheBatches(t *testing.T) {
	t.Parallel()
	e := setup(t)
	if v := e.deployView(t, e.deploy(t, "dep-new").ID); len(v.Batches) != 0 || v.Image != "img-2" {
		t.Errorf("before its plan: %+v", v)
	}
	if err := e.store.ReleaseServers(context.Background(), "dep-new"); err != nil {
		t.Fatal(err)
	}
	dep := e.deploy(t, "dep")
	started := time.Now().UTC()
	e.record(t, dep, jobs.StateRunning, plan(1, started, 1, 1, false), nil)
	e.record(t, e.provision(t, "dep", "a"), jobs.StateSucceeded, nil, nil)
	e.record(t, e.provision(t, "dep", "b"), jobs.StateFailed, nil, &jobs.Error{Code: "boot_timeout", Message: "no booted callback"})
	e.record(t, e.provision(t, "dep", "c"), jobs.StateRunning, nil, nil)
	v := e.deployView(t, "dep")
	got := children(v)
	wantBatches := []string{"done: a=succeeded b=failed", "running: c=running d=pending", "waiting: e=pending"}
	if !slices.Equal(got, wantBatches) || v.Current != 1 || v.Halted || v.HaltReason != "" {
		t.Fatalf("batches %q current %d halted %v %q, want %q", got, v.Current, v.Halted, v.HaltReason, wantBatches)
	}
	if b := v.Batches[0].Servers[1]; b.JobID != "dep.b" || b.Error == nil || b.Error.Code != "boot_timeout" {
		t.Errorf("failed child %+v", b)
	}
}

func TestDeployViewSaysWhyItHalted(t *testing.T) {
	t.Parallel()
	e := setup(t)
	dep := e.deploy(t, "halt")
	e.record(t, e.provision(t, "halt", "a"), jobs.StateFailed, nil, &jobs.Error{Code: "bmc_unreachable", Message: "dial tcp: refused"})
	e.record(t, e.provision(t, "halt", "b"), jobs.StateSucceeded, nil, nil)
	msg := "1 failure passed max_failures 0: a (bmc_unreachable: dial tcp: refused)"
	e.record(t, dep, jobs.StateFailed, plan(1, nil, 1, 1, true), &jobs.Error{Code: "deploy_halted", Message: msg})
	v := e.deployView(t, "halt")
	got := children(v)
	wantBatches := []string{"done: a=failed b=succeeded", "skipped: c=pending d=pending", "skipped: e=pending"}
	if !slices.Equal(got, wantBatches) || !v.Halted || v.HaltReason != msg {
		t.Errorf("batches %q halted %v %q, want %q and the reason", got, v.Halted, v.HaltReason, wantBatches)
	}
	e.accept(t, jobs.Request{ID: "p-1", Type: jobs.Power, Server: "a", Params: json.RawMessage(`{"action":"on"}`)})
	for _, path := range []string{"/v1/deploys/p-1", "/v1/deploys/nope", "/v1/deploys/%20bad"} {
		if p := e.do(t, RoleViewer, "GET", path, "").problem(t); p.Status != http.StatusNotFound {
			t.Errorf("%s: %+v", path, p)
		}
	}
}

// vitalsOf is a fixed source of vitals, or of an error.
type vitalsOf struct {
	v   client.Vitals
	err error
}

func (f vitalsOf) Vitals(context.Context) (client.Vitals, error) { return f.v, f.err }

func TestVitals(t *testing.T) {
	t.Parallel()
	none := setup(t)
	if p := none.do(t, RoleViewer, "GET", "/v1/vitals", "").problem(t); p.Status != http.StatusNotImplemented {
		t.Errorf("no source: %+v", p)
	}
	figures := client.Vitals{Queues: []client.QueueSize{{Name: "default", Pending: 3, Retry: 1}}, BreakersOpen: []string{"node-2"}, OutboxBacklog: 4}
	e := setup(t, func(c *Config) { c.Vitals = vitalsOf{v: figures} })
	a := e.do(t, RoleViewer, "GET", "/v1/vitals", "")
	want(t, a, http.StatusOK)
	var got client.Vitals
	a.decode(t, &got)
	if len(got.Queues) != 1 || got.Queues[0] != figures.Queues[0] || !slices.Equal(got.BreakersOpen, figures.BreakersOpen) || got.OutboxBacklog != 4 {
		t.Errorf("vitals %+v, want %+v", got, figures)
	}
	empty := setup(t, func(c *Config) { c.Vitals = vitalsOf{} })
	if a := empty.do(t, RoleViewer, "GET", "/v1/vitals", ""); string(a.body) != `{"queues":[],"breakers_open":[],"outbox_backlog":0}`+"\n" {
		t.Errorf("no figures: %s, want empty lists", a.body)
	}
	down := setup(t, func(c *Config) { c.Vitals = vitalsOf{err: fmt.Errorf("read queues: %w", ErrUnavailable)} })
	if p := down.do(t, RoleViewer, "GET", "/v1/vitals", "").problem(t); p.Status != http.StatusServiceUnavailable {
		t.Errorf("Redis down: %+v", p)
	}
}

func TestConsoleIsMountedUnderUI(t *testing.T) {
	t.Parallel()
	none := setup(t)
	if p := none.do(t, RoleNone, "GET", "/ui/", "").problem(t); p.Status != http.StatusNotImplemented {
		t.Errorf("no console: %+v", p)
	}
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("console " + r.URL.Path)) })
	e := setup(t, func(c *Config) { c.Console = page })
	for _, path := range []string{"/ui/", "/ui/lib/api.js"} {
		a := e.do(t, RoleNone, "GET", path, "")
		want(t, a, http.StatusOK)
		if string(a.body) != "console "+path {
			t.Errorf("%s: %s", path, a.body)
		}
	}
	if a := e.do(t, RoleNone, "GET", "/ui", ""); a.status != http.StatusOK || string(a.body) != "console /ui/" {
		t.Errorf("/ui: %d %s, want a redirect to /ui/", a.status, a.body)
	}
	if a := e.do(t, RoleNone, "POST", "/ui/", "{}"); a.status != http.StatusMethodNotAllowed {
		t.Errorf("POST /ui/: %d", a.status)
	}
}
