package api

import (
	"net/http"
)

// Route patterns that the middleware treats apart.
const (
	routeHealthz = "GET /healthz"
	routeReadyz  = "GET /readyz"
	routeMetrics = "GET /metrics"
	routeEvents  = "GET /v1/events"
	routeMonitor = "GET /monitor/"
	// routeUnmatched marks a request that no route took.
	routeUnmatched = "unmatched"
)

// routeSpec is one route: its ServeMux pattern, the least role that may
// call it (RoleNone: no token), and its handler.
type routeSpec struct {
	pattern string
	role    Role
	handler http.Handler
}

// browser reports whether people open the route in a browser, which can
// only send a token as a Basic auth password.
func (rt routeSpec) browser() bool { return rt.pattern == routeMonitor }

// routes is every route of the API. The OpenAPI document describes
// exactly these (a test walks both ways).
func (a *API) routes() []routeSpec {
	return append([]routeSpec{
		{routeHealthz, RoleNone, http.HandlerFunc(a.health.Healthz)},
		{routeReadyz, RoleNone, http.HandlerFunc(a.health.Readyz)},
		{"GET /openapi.json", RoleNone, http.HandlerFunc(serveOpenAPI)},
		{routeMetrics, RoleViewer, a.metrics.handler()},
		{routeMonitor, RoleViewer, a.monitorHandler()},

		{"POST /v1/jobs", RoleOperator, http.HandlerFunc(a.submitJob)},
		{"GET /v1/jobs", RoleViewer, http.HandlerFunc(a.listJobs)},
		{"GET /v1/jobs/{id}", RoleViewer, http.HandlerFunc(a.getJob)},
		{"POST /v1/jobs/{id}/cancel", RoleOperator, http.HandlerFunc(a.cancelJob)},

		{"POST /v1/servers", RoleAdmin, http.HandlerFunc(a.enrolServer)},
		{"GET /v1/servers", RoleViewer, http.HandlerFunc(a.listServers)},
		{"GET /v1/servers/{id}", RoleViewer, http.HandlerFunc(a.getServer)},
		{"PATCH /v1/servers/{id}", RoleOperator, http.HandlerFunc(a.patchServer)}, // admin for all but maintenance
		{"DELETE /v1/servers/{id}", RoleAdmin, http.HandlerFunc(a.removeServer)},
		{"POST /v1/servers/{id}/callbacks", RoleNone, a.callbacksHandler()},

		{"POST /v1/images", RoleAdmin, http.HandlerFunc(a.addImage)},
		{"GET /v1/images", RoleViewer, http.HandlerFunc(a.listImages)},
		{"GET /v1/images/{name}", RoleViewer, http.HandlerFunc(a.getImage)},
		{"DELETE /v1/images/{name}", RoleAdmin, http.HandlerFunc(a.removeImage)},

		{"POST /v1/webhooks/github", RoleNone, a.webhookHandler(Webhooks.ServeGitHub)},
		{"POST /v1/webhooks/generic", RoleNone, a.webhookHandler(Webhooks.ServeGeneric)},

		{routeEvents, RoleViewer, http.HandlerFunc(a.streamEvents)},
	}, a.consoleRoutes()...)
}

// webhookHandler mounts one method of the configured Webhooks, or answers
// 501 when there are none.
func (a *API) webhookHandler(serve func(Webhooks, http.ResponseWriter, *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.cfg.Webhooks == nil {
			problem(w, r, http.StatusNotImplemented, codeNotImplemented, "webhooks are not configured", "")
			return
		}
		serve(a.cfg.Webhooks, w, r)
	})
}

// callbacksHandler mounts the configured Callbacks, or answers 501.
func (a *API) callbacksHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.cfg.Callbacks == nil {
			problem(w, r, http.StatusNotImplemented, codeNotImplemented, "installer callbacks are not configured", "")
			return
		}
		a.cfg.Callbacks.ServeCallback(w, r)
	})
}

// monitorHandler is asynqmon, read-only, or a 501 without a Redis for it.
func (a *API) monitorHandler() http.Handler {
	if a.monitor == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			problem(w, r, http.StatusNotImplemented, codeNotImplemented, "the queue monitor is not configured", "")
		})
	}
	return a.monitor
}
