package workers

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/internal/wake"
	"github.com/tinmanhq/tinman/jobs"
)

// ended does what a job's end means to deploys: a deploy lets go of the
// servers it held; a deploy's provision that is the last of its batch to
// end wakes the parked deploy, so that the batch ends with its last job,
// not at the deploy's next poll.
func (w *Worker) ended(ctx context.Context, job jobs.Job) {
	log := zerolog.Ctx(ctx)
	if job.Type == jobs.Deploy {
		if err := w.deploys.ReleaseServers(ctx, job.ID); err != nil {
			log.Warn().Err(err).Msg("release the deploy's servers (the next deploy on them takes the stale holds over)")
		}
		return
	}
	parent := jobs.DeployOf(job.ID, job.Server, job.RequestedBy)
	if parent == "" {
		return
	}
	last, err := w.deploys.DeployChildEnded(ctx, parent, job.ID)
	if err != nil {
		log.Warn().Err(err).Str("deploy", parent).Msg("tell the deploy its job ended (it looks at its next poll)")
	}
	if last {
		w.wake(ctx, parent)
	}
}

// wake runs the parked task of job id now (wake.Task: a task about to
// park is tried again briefly); a queued one needs nothing.
func (w *Worker) wake(ctx context.Context, id string) {
	job, err := w.records.Job(ctx, id)
	if err == nil {
		err = wake.Task(ctx, w.inspector, job.Queue(), id)
	}
	if err != nil {
		zerolog.Ctx(ctx).Debug().Err(err).Str("deploy", id).Msg("wake the deploy (it looks at its next poll)")
	}
}
