package workers

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
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

// DeployPlan is a rolling deploy's state, kept in its job record's result:
// a retry or a resumed wait carries on where it was.
type DeployPlan struct {
	Image     string     `json:"image"`
	Batches   [][]string `json:"batches"`
	Current   int        `json:"current"`    // the batch running, or len(Batches) when done
	StartedAt *time.Time `json:"started_at"` // when the current batch was submitted
	Succeeded []string   `json:"succeeded,omitempty"`
	Failed    []string   `json:"failed,omitempty"`
	Halted    bool       `json:"halted,omitempty"`

	// Boot is how each provision boots its server ("": pxe).
	Boot jobs.BootMethod `json:"boot,omitempty"`
}

func batchName(plan *DeployPlan) string { return fmt.Sprintf("batch %d", plan.Current+1) }

// childID names the provision job a deploy runs on a server.
func childID(deployID, server string) string { return deployID + "." + server }

// deploy re-provisions the servers of a selector or list with a new image,
// batch by batch: a batch starts when the previous one has ended, and the
// rollout halts when failures pass max_failures. It holds no worker while a
// batch runs: it looks again every WaitPoll.
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
	for plan.Current < len(plan.Batches) {
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
	servers := p.Servers
	if len(p.Selector) > 0 {
		found, err := w.servers.ListServers(ctx, p.Selector)
		if err != nil {
			return nil, err
		}
		for _, s := range found {
			servers = append(servers, s.ID)
		}
	}
	if len(servers) == 0 {
		return nil, jobs.Errorf(jobs.CodeInvalidRequest, false, "no server matches the deploy's selector %v", p.Selector)
	}
	size := 1
	if p.BatchSize != nil {
		size = *p.BatchSize
	}
	plan.Image, plan.Boot = p.Image, p.Boot
	for i := 0; i < len(servers); i += size {
		plan.Batches = append(plan.Batches, servers[i:min(i+size, len(servers))])
	}
	return plan, w.savePlan(ctx, run, plan, events.JobProgress, fmt.Sprintf("%d servers in %d batches of %d", len(servers), len(plan.Batches), size))
}

// savePlan records the plan on the job with an event of type t. While a
// batch runs, the job is marked as waiting for it.
func (w *Worker) savePlan(ctx context.Context, run *Run, plan *DeployPlan, t events.Type, msg string) error {
	data, err := json.Marshal(plan)
	if err != nil {
		return fmt.Errorf("marshal deploy plan: %w", err)
	}
	run.Job.Result = data
	run.Job.WaitingFor, run.Job.WaitDeadline = "", nil
	if plan.StartedAt != nil {
		run.Job.WaitingFor = batchName(plan)
	}
	_, err = w.records.Record(ctx, &run.Job, t, events.Detail{Step: fmt.Sprintf("batch-%d", plan.Current+1), Message: msg})
	return err
}

// startBatch submits a provision job for each server of the current batch.
func (w *Worker) startBatch(ctx context.Context, run *Run, plan *DeployPlan) error {
	if w.cfg.Submitter == nil {
		return jobs.Errorf(jobs.CodeInternal, false, "this worker cannot submit jobs: deploys need a NATS connection")
	}
	batch := plan.Batches[plan.Current]
	params, _ := json.Marshal(jobs.ProvisionParams{Image: plan.Image, Boot: plan.Boot})
	for _, server := range batch {
		req := jobs.Request{ID: childID(run.Job.ID, server), Type: jobs.Provision, Server: server,
			Params: params, Priority: run.Job.Priority, RequestedBy: "deploy:" + run.Job.ID}
		if err := w.cfg.Submitter.Submit(ctx, req); err != nil {
			return fmt.Errorf("submit provision of %s: %w", server, err)
		}
	}
	now := time.Now().UTC()
	plan.StartedAt = &now
	msg := fmt.Sprintf("batch %d of %d: %s", plan.Current+1, len(plan.Batches), strings.Join(batch, ", "))
	zerolog.Ctx(ctx).Info().Strs("servers", batch).Int("batch", plan.Current+1).Msg("deploy batch started")
	return w.savePlan(ctx, run, plan, events.DeployBatchStarted, msg)
}

