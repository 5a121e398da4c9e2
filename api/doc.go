// Package api is Tinman's HTTP face: the routes of the contract (jobs,
// servers, events as Server-Sent Events, callbacks, webhooks, health,
// metrics, the OpenAPI document and the read-only queue monitor) on a
// net/http ServeMux, behind bearer-token auth with roles, request ids,
// logging, metrics, a body limit and panic recovery.
//
// Routes and the least role each needs (RoleNone: no token):
//
//	GET    /healthz, /readyz, /openapi.json     none
//	GET    /metrics, /monitor/                  viewer
//	GET    /v1/jobs, /v1/jobs/{id}              viewer
//	POST   /v1/jobs, /v1/jobs/{id}/cancel       operator
//	GET    /v1/servers, /v1/servers/{id}        viewer
//	PATCH  /v1/servers/{id}                     operator for maintenance only, else admin
//	POST   /v1/servers, DELETE /v1/servers/{id} admin
//	GET    /v1/events                           viewer
//	POST   /v1/servers/{id}/callbacks           none (a per-job token)
//	POST   /v1/webhooks/github, .../generic     none (HMAC signatures)
//
// Every error is an RFC 9457 application/problem+json Problem whose code
// is stable and whose field names the request field at fault.
//
// A job is readable as soon as its POST returned: before publishing, the
// API writes a submitted record (store.Submitted), removed again when NATS
// does not ack; GET /v1/jobs/{id} falls back to it until the dispatcher's
// job record exists, and the dispatcher marks it rejected when it refuses
// the request. Serve shuts down gracefully: readiness drops first, then
// in-flight requests finish.
package api
