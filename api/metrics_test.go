package api

import (
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// TestMetricsCardinalityBounded sends 20 ordinary requests, then 20,000
// with random methods and paths: the registry holds as many series after
// as before, and the hostile requests were counted, under "other" and
// "unmatched".
func TestMetricsCardinalityBounded(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, rq := range ordinaryRequests() {
		e.serve(t, rq.role, rq.method, rq.path)
	}
	before, unmatched := e.series(t)
	rng := rand.New(rand.NewPCG(10, 2))
	const hostile = 20000
	for i := range hostile {
		role := RoleNone
		if i%2 == 0 {
			role = RoleViewer
		}
		e.serve(t, role, randomMethod(rng), randomPath(rng))
	}
	after, unmatchedAfter := e.series(t)
	if after != before {
		t.Errorf("%d series after 20 ordinary requests, %d after %d hostile ones more", before, after, hostile)
	}
	if unmatchedAfter != unmatched+hostile {
		t.Errorf(`{method="other",route="unmatched",status="404"} counted %d, want %d`, unmatchedAfter, unmatched+hostile)
	}
}

// ordinaryRequest is a request of the ordinary traffic.
type ordinaryRequest struct {
	role         Role
	method, path string
}

// ordinaryRequests is what probes, scrapes and the CLI send, a mistyped
// path and a wrong method included: 20 requests.
func ordinaryRequests() []ordinaryRequest {
	return []ordinaryRequest{
		{RoleNone, "GET", "/healthz"}, {RoleNone, "GET", "/healthz"}, {RoleNone, "GET", "/readyz"},
		{RoleNone, "GET", "/readyz"}, {RoleNone, "GET", "/openapi.json"}, {RoleViewer, "GET", "/metrics"},
		{RoleViewer, "GET", "/metrics"}, {RoleViewer, "GET", "/v1/jobs"}, {RoleViewer, "GET", "/v1/jobs?state=failed"},
		{RoleViewer, "GET", "/v1/jobs/none"}, {RoleViewer, "GET", "/v1/servers"}, {RoleViewer, "GET", "/v1/servers/none"},
		{RoleViewer, "GET", "/v1/servers?selector=rack=r1"}, {RoleNone, "GET", "/v1/jobs"}, {RoleViewer, "GET", "/v1/job"},
		{RoleAdmin, "PUT", "/v1/jobs"}, {RoleViewer, "POST", "/v1/jobs"}, {RoleViewer, "GET", "/v1/events?since=x"},
		{RoleNone, "GET", "/healthz"}, {RoleViewer, "GET", "/v1/jobs"},
	}
}

// randomMethod is a method token of 1 to 12 letters, or a standard one.
func randomMethod(rng *rand.Rand) string {
	std := []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT"}
	if rng.IntN(3) == 0 {
		return std[rng.IntN(len(std))]
	}
	return randomString(rng, 1+rng.IntN(12), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
}

// randomPath is a path of 1 to 4 random segments, under / or /v1/.
func randomPath(rng *rand.Rand) string {
	var b strings.Builder
	if rng.IntN(2) == 0 {
		b.WriteString("/v1")
	}
	for range 1 + rng.IntN(4) {
		b.WriteString("/")
		b.WriteString(randomString(rng, 1+rng.IntN(20), "abcdefghijklmnopqrstuvwxyz0123456789-_~"))
	}
	return b.String()
}

func randomString(rng *rand.Rand, n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

// serve sends one request straight to the API's handler.
func (e *env) serve(t *testing.T, role Role, method, path string) int {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	if role != RoleNone {
		r.Header.Set("Authorization", "Bearer "+e.tokens[role])
	}
	w := httptest.NewRecorder()
	e.api.Handler().ServeHTTP(w, r)
	return w.Code
}

// series counts the series of the API's registry, and the requests counted
// as {method="other",route="unmatched",status="404"}.
func (e *env) series(t *testing.T) (int, uint64) {
	t.Helper()
	families, err := e.api.Registry().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	n, unmatched := 0, uint64(0)
	for _, mf := range families {
		n += len(mf.GetMetric())
		if mf.GetName() != "tinman_http_request_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if hasLabels(m, labelOther, routeUnmatched, "404") {
				unmatched = m.GetHistogram().GetSampleCount()
			}
		}
	}
	return n, unmatched
}

func hasLabels(m *dto.Metric, method, route, status string) bool {
	want := map[string]string{"method": method, "route": route, "status": status}
	for _, l := range m.GetLabel() {
		if want[l.GetName()] != l.GetValue() {
			return false
		}
	}
	return true
}

// The label helpers map what clients send onto a known set.
func TestMetricLabels(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ method, route, want string }{
		{"GET", "GET /v1/jobs", "GET"}, {"HEAD", "GET /healthz", "HEAD"}, {"BREW", "GET /v1/jobs", "other"},
		{"GET", routeUnmatched, "other"}, {"XYZZY", routeUnmatched, "other"},
	} {
		if got := methodLabel(c.method, c.route); got != c.want {
			t.Errorf("methodLabel(%q, %q) = %q, want %q", c.method, c.route, got, c.want)
		}
	}
	for status, want := range map[int]string{200: "200", 404: "404", 599: "599", 99: "other", 600: "other", 0: "other"} {
		if got := statusLabel(status); got != want {
			t.Errorf("statusLabel(%d) = %q, want %q", status, got, want)
		}
	}
}
