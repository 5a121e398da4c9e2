package events

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/tinmanhq/tinman/jobs"
)

// JobData is the data of every tinman.job.* event.
type JobData struct {
	JobID         string          `json:"job_id"`
	JobType       jobs.Type       `json:"job_type"`
	Server        string          `json:"server,omitempty"`
	State         jobs.State      `json:"state"`
	Seq           int64           `json:"seq"`
	Attempt       int             `json:"attempt,omitempty"`
	MaxAttempts   int             `json:"max_attempts,omitempty"`
	Step          string          `json:"step,omitempty"`
	Message       string          `json:"message,omitempty"`
	Provider      string          `json:"provider,omitempty"`
	RequestedBy   string          `json:"requested_by,omitempty"`
	NextAttemptAt *time.Time      `json:"next_attempt_at,omitempty"`
	Error         *jobs.Error     `json:"error,omitempty"`
	Result        json.RawMessage `json:"result,omitempty"`
}

// Detail is what a job event says beyond the job record itself.
type Detail struct {
	Step          string
	Message       string
	Provider      string
	NextAttemptAt time.Time
}

// NewJobEvent returns the event of type t for job at sequence seq.
func NewJobEvent(source string, t Type, job jobs.Job, seq int64, d Detail) (Event, error) {
	data := JobData{
		JobID: job.ID, JobType: job.Type, Server: job.Server, State: job.State, Seq: seq,
		Attempt: job.Attempt, MaxAttempts: job.MaxAttempts, RequestedBy: job.RequestedBy,
		Step: d.Step, Message: d.Message, Provider: d.Provider, Error: job.Error,
	}
	if t.Terminal() {
		data.Result = job.Result
	}
	if !d.NextAttemptAt.IsZero() {
		at := d.NextAttemptAt.UTC()
		data.NextAttemptAt = &at
	}
	ev, err := New(source, t, job.Server, data)
	if err != nil {
		return ev, err
	}
	ev.ID = JobEventID(job.ID, seq) // stable: a re-publish of the same event is deduplicated
	return ev, nil
}

// RejectedData is the data of tinman.request.rejected.
type RejectedData struct {
	JobID       string          `json:"job_id,omitempty"`
	Server      string          `json:"server,omitempty"`
	Reason      string          `json:"reason"`
	Error       *jobs.Error     `json:"error"`
	Request     json.RawMessage `json:"request,omitempty"`
	RequestText string          `json:"request_text,omitempty"`
	// RequestTruncated says the request was too large to carry whole:
	// RequestText holds its first jobs.MaxRequestSize bytes.
	RequestTruncated bool `json:"request_truncated,omitempty"`
}

// NewRejected returns the event that says request raw was refused for err.
// The original request travels with it: as JSON when it parsed, else as
// text, cut to jobs.MaxRequestSize so that the event stays readable.
func NewRejected(source, jobID, server string, raw []byte, err error) (Event, error) {
	e := jobs.AsError(err)
	if e == nil {
		e = jobs.Errorf(jobs.CodeInternal, false, "rejected without a reason")
	}
	d := RejectedData{JobID: jobID, Reason: e.Error(), Error: e}
	if server != "" && jobs.ValidServerID(server) {
		d.Server = server
	}
	switch {
	case len(raw) > jobs.MaxRequestSize:
		d.RequestText, d.RequestTruncated = strings.ToValidUTF8(string(raw[:jobs.MaxRequestSize]), ""), true
	case json.Valid(raw):
		d.Request = raw
	default:
		d.RequestText = strings.ToValidUTF8(string(raw), "\uFFFD")
	}
	return New(source, RequestRejected, d.Server, d)
}

// StateChangedData is the data of tinman.server.state_changed.
type StateChangedData struct {
	Server   string           `json:"server"`
	Previous jobs.ServerState `json:"previous"`
	State    jobs.ServerState `json:"state"`
	JobID    string           `json:"job_id,omitempty"`
	Reason   string           `json:"reason,omitempty"`
}
