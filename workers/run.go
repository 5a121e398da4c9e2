package workers

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

// Run is the attempt a handler is performing: the job, and what the handler
// reports about it. The status middleware puts it in the handler's context.
type Run struct {
	Job      jobs.Job
	records  JobRecords
	provider string
	result   json.RawMessage
	lease    *heldLease // nil for a job that targets no server
	// start is what the task's load read with the lease: the server record
	// the attempt's first BMC session may use (nil once used, or when the
	// load did not take the lease).
	start *store.JobStart
}

type runKey struct{}

// RunFrom returns the attempt in ctx, or nil outside a handler.
func RunFrom(ctx context.Context) *Run {
	r, _ := ctx.Value(runKey{}).(*Run)
	return r
}

func withRun(ctx context.Context, r *Run) context.Context {
	return context.WithValue(ctx, runKey{}, r)
}

// Params decodes the job's params into p.
func (r *Run) Params(p jobs.Params) error {
	if len(r.Job.Params) == 0 {
		return p.Validate()
	}
	if err := json.Unmarshal(r.Job.Params, p); err != nil {
		return jobs.Errorf(jobs.CodeInvalidRequest, false, "decode params of job %s: %w", r.Job.ID, err)
	}
	return p.Validate()
}

// SetProvider records which BMC driver answered.
func (r *Run) SetProvider(name string) { r.provider = name }

// SetResult records the job's result, reported in its succeeded event.
func (r *Run) SetResult(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("marshal result of job %s: %w", r.Job.ID, err)
	}
	r.result = data
	return nil
}

// Progress records a step of the job as a tinman.job.progress event.
func (r *Run) Progress(ctx context.Context, step, message string) error {
	_, err := r.records.Record(ctx, &r.Job, events.JobProgress, events.Detail{Step: step, Message: message, Provider: r.provider})
	return err
}
