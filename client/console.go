package client

import "github.com/tinmanhq/tinman/jobs"

// The wire types of the read endpoints the web console uses (package ui):
// who the caller is, the fleet a page at a time and its counts by state, a
// deploy's batches and the health strip's figures. Any client may call them.

// Whoami is the answer to GET /v1/whoami: the caller's role (viewer,
// operator or admin) and the name its actions are recorded under (the role
// and the first 8 hex digits of the token's SHA-256, never the token).
type Whoami struct {
	Role string `json:"role"`
	Name string `json:"name"`
}

// FleetPage is the answer to GET /v1/fleet: one page of the servers that
// match the filters, sorted by id.
type FleetPage struct {
	// Matched is how many servers match every filter.
	Matched int `json:"matched"`
	// Offset is the position of the first server of the page among them.
	Offset int `json:"offset"`
	// Servers is the page.
	Servers []jobs.Server `json:"servers"`
}

// FleetCounts is the answer to GET /v1/fleet/counts: how many servers
// match the filters, and how many of them are in each lifecycle state
// (what each choice of state on a fleet page would list).
type FleetCounts struct {
	Matched int                      `json:"matched"`
	States  map[jobs.ServerState]int `json:"states"`
}

// DeployView is the answer to GET /v1/deploys/{id}: a deploy job with its
// plan laid out batch by batch and the state of each server's provision.
type DeployView struct {
	Job   jobs.Job `json:"job"`
	Image string   `json:"image,omitempty"`
	// Current is the batch running (0-based), or len(Batches) when done.
	Current int  `json:"current"`
	Halted  bool `json:"halted"`
	// HaltReason is why the deploy stopped short: its failures passed
	// max_failures, it was canceled, or it failed otherwise.
	HaltReason string `json:"halt_reason,omitempty"`
	// Batches is empty until the deploy has made its plan.
	Batches []DeployBatch `json:"batches"`
}

// DeployBatch is one batch of a deploy's plan.
type DeployBatch struct {
	// Number counts from 1.
	Number int `json:"number"`
	// State is waiting (not started), running or done.
	State   string        `json:"state"`
	Servers []DeployChild `json:"servers"`
}

// DeployChild is the provision a deploy runs on one server (job id
// "<deploy>.<server>").
type DeployChild struct {
	Server string `json:"server"`
	JobID  string `json:"job_id"`
	// State is the job's state; "pending" while its batch has not started.
	State jobs.State `json:"state"`
	// Error says why it failed or was rejected.
	Error *jobs.Error `json:"error,omitempty"`
}

// ChildPending is the state of a deploy's provision whose batch has not
// started: it has no job yet.
const ChildPending jobs.State = "pending"

// Vitals is the answer to GET /v1/vitals: the figures of the console's
// health strip.
type Vitals struct {
	// Queues are the asynq queues' task counts.
	Queues []QueueSize `json:"queues"`
	// BreakersOpen lists the servers whose BMC circuit breaker is open.
	BreakersOpen []string `json:"breakers_open"`
	// OutboxBacklog is how many jobs and servers have events staged in
	// Redis that NATS has not acknowledged yet (0 when all is well).
	OutboxBacklog int64 `json:"outbox_backlog"`
}

// QueueSize counts one asynq queue's tasks by state.
type QueueSize struct {
	Name      string `json:"name"`
	Pending   int    `json:"pending"`
	Active    int    `json:"active"`
	Scheduled int    `json:"scheduled"`
	Retry     int    `json:"retry"`
	Archived  int    `json:"archived"`
}
