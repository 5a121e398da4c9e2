package workers

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
)

// CodeDeployHalted says a rolling deploy stopped: its failures passed max_failures.
const CodeDeployHalted jobs.Code = "deploy_halted"

// Submitter publishes a job request and returns once it is durably accepted.
type Submitter interface {
	Submit(ctx context.Context, req jobs.Request) error
}

// BatchSubmitter is a Submitter that also submits many requests at once,
// returning one error per request (nil: accepted). A deploy submits its
// batches through it when its Submitter is one.
type BatchSubmitter interface {
	Submitter
	SubmitAll(ctx context.Context, reqs []jobs.Request) []error
}

// deploy re-provisions the servers of a selector or list with a new image,
// batch by batch: a batch starts when the previous one has ended, and the
// rollout halts when failures pass max_failures. It holds no worker while a
// batch runs: the last job of the batch to end wakes it (deploywake.go),
// and it looks again every DeployPoll in case nothing does.
func (w *Worker) deploy(ctx context.Context, _ *asynq.Task) error {
	run := RunFrom(ctx)
	var p jobs.DeployParams
	if err := run.Params(&p); err != nil {
		return err
	}
	plan, err := w.deployPlan(ctx, run, p)
	if err != nil {
		return err
	}
	for plan.Current < plan.Batches {
		if err := w.deployCanceled(ctx, run, plan); err != nil {
			return err
		}
		if plan.StartedAt == nil {
			if err := w.startBatch(ctx, run, plan); err != nil {
				return err
			}
		}
		done, err := w.batchDone(ctx, run, plan, p)
		if err != nil || !done {
			return err
		}
	}
	return run.SetResult(plan)
}

// deployPlan returns the plan kept on the job, or makes it on the first run.
func (w *Worker) deployPlan(ctx context.Context, run *Run, p jobs.DeployParams) (*DeployPlan, error) {
	plan := &DeployPlan{}
	if len(run.Job.Result) > 0 {
		if err := json.Unmarshal(run.Job.Result, plan); err != nil {
			return nil, fmt.Errorf("decode deploy plan of %s: %w", run.Job.ID, err)
		}
		return plan, nil
	}
	n, err := w.deployServers(ctx, run.Job.ID, p)
	if err != nil {
		return nil, err
	}
	size := 1
	if p.BatchSize != nil {
		size = *p.BatchSize
	}
	plan.Image, plan.Boot, plan.Servers, plan.BatchSize, plan.Batches = p.Image, p.Boot, n, size, (n+size-1)/size
	msg := fmt.Sprintf("%s in %s of %d", Plural(n, "server", "servers"), Plural(plan.Batches, "batch", "batches"), size)
	return plan, w.savePlan(ctx, run, plan, events.JobProgress, "plan", msg)
}

// deployServers returns how many servers the deploy holds: those its
// admission held, or, when none did, those of its params, held now.
func (w *Worker) deployServers(ctx context.Context, id string, p jobs.DeployParams) (int, error) {
	n, err := w.deploys.DeployServerCount(ctx, id)
	if err != nil || n > 0 {
		return n, err
	}
	servers := p.Servers
	if len(p.Selector) > 0 {
		found, err := w.servers.ListServers(ctx, p.Selector)
		if err != nil {
			return 0, err
		}
		for _, s := range found {
			servers = append(servers, s.ID)
		}
	}
	if len(servers) == 0 {
		return 0, &jobs.Error{Code: jobs.CodeInvalidRequest, Field: p.TargetField(),
			Message: fmt.Sprintf("no server matches the deploy's selector %v", p.Selector)}
	}
	if err := w.deploys.HoldServers(ctx, id, servers); err != nil {
		if e := jobs.AsError(err); e.Code == jobs.CodeConflict {
			e.Field = p.TargetField()
		}
		return 0, err
	}
	return len(servers), nil
}

// savePlan records the plan on the job with an event of type t and step.
// While a batch runs, the job is marked as waiting for it.
func (w *Worker) savePlan(ctx context.Context, run *Run, plan *DeployPlan, t events.Type, step, msg string) error {
	data, err := json.Marshal(plan)
	if err != nil {
		return fmt.Errorf("marshal deploy plan: %w", err)
	}
	run.Job.Result = data
	run.Job.WaitingFor, run.Job.WaitDeadline = "", nil
	if plan.StartedAt != nil {
		run.Job.WaitingFor = batchName(plan)
	}
	_, err = w.records.Record(ctx, &run.Job, t, events.Detail{Step: step, Message: msg})
	return err
}

