package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// An advisory check's failure shows in /readyz and leaves the process
// ready; any other check's failure makes it not ready.
func TestReadyzAdvisoryChecks(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		advisory bool
		want     int
	}{{"advisory", true, http.StatusOK}, {"required", false, http.StatusServiceUnavailable}} {
		h := NewHealth(0,
			Check{Name: "redis", Probe: func(context.Context) error { return nil }},
			Check{Name: "sites", Advisory: c.advisory, Probe: func(context.Context) error { return errors.New("site b: 1 jobs wait") }})
		h.probe(t.Context())
		rec := httptest.NewRecorder()
		h.Readyz(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		var body struct {
			Checks map[string]string `json:"checks"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != c.want || body.Checks["sites"] != "site b: 1 jobs wait" || body.Checks["redis"] != "ok" {
			t.Errorf("%s: %d %s, want %d naming the sites", c.name, rec.Code, rec.Body, c.want)
		}
	}
}
