package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
)

// CancelJob asks for a job to stop. A job that waits (queued, retrying) is
// canceled at once, with its tinman.job.canceled event; a running one is
// flagged and stops at its next step boundary. A job that ended is a conflict.
func (s *Store) CancelJob(ctx context.Context, id, by string) (jobs.Job, error) {
	if err := s.rdb.Set(ctx, cancelKey(id), by, s.cfg.JobTTL).Err(); err != nil {
		return jobs.Job{}, fmt.Errorf("cancel job %s: %w", id, err)
	}
	for range 5 {
		job, err := s.Job(ctx, id)
		if err != nil {
			return job, err
		}
		switch {
		case job.State.Terminal():
			return job, jobs.Errorf(jobs.CodeConflict, false, "job %s already ended: %s", id, job.State)
		case job.State == jobs.StateRunning:
			return job, nil
		}
		job.State = jobs.StateCanceled
		job.Error = jobs.Errorf(jobs.CodeCanceled, false, "canceled by %s before it ran", by)
		_, err = s.Record(ctx, &job, events.JobCanceled, events.Detail{Message: "canceled by " + by})
		if err == nil && job.Server != "" {
			err = s.ReleaseUnstarted(ctx, job.Server, job.ID)
		}
		if !errors.Is(err, ErrSeqConflict) {
			return job, err
		}
	}
	return jobs.Job{}, fmt.Errorf("cancel job %s: it kept changing", id)
}

// CancelRequested reports whether someone asked for the job to stop.
func (s *Store) CancelRequested(ctx context.Context, id string) (bool, error) {
	n, err := s.rdb.Exists(ctx, cancelKey(id)).Result()
	if err != nil {
		return false, fmt.Errorf("read cancel of job %s: %w", id, err)
	}
	return n > 0, nil
}