// startBatch submits a provision job for each server of the current
// batch, each recorded as unfinished first, so that the last to end knows it.
func (w *Worker) startBatch(ctx context.Context, run *Run, plan *DeployPlan) error {
	if w.cfg.Submitter == nil {
		return jobs.Errorf(jobs.CodeInternal, false, "this worker cannot submit jobs: deploys need a NATS connection")
	}
	batch, err := w.batchServers(ctx, run.Job.ID, plan, plan.Current)
	if err != nil {
		return err
	}
	ids := make([]string, len(batch))
	for i, server := range batch {
		ids[i] = childID(run.Job.ID, server)
	}
	if err := w.deploys.StartDeployBatch(ctx, run.Job.ID, ids); err != nil {
		return err
	}
	if err := w.submitBatch(ctx, run, plan, batch); err != nil {
		return err
	}
	now := time.Now().UTC()
	plan.StartedAt = &now
	msg := fmt.Sprintf("batch %d of %d: %s", plan.Current+1, plan.Batches, Names(batch, SampleSize))
	zerolog.Ctx(ctx).Info().Int("servers", len(batch)).Int("batch", plan.Current+1).Msg("deploy batch started")
	return w.savePlan(ctx, run, plan, events.DeployBatchStarted, batchStep(plan.Current), msg)
}

// batchDone reports whether every job of the current batch has ended; when
// so it counts the outcome, halts the rollout past max_failures, and moves
// to the next batch. While the batch runs it parks the deploy.
func (w *Worker) batchDone(ctx context.Context, run *Run, plan *DeployPlan, p jobs.DeployParams) (bool, error) {
	out, err := w.awaitBatch(ctx, run, plan)
	if err != nil || out == nil {
		return false, err
	}
	i := plan.Current
	plan.tally(out.succeeded, out.failed)
	plan.Current++
	plan.StartedAt = nil
	if plan.Failed > p.MaxFailures {
		plan.Halted = true
		msg := fmt.Sprintf("%s passed max_failures %d: %s", Plural(plan.Failed, "failure", "failures"), p.MaxFailures, Reasons(plan.Failures, 3))
		if err := w.savePlan(ctx, run, plan, events.DeployHalted, batchStep(i), msg); err != nil {
			return false, err
		}
		return false, jobs.Errorf(CodeDeployHalted, false, "halted after batch %d of %d: %s", i+1, plan.Batches, msg)
	}
	msg := fmt.Sprintf("batch %d of %d done: %d succeeded, %d failed", i+1, plan.Batches, len(out.succeeded), len(out.failed))
	if len(out.failed) > 0 {
		msg += ": " + Reasons(out.failed, 3)
	}
	return true, w.savePlan(ctx, run, plan, events.JobProgress, batchStep(i), msg)
}

// awaitBatch returns the batch's outcome once every job of it has ended,
// or nil and the error that parks the deploy. When the batch's last job
// has said it ended since the read, it reads again rather than wait: that
// job's wake may have come while the deploy still ran.
func (w *Worker) awaitBatch(ctx context.Context, run *Run, plan *DeployPlan) (*batchOutcome, error) {
	batch, err := w.batchServers(ctx, run.Job.ID, plan, plan.Current)
	if err != nil {
		return nil, err
	}
	for pass := 0; ; pass++ {
		out, err := w.readBatch(ctx, run, plan, batch)
		if err != nil || out.running == 0 {
			return out, err
		}
		pending, err := w.deploys.DeployBatchPending(ctx, run.Job.ID)
		if err != nil {
			return nil, err
		}
		if pending > 0 || pass > 0 {
			return nil, w.park(ctx, run, plan)
		}
	}
}

// park makes the deploy wait for its running batch.
func (w *Worker) park(ctx context.Context, run *Run, plan *DeployPlan) error {
	if run.Job.WaitingFor != batchName(plan) { // resumed after a crash between submit and save
		if err := w.savePlan(ctx, run, plan, events.JobProgress, batchStep(plan.Current), "waiting for "+batchName(plan)); err != nil {
			return err
		}
	}
	return &waitError{what: batchName(plan), poll: w.cfg.DeployPoll}
}

// deployCanceled stops a deploy that was asked to stop: its running jobs are
// canceled too, and no further batch starts.
func (w *Worker) deployCanceled(ctx context.Context, run *Run, plan *DeployPlan) error {
	canceled, err := w.records.CancelRequested(ctx, run.Job.ID)
	if err != nil || !canceled {
		return err
	}
	if plan.StartedAt != nil {
		batch, err := w.batchServers(ctx, run.Job.ID, plan, plan.Current)
		if err != nil {
			return err
		}
		for _, server := range batch {
			if _, err := w.records.CancelJob(ctx, childID(run.Job.ID, server), "deploy:"+run.Job.ID); err != nil {
				zerolog.Ctx(ctx).Debug().Err(err).Str("server", server).Msg("cancel deploy's job")
			}
		}
	}
	return fmt.Errorf("%w at batch %d of %d", errCanceled, plan.Current+1, plan.Batches)
}
