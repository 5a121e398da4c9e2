// Package jobs is Tinman's domain: job types and their stable names, requests
// and their parameters, job states, and the coded error that travels from a
// worker to an event.
//
// It knows nothing of NATS, Redis, asynq, HTTP or bmclib: every adapter
// translates to and from these types at its edge.
package jobs
