package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
)

const powerOn = `{"type":"power","server":"srv-1","params":{"action":"on"}}`

func TestSubmitJobIsReadableAtOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.enrol(t, "srv-1", nil)

	a := e.do(t, RoleOperator, "POST", "/v1/jobs", powerOn)
	want(t, a, http.StatusAccepted)
	var sub Submitted
	a.decode(t, &sub)
	if sub.JobID == "" || sub.State != jobs.StateSubmitted {
		t.Fatalf("answer %+v, want a job id and state submitted", sub)
	}
	if loc := a.header.Get("Location"); loc != "/v1/jobs/"+sub.JobID {
		t.Errorf("Location %q", loc)
	}
	// No dispatcher runs: the job is read from its submitted record.
	got := e.do(t, RoleViewer, "GET", "/v1/jobs/"+sub.JobID, "")
	want(t, got, http.StatusOK)
	var job jobs.Job
	got.decode(t, &job)
	if job.ID != sub.JobID || job.State != jobs.StateSubmitted || job.Server != "srv-1" || job.Type != jobs.Power {
		t.Errorf("job right after POST: %+v", job)
	}
	if job.RequestedBy != "operator:"+fingerprint(testTokens[RoleOperator]) {
		t.Errorf("requested_by %q, want the caller's identity", job.RequestedBy)
	}
	msgs := e.requests(t)
	if len(msgs) != 1 || msgs[0].Subject != events.RequestSubject("power") || msgs[0].Header.Get(jetstream.MsgIDHeader) != sub.JobID {
		t.Fatalf("stream holds %+v, want one request on tinman.requests.power with Nats-Msg-Id %s", msgs, sub.JobID)
	}
	// Once the dispatcher made the job record, that record answers.
	var req jobs.Request
	if err := json.Unmarshal(msgs[0].Data, &req); err != nil {
		t.Fatal(err)
	}
	e.accept(t, req)
	got = e.do(t, RoleViewer, "GET", "/v1/jobs/"+sub.JobID, "")
	got.decode(t, &job)
	if job.State != jobs.StateQueued || job.Seq != 1 {
		t.Errorf("job after dispatch: %+v", job)
	}
}

// fingerprint is the hash prefix that names a token in identities.
func fingerprint(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:4])
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.enrol(t, "srv-1", nil)

	first := e.do(t, RoleOperator, "POST", "/v1/jobs", powerOn, IdempotencyKeyHeader, "deploy-42")
	second := e.do(t, RoleOperator, "POST", "/v1/jobs", powerOn, IdempotencyKeyHeader, "deploy-42")
	want(t, first, http.StatusAccepted)
	want(t, second, http.StatusAccepted)
	var s1, s2 Submitted
	first.decode(t, &s1)
	second.decode(t, &s2)
	if s1.JobID != "deploy-42" || s2.JobID != "deploy-42" {
		t.Fatalf("job ids %q and %q, want deploy-42 twice", s1.JobID, s2.JobID)
	}
	if n := len(e.requests(t)); n != 1 {
		t.Errorf("%d requests in the stream, want 1", n)
	}
	// The body's id is the key too; the same id with another request is a conflict.
	a := e.do(t, RoleOperator, "POST", "/v1/jobs", `{"id":"deploy-42","type":"power","server":"srv-1","params":{"action":"off"}}`)
	if p := a.problem(t); a.status != http.StatusConflict || p.Field != "id" {
		t.Errorf("same id, other request: %d %+v", a.status, p)
	}
	if n := len(e.requests(t)); n != 1 {
		t.Errorf("%d requests in the stream after a conflict, want 1", n)
	}
}

