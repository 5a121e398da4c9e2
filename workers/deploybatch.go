package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/jobs"
)

// dispatchGrace is how long a deploy's job may have neither a job record
// nor a submitted record before it counts as failed.
const dispatchGrace = 2 * time.Minute

// batchOutcome is where the jobs of a batch are.
type batchOutcome struct {
	succeeded []string
	failed    []ChildFailure
	running   int
}

// batchServers returns the servers of batch i of the plan.
func (w *Worker) batchServers(ctx context.Context, id string, plan *DeployPlan, i int) ([]string, error) {
	start := int64(i * plan.BatchSize)
	servers, err := w.deploys.DeployServers(ctx, id, start, start+int64(plan.BatchSize)-1)
	if err == nil && len(servers) == 0 {
		err = fmt.Errorf("deploy %s has no servers for batch %d: its server list is gone", id, i+1)
	}
	return servers, err
}

// submitChunk is how many requests a BatchSubmitter is given at once.
const submitChunk = 256

// submitBatch submits the provision of each server of batch: through a
// BatchSubmitter, submitChunk at a time, each chunk's records in one round
// trip and its publishes all in flight; else a few at a time.
func (w *Worker) submitBatch(ctx context.Context, run *Run, plan *DeployPlan, batch []string) error {
	params, _ := json.Marshal(jobs.ProvisionParams{Image: plan.Image, Boot: plan.Boot})
	reqs := make([]jobs.Request, len(batch))
	for i, server := range batch {
		reqs[i] = jobs.Request{ID: childID(run.Job.ID, server), Type: jobs.Provision, Server: server,
			Params: params, Priority: run.Job.Priority, RequestedBy: "deploy:" + run.Job.ID}
	}
	failed := func(i int, err error) error {
		if err == nil {
			return nil
		}
		return fmt.Errorf("submit provision of %s: %w", batch[i], err)
	}
	all, ok := w.cfg.Submitter.(BatchSubmitter)
	if !ok {
		return inParallel(len(reqs), func(i int) error { return failed(i, w.cfg.Submitter.Submit(ctx, reqs[i])) })
	}
	var errs []error
	for start := 0; start < len(reqs); start += submitChunk {
		for j, err := range all.SubmitAll(ctx, reqs[start:min(start+submitChunk, len(reqs))]) {
			errs = append(errs, failed(start+j, err))
		}
	}
	return errors.Join(errs...)
}

// readBatch reads the state of every job of the batch.
func (w *Worker) readBatch(ctx context.Context, run *Run, plan *DeployPlan, batch []string) (*batchOutcome, error) {
	states := make([]jobs.State, len(batch))
	errs := make([]*jobs.Error, len(batch))
	err := inParallel(len(batch), func(i int) (err error) {
		states[i], errs[i], err = w.childState(ctx, run, plan, batch[i])
		return err
	})
	if err != nil {
		return nil, err
	}
	out := &batchOutcome{}
	for i, server := range batch {
		switch s := states[i]; {
		case s == jobs.StateSucceeded:
			out.succeeded = append(out.succeeded, server)
		case s.Terminal() || s == jobs.StateRejected: // a rejected job never runs: it ended too
			out.failed = append(out.failed, childFailure(run.Job.ID, server, s, errs[i]))
		default:
			out.running++
		}
	}
	return out, nil
}

// childFailure is how a failed job of the deploy is told in its result.
func childFailure(deploy, server string, s jobs.State, e *jobs.Error) ChildFailure {
	f := ChildFailure{Server: server, JobID: childID(deploy, server), State: s, Code: jobs.CodeInternal, Message: "ended " + string(s) + " with no reason recorded"}
	if e != nil {
		f.Code, f.Message = e.Code, e.Message
	}
	return f
}

// childState is the state of the deploy's job on server, and its error.
// Until a dispatcher records the job, its submitted record tells: still
// submitted (waiting), or rejected (at once, with the rejection). A job
// with neither record (its submitted record expired) counts as failed once
// the dispatcher has had ample time.
func (w *Worker) childState(ctx context.Context, run *Run, plan *DeployPlan, server string) (jobs.State, *jobs.Error, error) {
	id := childID(run.Job.ID, server)
	job, err := w.records.Job(ctx, id)
	if jobs.CodeOf(err) != jobs.CodeNotFound {
		return job.State, job.Error, err
	}
	sub, err := w.records.SubmittedJob(ctx, id)
	switch {
	case err == nil && sub.State == jobs.StateRejected:
		zerolog.Ctx(ctx).Info().Str("child", id).Interface("error", sub.Error).Msg("deploy's job rejected")
		return jobs.StateRejected, sub.Error, nil
	case err == nil:
		return jobs.StateSubmitted, nil, nil
	case jobs.CodeOf(err) != jobs.CodeNotFound:
		return "", nil, err
	case time.Since(*plan.StartedAt) > dispatchGrace:
		return jobs.StateFailed, jobs.Errorf(jobs.CodeInternal, false, "no dispatcher recorded job %s within %s of its submission", id, dispatchGrace), nil
	}
	return jobs.StateSubmitted, nil, nil
}

// inParallel runs fn for 0..n-1, sixteen at a time, and joins their errors.
func inParallel(n int, fn func(i int) error) error {
	errs := make([]error, n)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = fn(i)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
