package workers

import (
	"encoding/json"
	"fmt"

	"github.com/hibiken/asynq"

	"github.com/tinmanhq/tinman/jobs"
)

// maxRetryBackstop is asynq's retry limit for every task.
const maxRetryBackstop = 1000

// Payload is the body of every task: the job id, and its server's (so that
// the start of an attempt reads the job and takes the server's lease in one
// round trip). The job record in the store is the truth; the task only
// says which job to run.
type Payload struct {
	JobID  string `json:"job_id"`
	Server string `json:"server,omitempty"`
}

// NewTask returns the asynq task that runs job. Its TaskID is the job id, so
// enqueuing the same job twice fails with asynq.ErrTaskIDConflict.
func NewTask(job jobs.Job, p RetryPolicy, opts ...asynq.Option) (*asynq.Task, error) {
	body := Payload{JobID: job.ID}
	if job.Type.TargetsServer() {
		body.Server = job.Server
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("marshal task payload: %w", err)
	}
	base := []asynq.Option{
		asynq.TaskID(job.ID),
		asynq.Queue(job.Queue()),
		// Attempts are counted on the job record, by the status middleware;
		// asynq's own count is a backstop against a task that crashes its
		// worker forever, and must not archive a job that only waited.
		asynq.MaxRetry(maxRetryBackstop),
		asynq.Timeout(p.Timeout(job.Type)),
	}
	return asynq.NewTask(string(job.Type), payload, append(base, opts...)...), nil
}

func decodePayload(t *asynq.Task) (Payload, error) {
	var p Payload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.JobID == "" {
		return p, jobs.Errorf(jobs.CodeInvalidRequest, false, "task %s has no job id in its payload", t.Type())
	}
	return p, nil
}
