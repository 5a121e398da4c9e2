package api

import (
	"net/http"
	"slices"
	"testing"
)

// The fleet's pages and the server list follow natural id order (sim-2
// before sim-10), the same order on every page.
func TestServersInNaturalOrder(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, id := range []string{"sim-10", "sim-2", "sim-1", "sim-100", "sim-20"} {
		e.enrol(t, id, map[string]string{"rack": "r1"})
	}
	order := []string{"sim-1", "sim-2", "sim-10", "sim-20", "sim-100"}
	var paged []string
	for _, query := range []string{"limit=2", "limit=2&offset=2", "limit=2&offset=4", "selector=rack%3Dr1&limit=2&offset=2"} {
		a := e.do(t, RoleViewer, "GET", "/v1/fleet?"+query, "")
		want(t, a, http.StatusOK)
		var page FleetPage
		a.decode(t, &page)
		for _, s := range page.Servers {
			paged = append(paged, s.ID)
		}
	}
	if wantPaged := append(slices.Clone(order), "sim-10", "sim-20"); !slices.Equal(paged, wantPaged) {
		t.Errorf("pages gave %q, want %q", paged, wantPaged)
	}
	a := e.do(t, RoleViewer, "GET", "/v1/servers?selector=rack%3Dr1", "")
	want(t, a, http.StatusOK)
	var list ServerList
	a.decode(t, &list)
	var ids []string
	for _, s := range list.Servers {
		ids = append(ids, s.ID)
	}
	if !slices.Equal(ids, order) {
		t.Errorf("GET /v1/servers listed %q, want %q", ids, order)
	}
}
