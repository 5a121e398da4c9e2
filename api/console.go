package api

import (
	"context"
	"net/http"

	"github.com/tinmanhq/tinman/client"
)

// The web console (package ui) is served under /ui/ with no token: its
// pages hold no data. The data comes from the routes it calls with the
// token the browser keeps, among them the read routes of this file and of
// fleet.go and deploys.go, made for it and open to any client.

// routeConsole is the web console's subtree.
const routeConsole = "GET /ui/"

// Vitals reads the figures of the console's health strip (cmd/tinman reads
// them from the asynq queues, the store and its outbox).
type Vitals interface {
	Vitals(ctx context.Context) (client.Vitals, error)
}

// Whoami is the answer to GET /v1/whoami (the Go client's wire type).
type Whoami = client.Whoami

// consoleHandler serves the configured console, or answers 501.
func (a *API) consoleHandler() http.Handler {
	if a.cfg.Console == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			problem(w, r, http.StatusNotImplemented, codeNotImplemented, "the web console is not served by this API", "")
		})
	}
	return a.cfg.Console
}

// whoami answers GET /v1/whoami: the caller's role, so that a page offers
// only what the token may do.
func (a *API) whoami(w http.ResponseWriter, r *http.Request) {
	id := identityOf(r.Context())
	writeJSON(w, http.StatusOK, Whoami{Role: id.Role.String(), Name: id.Name})
}

// vitals answers GET /v1/vitals, or 501 without a source of them.
func (a *API) vitals(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Vitals == nil {
		problem(w, r, http.StatusNotImplemented, codeNotImplemented, "this API has no source of vitals", "")
		return
	}
	v, err := a.cfg.Vitals.Vitals(r.Context())
	if err != nil {
		fail(w, r, err)
		return
	}
	if v.Queues == nil {
		v.Queues = []client.QueueSize{}
	}
	if v.BreakersOpen == nil {
		v.BreakersOpen = []string{}
	}
	writeJSON(w, http.StatusOK, v)
}

// consoleRoutes are the console's pages and the read routes made for it.
func (a *API) consoleRoutes() []routeSpec {
	return []routeSpec{
		{routeConsole, RoleNone, a.consoleHandler()},
		{"GET /v1/whoami", RoleViewer, http.HandlerFunc(a.whoami)},
		{"GET /v1/fleet", RoleViewer, http.HandlerFunc(a.fleet)},
		{"GET /v1/fleet/counts", RoleViewer, http.HandlerFunc(a.fleetCounts)},
		{"GET /v1/servers/{id}/inventory", RoleViewer, http.HandlerFunc(a.inventory)},
		{"GET /v1/deploys/{id}", RoleViewer, http.HandlerFunc(a.deployView)},
		{"GET /v1/vitals", RoleViewer, http.HandlerFunc(a.vitals)},
	}
}
