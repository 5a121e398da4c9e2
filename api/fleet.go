package api

import (
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

// fleetQuery is what GET /v1/fleet filters by, read from its query.
type fleetQuery struct {
	state       jobs.ServerState
	power       jobs.PowerState
	maintenance *bool
	selector    map[string]string
	text        string
	offset      int
	limit       int
}

// serverStates are the lifecycle states a fleet page may be filtered by.
var serverStates = []jobs.ServerState{jobs.ServerEnrolled, jobs.ServerInspecting, jobs.ServerAvailable,
	jobs.ServerProvisioning, jobs.ServerActive, jobs.ServerDeprovisioning, jobs.ServerError}

// powerStates are the power states a fleet page may be filtered by.
var powerStates = []jobs.PowerState{jobs.PowerStateOn, jobs.PowerStateOff, jobs.PowerStateUnknown}

// readFleetQuery reads ?state=&power=&maintenance=&selector=&q=&offset=&limit=.
func readFleetQuery(q url.Values) (fleetQuery, error) {
	f := fleetQuery{limit: 100, text: strings.ToLower(strings.TrimSpace(q.Get("q")))}
	if err := onlyParams(q, "state", "power", "maintenance", "selector", "q", "offset", "limit"); err != nil {
		return f, err
	}
	if f.state = jobs.ServerState(q.Get("state")); f.state != "" && !slices.Contains(serverStates, f.state) {
		return f, jobs.Invalid("state", "must be "+jobs.JoinStates(serverStates))
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

// keeps reports whether srv passes every filter of f but the state.
func (f fleetQuery) keeps(srv jobs.Server) bool {
	switch {
	case f.power != "" && srv.PowerState != f.power:
		return false
	case f.maintenance != nil && (srv.Maintenance != nil) != *f.maintenance:
		return false
	}
	return f.text == "" || strings.Contains(searchText(srv), f.text)
}

// searchText is what the text filter looks in: the id, each label as k=v,
// the BMC address, the maintenance reason and the last error, lower case.
func searchText(srv jobs.Server) string {
	parts := []string{srv.ID, srv.BMC.Address}
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
// by id, with the count of each state among them, so that a browser never
// holds more than a page of a fleet of any size.
func (a *API) fleet(w http.ResponseWriter, r *http.Request) {
	f, err := readFleetQuery(r.URL.Query())
	if err != nil {
		fail(w, r, err)
		return
	}
	all, err := a.cfg.Store.ListServers(r.Context(), f.selector)
	if err != nil {
		fail(w, r, err)
		return
	}
	page := FleetPage{Offset: f.offset, States: map[jobs.ServerState]int{}, Servers: []jobs.Server{}}
	matched := all[:0]
	for _, srv := range all {
		if !f.keeps(srv) {
			continue
		}
		page.States[srv.State]++
		if f.state == "" || srv.State == f.state {
			matched = append(matched, srv)
		}
	}
	page.Matched = len(matched)
	if f.offset < len(matched) {
		page.Servers = matched[f.offset:min(f.offset+f.limit, len(matched))]
	}
	writeJSON(w, http.StatusOK, page)
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
