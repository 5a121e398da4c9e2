// Package webhook turns signed webhook deliveries into deploy requests.
//
// Two HTTP handlers are provided, to be mounted by the API:
//
//   - ServeGitHub, for POST /v1/webhooks/github: a GitHub webhook signed with
//     X-Hub-Signature-256. It understands push, release (published) and
//     workflow_run (completed with success), and maps them through Rules to
//     one deploy job each.
//   - ServeGeneric, for POST /v1/webhooks/generic: a JSON body signed with
//     X-Tinman-Signature that names the image and the servers itself.
//
// Both check the HMAC-SHA256 signature over the raw body before reading it,
// answer errors as RFC 9457 problem+json, and remember each delivery under
// all its names (its delivery id, the SHA-256 of its signed body, and for
// GitHub its event's identity) for DedupeTTL, so that a replayed delivery
// answers with the job id of the first and starts nothing, even under a new
// delivery id: that header is not signed. The job id is derived from the
// event (GitHub) or the signed delivery_id (generic), so even a delivery
// forgotten by Redis cannot make a second job once the request stream has
// seen the first.
//
// The answers, in the order they are decided:
//
//	not POST                                      405 problem, Allow: POST
//	the route's secret is not configured          404 problem
//	body over MaxBody                             413 problem
//	signature missing or wrong                    401 problem; nothing recorded
//	GitHub: X-GitHub-Event/-Delivery missing      400 problem naming the header
//	GitHub: ping                                  200 {"status":"pong"}
//	delivery id already recorded (generic: once   200 {"status":"duplicate","job_id":...}
//	the body has been checked)
//	event other than push/release/workflow_run    202 {"status":"ignored","reason":...}
//	payload not JSON of the event's shape         400 problem
//	push deleting its ref                         202 ignored
//	release not "published"                       202 ignored
//	workflow_run not "completed" with "success"   202 ignored
//	workflow_run of a fork's head repository      202 ignored
//	no rule matches repository, event and ref     202 ignored: "no rule matches <repo> <event> <ref>"
//	the rule's deploy is invalid for this event   422 problem naming the rule and the field
//	generic: a body field is wrong                400 problem naming the field
//	Redis or Submit fails                         503 problem; the delivery is forgotten
//	the deploy is submitted                       202 {"status":"accepted","job_id","rule","image"}
package webhook
