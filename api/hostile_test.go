package api

import (
	"net/http"
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
	for _, c := range hostiletest.Cases(t, "testdata/hostile", "http") {
		t.Run(c.Name, func(t *testing.T) {
			before := h.state(t)
			check(t, c, h.send(t, c))
			h.unchanged(t, before)
			if err := h.ready(t); err != nil {
				t.Fatalf("the API is not ready after the case: %v", err)
			}
		})
	}
	good := `{"type":"power","server":"srv-1","params":{"action":"status"}}`
	a := h.send(t, hostiletest.Case{Method: "POST", Path: "/v1/jobs", Role: "operator", Text: &good})
	want(t, a, http.StatusAccepted)
}
