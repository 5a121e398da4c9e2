package api

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/tinmanhq/tinman/client"
	"github.com/tinmanhq/tinman/jobs"
)

// FleetPage is the answer to GET /v1/fleet (the Go client's wire type).
type FleetPage = client.FleetPage

// FleetCounts is the answer to GET /v1/fleet/counts (the Go client's wire type).
type FleetCounts = client.FleetCounts

// fleetQuery is what GET /v1/fleet and /v1/fleet/counts filter by, read
// from their query.
type fleetQuery struct {
	site        string
	state       jobs.ServerState
	power       jobs.PowerState
	maintenance *bool
	selector    map[string]string
	text        string
	offset      int
	limit       int
}

// powerStates are the power states a fleet page may be filtered by.
var powerStates = []jobs.PowerState{jobs.PowerStateOn, jobs.PowerStateOff, jobs.PowerStateUnknown}

// Parameters of the fleet's routes: the filters, and a page's.
var (
	fleetFilters = []string{"site", "power", "maintenance", "selector", "q"}
	fleetPaging  = []string{"state", "offset", "limit"}
)

// readFleetQuery reads ?site=&power=&maintenance=&selector=&q=, and with paged
// also &state=&offset=&limit=.
func readFleetQuery(q url.Values, paged bool) (fleetQuery, error) {
	f := fleetQuery{limit: 100, text: strings.ToLower(strings.TrimSpace(q.Get("q")))}
	params := fleetFilters
	if paged {
		params = slices.Concat(fleetFilters, fleetPaging)
	}
	if err := onlyParams(q, params...); err != nil {
		return f, err
	}
	if f.site = q.Get("site"); f.site != "" && !jobs.ValidSite(f.site) {
		return f, jobs.Invalid("site", "must be a site name: ^[a-z0-9][a-z0-9-]{0,62}$")
	}
	if f.state = jobs.ServerState(q.Get("state")); f.state != "" && !slices.Contains(jobs.ServerStates(), f.state) {
		return f, jobs.Invalid("state", "must be "+jobs.JoinStates(jobs.ServerStates()))
	}
	if f.power = jobs.PowerState(q.Get("power")); f.power != "" && !slices.Contains(powerStates, f.power) {
		return f, jobs.Invalid("power", "must be on, off or unknown")
	}
	if m := q.Get("maintenance"); m != "" {
		b, err := strconv.ParseBool(m)
		if err != nil {
			return f, jobs.Invalid("maintenance", "must be true or false")
		}
		f.maintenance = &b
	}
	if len(f.text) > 200 {
		return f, jobs.Invalid("q", "must be at most 200 characters")
	}
	sel, err := ParseSelector(q.Get("selector"))
	if err != nil {
		return f, err
	}
	f.selector = sel
	if err := parseLimit(q.Get("limit"), &f.limit); err != nil {
		return f, err
	}
	return f, parseOffset(q.Get("offset"), &f.offset)
}

func parseOffset(s string, offset *int) error {
	if s == "" {
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return jobs.Invalid("offset", "must be a whole number, 0 or more")
	}
	*offset = n
	return nil
}

// filtered reports whether f keeps fewer than every server.
func (f fleetQuery) filtered() bool {
	return f.site != "" || f.state != "" || f.power != "" || f.maintenance != nil || len(f.selector) > 0 || f.text != ""
}

// keeps reports whether srv passes every filter of f but the state.
func (f fleetQuery) keeps(srv jobs.Server) bool {
	switch {
	case f.site != "" && jobs.SiteOf(srv.Site) != f.site:
		return false
	case f.power != "" && srv.PowerState != f.power:
		return false
	case f.maintenance != nil && (srv.Maintenance != nil) != *f.maintenance:
		return false
	}
	return f.text == "" || strings.Contains(searchText(srv), f.text)
}

// searchText is what the text filter looks in: the id, the site, each
// label as k=v, the BMC address, the maintenance reason and the last error,
// lower case.
func searchText(srv jobs.Server) string {
	parts := []string{srv.ID, jobs.SiteOf(srv.Site), srv.BMC.Address}
	for k, v := range srv.Labels {
		parts = append(parts, k+"="+v)
	}
	if srv.Maintenance != nil {
		parts = append(parts, srv.Maintenance.Reason)
	}
	if srv.LastError != nil {
		parts = append(parts, srv.LastError.Reason)
	}
	return strings.ToLower(strings.Join(parts, "\n"))
}

// fleet answers GET /v1/fleet: one page of the servers that match, sorted
// by id in natural order (sim-2 before sim-10), so that a browser never holds more than a page of a fleet of any
// size. With no filter the page costs only its own records; a filter reads
// every record the selector leaves.
func (a *API) fleet(w http.ResponseWriter, r *http.Request) {
	f, err := readFleetQuery(r.URL.Query(), true)
	if err != nil {
		fail(w, r, err)
		return
	}
	var page FleetPage
	if f.filtered() {
		page, err = a.fleetFiltered(r.Context(), f)
	} else {
		page, err = a.fleetPage(r.Context(), f)
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// fleetFiltered reads the servers of the selector and keeps a page of those
// that pass the other filters.
func (a *API) fleetFiltered(ctx context.Context, f fleetQuery) (FleetPage, error) {
	all, err := a.cfg.Store.ListServers(ctx, f.selector)
	if err != nil {
		return FleetPage{}, err
	}
	matched := slices.DeleteFunc(all, func(s jobs.Server) bool { return !f.keeps(s) || f.state != "" && s.State != f.state })
	page := FleetPage{Matched: len(matched), Offset: f.offset, Servers: []jobs.Server{}}
	if f.offset < len(matched) {
		page.Servers = matched[f.offset:min(f.offset+f.limit, len(matched))]
	}
	return page, nil
}

// fleetPage reads the ids of every server and the records of one page of them.
func (a *API) fleetPage(ctx context.Context, f fleetQuery) (FleetPage, error) {
	ids, err := a.cfg.Store.ServerIDs(ctx)
	if err != nil {
		return FleetPage{}, err
	}
	slices.SortFunc(ids, jobs.CompareIDs)
	page := FleetPage{Matched: len(ids), Offset: f.offset, Servers: []jobs.Server{}}
	if f.offset >= len(ids) {
		return page, nil
	}
	page.Servers, err = a.cfg.Store.ServersByID(ctx, ids[f.offset:min(f.offset+f.limit, len(ids))])
	return page, err
}

// fleetCounts answers GET /v1/fleet/counts: how many servers pass the
// filters, in each lifecycle state. It reads every record the selector
// leaves: a page shows its servers first and its counts after.
func (a *API) fleetCounts(w http.ResponseWriter, r *http.Request) {
	f, err := readFleetQuery(r.URL.Query(), false)
	if err != nil {
		fail(w, r, err)
		return
	}
	all, err := a.cfg.Store.ListServers(r.Context(), f.selector)
	if err != nil {
		fail(w, r, err)
		return
	}
	counts := FleetCounts{States: map[jobs.ServerState]int{}}
	for _, srv := range all {
		if f.keeps(srv) {
			counts.Matched++
			counts.States[srv.State]++
		}
	}
	writeJSON(w, http.StatusOK, counts)
}

// inventory answers GET /v1/servers/{id}/inventory: the hardware the last
// inspect read, or 404 when the server was never inspected.
func (a *API) inventory(w http.ResponseWriter, r *http.Request) {
	id, ok := serverID(w, r)
	if !ok {
		return
	}
	inv, err := a.cfg.Store.Inventory(r.Context(), id)
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, inv)
}