// batchDone reports whether every job of the current batch has ended; when
// so it counts the failures, halts the rollout past max_failures, and moves
// to the next batch. While the batch runs it parks the deploy.
func (w *Worker) batchDone(ctx context.Context, run *Run, plan *DeployPlan, p jobs.DeployParams) (bool, error) {
	var succeeded, failed []string
	for _, server := range plan.Batches[plan.Current] {
		state, err := w.childState(ctx, run, plan, server)
		if err != nil {
			return false, err
		}
		switch {
		case state == jobs.StateSucceeded:
			succeeded = append(succeeded, server)
		case state.Terminal():
			failed = append(failed, server)
		default:
			if run.Job.WaitingFor != batchName(plan) { // resumed after a crash between submit and save
				if err := w.savePlan(ctx, run, plan, events.JobProgress, "waiting for "+batchName(plan)); err != nil {
					return false, err
				}
			}
			return false, &waitError{what: batchName(plan), poll: w.cfg.WaitPoll}
		}
	}
	plan.Succeeded = append(plan.Succeeded, succeeded...)
	plan.Failed = append(plan.Failed, failed...)
	plan.Current++
	plan.StartedAt = nil
	if len(plan.Failed) > p.MaxFailures {
		plan.Halted = true
		msg := fmt.Sprintf("%d failures (%s) passed max_failures %d", len(plan.Failed), strings.Join(plan.Failed, ", "), p.MaxFailures)
		if err := w.savePlan(ctx, run, plan, events.DeployHalted, msg); err != nil {
			return false, err
		}
		return false, jobs.Errorf(CodeDeployHalted, false, "%s", msg)
	}
	return true, w.savePlan(ctx, run, plan, events.JobProgress, fmt.Sprintf("batch %d done: %d succeeded, %d failed", plan.Current, len(succeeded), len(failed)))
}

// childState is the state of the deploy's job on server. Until a
// dispatcher records the job, its submitted record tells: still submitted
// (waiting), or rejected (failed, at once). A job with neither record (its
// submitted record expired, or was never written by an older version)
// counts as failed once the dispatcher has had ample time.
func (w *Worker) childState(ctx context.Context, run *Run, plan *DeployPlan, server string) (jobs.State, error) {
	id := childID(run.Job.ID, server)
	job, err := w.records.Job(ctx, id)
	if jobs.CodeOf(err) != jobs.CodeNotFound {
		return job.State, err
	}
	sub, err := w.records.SubmittedJob(ctx, id)
	switch {
	case err == nil && sub.State == jobs.StateRejected:
		zerolog.Ctx(ctx).Info().Str("child", id).Interface("error", sub.Error).Msg("deploy's job rejected")
		return jobs.StateFailed, nil
	case err == nil:
		return jobs.StateQueued, nil
	case jobs.CodeOf(err) != jobs.CodeNotFound:
		return "", err
	case time.Since(*plan.StartedAt) > 2*time.Minute:
		return jobs.StateFailed, nil
	}
	return jobs.StateQueued, nil
}

// deployCanceled stops a deploy that was asked to stop: its running jobs are
// canceled too, and no further batch starts.
func (w *Worker) deployCanceled(ctx context.Context, run *Run, plan *DeployPlan) error {
	canceled, err := w.records.CancelRequested(ctx, run.Job.ID)
	if err != nil || !canceled {
		return err
	}
	if plan.StartedAt != nil {
		for _, server := range plan.Batches[plan.Current] {
			if _, err := w.records.CancelJob(ctx, childID(run.Job.ID, server), "deploy:"+run.Job.ID); err != nil {
				zerolog.Ctx(ctx).Debug().Err(err).Str("server", server).Msg("cancel deploy's job")
			}
		}
	}
	return fmt.Errorf("%w at batch %d of %d", errCanceled, plan.Current+1, len(plan.Batches))
}