func TestSubmitJobRefuses(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.enrol(t, "srv-1", nil)
	e.enrol(t, "srv-m", nil)
	ipmi := jobs.Server{ID: "srv-ipmi", BMC: jobs.BMC{Address: "127.0.0.1:1", Provider: jobs.ProviderIPMI}}
	if err := e.store.EnrollServer(context.Background(), ipmi, jobs.Credentials{Username: "u", Password: "p"}); err != nil {
		t.Fatal(err)
	}
	_, err := e.store.UpdateServer(context.Background(), "srv-m", func(srv *jobs.Server, _ *jobs.Credentials) error {
		srv.Maintenance = &jobs.Maintenance{Reason: "fan", SetBy: "test", Since: time.Now()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	big := `{"type":"power","server":"srv-1","params":{"action":"on"},"requested_by":"` + strings.Repeat("x", 70<<10) + `"}`
	cases := []struct {
		name, body string
		headers    []string
		status     int
		field      string
	}{
		{"not JSON", `{"type":`, nil, 400, ""},
		{"no type", `{"server":"srv-1"}`, nil, 400, "type"},
		{"unknown type", `{"type":"reboot","server":"srv-1"}`, nil, 400, "type"},
		{"bad action", `{"type":"power","server":"srv-1","params":{"action":"explode"}}`, nil, 400, "params.action"},
		{"action given twice", `{"type":"power","server":"srv-1","params":{"action":"status","action":"off"}}`, nil, 400, "params.action"},
		{"no params", `{"type":"power","server":"srv-1"}`, nil, 400, "params"},
		{"unknown field", `{"type":"power","server":"srv-1","params":{"action":"on"},"colour":"red"}`, nil, 400, "colour"},
		{"bad server id", `{"type":"power","server":"SRV 1","params":{"action":"on"}}`, nil, 400, "server"},
		{"server not enrolled", `{"type":"power","server":"srv-2","params":{"action":"on"}}`, nil, 400, "server"},
		{"server in maintenance", `{"type":"power","server":"srv-m","params":{"action":"on"}}`, nil, 409, "server"},
		{"inspect over IPMI", `{"type":"inspect","server":"srv-ipmi"}`, nil, 422, "type"},
		{"provision of a server only enrolled", `{"type":"provision","server":"srv-1","params":{"image":"u"}}`, nil, 409, "server"},
		{"ids differ", `{"id":"a1","type":"power","server":"srv-1","params":{"action":"on"}}`, []string{IdempotencyKeyHeader, "b2"}, 400, "id"},
		{"bad key", powerOn, []string{IdempotencyKeyHeader, "no spaces"}, 400, IdempotencyKeyHeader},
		{"job request over 64 KiB", big, nil, 413, ""},
		{"body over 1 MiB", `{"x":"` + strings.Repeat("y", 1<<20) + `"}`, nil, 413, ""},
		{"not JSON media", powerOn, []string{"Content-Type", "text/plain"}, 415, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := e.do(t, RoleOperator, "POST", "/v1/jobs", c.body, c.headers...)
			p := a.problem(t)
			if a.status != c.status || p.Field != c.field {
				t.Errorf("status %d field %q, want %d %q: %+v", a.status, p.Field, c.status, c.field, p)
			}
		})
	}
	// In maintenance, power status still runs.
	a := e.do(t, RoleOperator, "POST", "/v1/jobs", `{"type":"power","server":"srv-m","params":{"action":"status"}}`)
	want(t, a, http.StatusAccepted)
	if n := len(e.requests(t)); n != 1 {
		t.Errorf("%d requests published, want only the power status", n)
	}
}

func TestSubmitJobWhenNATSIsDown(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.enrol(t, "srv-1", nil)
	e.nats.Shutdown()
	a := e.do(t, RoleOperator, "POST", "/v1/jobs", powerOn, IdempotencyKeyHeader, "lost-1")
	if p := a.problem(t); a.status != http.StatusServiceUnavailable || p.Code != codeUnavailable {
		t.Fatalf("POST with NATS down: %d %+v, want 503", a.status, p)
	}
	if a.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	// Nothing was accepted: the job is not readable.
	want(t, e.do(t, RoleViewer, "GET", "/v1/jobs/lost-1", ""), http.StatusNotFound)
}

func TestRejectedJob(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.enrol(t, "srv-1", nil)
	want(t, e.do(t, RoleOperator, "POST", "/v1/jobs", powerOn, IdempotencyKeyHeader, "refused-1"), http.StatusAccepted)
	// A dispatcher refuses it (the server left meanwhile), as dispatch.reject does.
	cause := &jobs.Error{Code: jobs.CodeNotFound, Field: "server", Message: "server srv-1 is not enrolled"}
	if err := e.store.RejectSubmitted(context.Background(), "refused-1", cause); err != nil {
		t.Fatal(err)
	}
	var job jobs.Job
	e.do(t, RoleViewer, "GET", "/v1/jobs/refused-1", "").decode(t, &job)
	if job.State != jobs.StateRejected || job.Error == nil || job.Error.Field != "server" {
		t.Fatalf("job after its rejection: %+v", job)
	}
	a := e.do(t, RoleOperator, "POST", "/v1/jobs", powerOn, IdempotencyKeyHeader, "refused-1")
	if p := a.problem(t); a.status != http.StatusConflict || p.Field != "id" {
		t.Errorf("resubmitting a rejected id: %d %+v, want 409 naming id", a.status, p)
	}
	if p := e.do(t, RoleOperator, "POST", "/v1/jobs/refused-1/cancel", "").problem(t); p.Status != http.StatusConflict {
		t.Errorf("cancel of a rejected job: %+v", p)
	}
}

func TestGetJobNotFound(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, id := range []string{"nope", "bad%20id"} {
		a := e.do(t, RoleViewer, "GET", "/v1/jobs/"+id, "")
		if p := a.problem(t); a.status != http.StatusNotFound || p.Code != "not_found" {
			t.Errorf("GET job %s: %d %+v", id, a.status, p)
		}
	}
}

func TestListJobs(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for i, r := range []jobs.Request{
		{ID: "j1", Type: jobs.Power, Server: "srv-1", Params: json.RawMessage(`{"action":"on"}`)},
		{ID: "j2", Type: jobs.Inspect, Server: "srv-1"},
		{ID: "j3", Type: jobs.Power, Server: "srv-2", Params: json.RawMessage(`{"action":"off"}`)},
	} {
		job := jobs.NewJob(r, 5, time.Now().Add(time.Duration(i)*time.Millisecond))
		if _, _, err := e.store.Accept(context.Background(), job); err != nil {
			t.Fatal(err)
		}
	}
	cases := map[string]string{
		"":                         "j3,j2,j1",
		"?server=srv-1":            "j2,j1",
		"?type=power":              "j3,j1",
		"?state=queued&limit=2":    "j3,j2",
		"?state=succeeded":         "",
		"?server=srv-1&type=power": "j1",
	}
	for query, wantIDs := range cases {
		if got, _ := listJobs(t, e, query); got != wantIDs {
			t.Errorf("GET /v1/jobs%s: %s, want %s", query, got, wantIDs)
		}
	}
	// Cursor paging: a full page names the next; the last one does not.
	for query, wantPage := range map[string]string{
		"?limit=2":                       "j3,j2 next j2",
		"?limit=2&after=j2":              "j1",
		"?limit=1&after=j3":              "j2 next j2",
		"?server=srv-1&after=j2":         "j1",
		"?type=power&limit=1":            "j3 next j3",
		"?type=power&after=j3":           "j1",
		"?after=j1":                      "",
		"?state=queued&limit=3":          "j3,j2,j1 next j1",
		"?state=queued&limit=3&after=j1": "",
	} {
		got, next := listJobs(t, e, query)
		if next != "" {
			got += " next " + next
		}
		if got != wantPage {
			t.Errorf("GET /v1/jobs%s: %q, want %q", query, got, wantPage)
		}
	}
	if a := e.do(t, RoleViewer, "GET", "/v1/jobs?after=gone", ""); a.status != http.StatusNotFound {
		t.Errorf("GET /v1/jobs?after=gone: %d, want 404 (a cursor no longer listed)", a.status)
	}
	for query, field := range map[string]string{"?after=..%2F": "after", "?state=done": "state", "?type=x": "type", "?limit=0": "limit",
		"?limit=5000": "limit", "?server=A_B": "server", "?sever=srv-1": "sever",
		"?state=queued&state=failed": "state", "?limit=5&limit=500": "limit"} {
		a := e.do(t, RoleViewer, "GET", "/v1/jobs"+query, "")
		if p := a.problem(t); a.status != http.StatusBadRequest || p.Field != field {
			t.Errorf("GET /v1/jobs%s: %d %+v, want 400 naming %s", query, a.status, p, field)
		}
	}
}

// listJobs answers GET /v1/jobs<query> with the ids listed, joined by
// commas, and the page's next cursor.
func listJobs(t *testing.T, e *env, query string) (ids, next string) {
	t.Helper()
	a := e.do(t, RoleViewer, "GET", "/v1/jobs"+query, "")
	want(t, a, http.StatusOK)
	var list JobList
	a.decode(t, &list)
	var got []string
	for _, j := range list.Jobs {
		got = append(got, j.ID)
	}
	return strings.Join(got, ","), list.Next
}

func TestCancelJob(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.enrol(t, "srv-1", nil)
	e.accept(t, jobs.Request{ID: "c1", Type: jobs.Power, Server: "srv-1", Params: json.RawMessage(`{"action":"on"}`)})

	a := e.do(t, RoleOperator, "POST", "/v1/jobs/c1/cancel", "")
	want(t, a, http.StatusOK)
	var job jobs.Job
	a.decode(t, &job)
	if job.State != jobs.StateCanceled {
		t.Errorf("canceled job: %+v", job)
	}
	if p := e.do(t, RoleOperator, "POST", "/v1/jobs/c1/cancel", "").problem(t); p.Status != http.StatusConflict {
		t.Errorf("cancel of an ended job: %+v", p)
	}
	if p := e.do(t, RoleOperator, "POST", "/v1/jobs/none/cancel", "").problem(t); p.Status != http.StatusNotFound {
		t.Errorf("cancel of no job: %+v", p)
	}
	// A job only submitted cannot be canceled yet, and leaves no cancel flag behind.
	want(t, e.do(t, RoleOperator, "POST", "/v1/jobs", powerOn, IdempotencyKeyHeader, "c2"), http.StatusAccepted)
	if p := e.do(t, RoleOperator, "POST", "/v1/jobs/c2/cancel", "").problem(t); p.Status != http.StatusConflict {
		t.Errorf("cancel of a submitted job: %+v", p)
	}
	if asked, _ := e.store.CancelRequested(context.Background(), "c2"); asked {
		t.Error("a refused cancel left its flag")
	}
	// A running job is flagged: 202.
	job = e.accept(t, jobs.Request{ID: "c3", Type: jobs.Power, Server: "srv-1", Params: json.RawMessage(`{"action":"on"}`)})
	job.State = jobs.StateRunning
	if _, err := e.store.Record(context.Background(), &job, events.JobStarted, events.Detail{}); err != nil {
		t.Fatal(err)
	}
	want(t, e.do(t, RoleOperator, "POST", "/v1/jobs/c3/cancel", ""), http.StatusAccepted)
}

func TestSubmitManyConcurrently(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.enrol(t, "srv-1", nil)
	const n = 40
	errs := make(chan error, n)
	for i := range n {
		go func() {
			body := fmt.Sprintf(`{"id":"many-%d","type":"power","server":"srv-1","params":{"action":"on"}}`, i%10)
			req, _ := http.NewRequest("POST", e.srv.URL+"/v1/jobs", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+testTokens[RoleOperator])
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if got := len(e.requests(t)); got != 10 {
		t.Errorf("%d requests in the stream, want 10 (one per id)", got)
	}
}
