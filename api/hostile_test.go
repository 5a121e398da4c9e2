package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tinmanhq/tinman/hostiletest"
)

// TestHostileHTTP walks the catalogue of hostile HTTP requests
// (testdata/hostile, edge "http") against the API as it is served: each
// gets its status and the problem naming its field; none submits a job,
// changes a record or a server, or leaves a consumer behind; the API stays
// ready between cases and takes a good request at the end.
func TestHostileHTTP(t *testing.T) {
	t.Parallel()
	h := setupHostile(t)
	h.walk(t, "http", h.send)
	good := `{"type":"power","server":"srv-1","params":{"action":"status"}}`
	a := h.send(t, hostiletest.Case{Method: "POST", Path: "/v1/jobs", Role: "operator", Text: &good})
	want(t, a, http.StatusAccepted)
}

// TestHostileOddIDsStayInTheirKeys: ids that are valid but spell internal
// words, event ids or keys make their own records and nothing else: each
// job only its submitted record and its index entries, each server only
// its record and the registry's entry.
func TestHostileOddIDsStayInTheirKeys(t *testing.T) {
	t.Parallel()
	h := setupHostile(t)
	for _, id := range []string{"pending", "open", "outbox-pending", "jobs", "rejected.TINMAN_REQUESTS.1",
		"server.srv-1.1", "job.job-1.1", "tinman:job:job-1", "job-1.", "asynq:default:pending"} {
		before := h.state(t)
		body := `{"id":"` + id + `","type":"power","server":"srv-1","params":{"action":"status"}}`
		want(t, h.send(t, hostiletest.Case{Method: "POST", Path: "/v1/jobs", Role: "operator", Text: &body}), http.StatusAccepted)
		after := h.state(t)
		h.onlyChanged(t, before.redis.Diff(after.redis), "changed tinman:jobs:", "changed tinman:jobs:server:srv-1:", "added tinman:submitted:"+id+":")
		if after.requests != before.requests+1 {
			t.Errorf("job %s: %d requests published, want 1", id, after.requests-before.requests)
		}
	}
	for _, id := range []string{"pending", "servers", "breakers-open", "layout", "key-check", "outbox-pending"} {
		before := h.state(t)
		body := `{"id":"` + id + `","bmc":{"address":"10.0.0.9","provider":"ipmi"},"username":"u","password":"p"}`
		want(t, h.send(t, hostiletest.Case{Method: "POST", Path: "/v1/servers", Text: &body}), http.StatusCreated)
		h.onlyChanged(t, before.redis.Diff(h.state(t).redis), "added tinman:server:"+id+":", "changed tinman:servers:")
	}
}

// onlyChanged fails unless diff is exactly the changes whose lines start
// so, in the order of their keys.
func (h *hostile) onlyChanged(t *testing.T, diff []string, starts ...string) {
	t.Helper()
	if len(diff) != len(starts) {
		t.Errorf("Redis changed %d keys, want %d (%v):\n%s", len(diff), len(starts), starts, strings.Join(diff, "\n"))
		return
	}
	for i, d := range diff {
		if !strings.HasPrefix(d, starts[i]) {
			t.Errorf("change %q, want %q...", d, starts[i])
		}
	}
}
