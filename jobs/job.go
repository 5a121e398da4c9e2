package jobs

import (
	"encoding/json"
	"time"
)

// State is where a job is in its life.
type State string

// The job states. Succeeded, Failed and Canceled are terminal.
const (
	StateQueued    State = "queued"
	StateRunning   State = "running"
	StateRetrying  State = "retrying"
	StateSucceeded State = "succeeded"
	StateFailed    State = "failed"
	StateCanceled  State = "canceled"
	// StateSubmitted is a request published to NATS that no dispatcher has
	// taken yet; StateRejected one a dispatcher refused. Neither has a job
	// record: they are the states of a submitted record.
	StateSubmitted State = "submitted"
	StateRejected  State = "rejected"
)

// Terminal reports whether no further work happens in state s.
func (s State) Terminal() bool {
	return s == StateSucceeded || s == StateFailed || s == StateCanceled
}

// Job is one unit of work: a request accepted into the system, and what became of it.
type Job struct {
	ID       string          `json:"id"`
	Type     Type            `json:"type"`
	Server   string          `json:"server,omitempty"`
	Params   json.RawMessage `json:"params,omitempty"`
	Priority Priority        `json:"priority,omitempty"`
	// Site is the site of the job's server when it was accepted: the
	// job's queue follows it (QueueName).
	Site        string          `json:"site,omitempty"`
	RequestedBy string          `json:"requested_by,omitempty"`
	State       State           `json:"state"`
	Attempt     int             `json:"attempt"`
	MaxAttempts int             `json:"max_attempts"`
	Error       *Error          `json:"error,omitempty"`
	Result      json.RawMessage `json:"result,omitempty"`
	// Seq is the number of the job's last event: its events are numbered 1, 2, 3...
	Seq int64 `json:"seq"`
	// Checkpoint names the last step of a workflow that completed: a retry
	// resumes after it.
	Checkpoint string `json:"checkpoint,omitempty"`
	// WaitingFor names what a waiting workflow waits for (a callback, a
	// state), and WaitDeadline when it gives up; no worker is held meanwhile.
	WaitingFor   string     `json:"waiting_for,omitempty"`
	WaitDeadline *time.Time `json:"wait_deadline,omitempty"`
	// Task is the asynq task in charge of the job when it is not the one
	// named by the job id: the task that resumed it after its worker died.
	// Any other task of the job is an orphan, and does nothing.
	Task      string    `json:"task,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// NewJob makes the queued job for an accepted request with an id.
func NewJob(r Request, maxAttempts int, now time.Time) Job {
	return Job{
		ID: r.ID, Type: r.Type, Server: r.Server, Params: r.Params,
		Priority: r.Priority, RequestedBy: r.RequestedBy,
		State: StateQueued, MaxAttempts: maxAttempts,
		CreatedAt: now.UTC(), UpdatedAt: now.UTC(),
	}
}

// Request returns the request the job was made from.
func (j Job) Request() Request {
	return Request{ID: j.ID, Type: j.Type, Server: j.Server, Params: j.Params, Priority: j.Priority, RequestedBy: j.RequestedBy}
}

// TaskInCharge is the id of the asynq task that runs the job: the job id,
// unless a rescue handed the job to another task.
func (j Job) TaskInCharge() string {
	if j.Task != "" {
		return j.Task
	}
	return j.ID
}
