package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/tinmanhq/tinman/client"
	"github.com/tinmanhq/tinman/jobs"
)

// DeployView is the answer to GET /v1/deploys/{id} (the Go client's wire type).
type DeployView = client.DeployView

// deployPlan is the plan a deploy keeps in its job's result (the
// contract's shape, written by workers.DeployPlan), as far as a view reads it.
type deployPlan struct {
	Image     string     `json:"image"`
	BatchSize int        `json:"batch_size"`
	Batches   int        `json:"batches"`
	Current   int        `json:"current"`
	StartedAt *time.Time `json:"started_at"`
	Halted    bool       `json:"halted"`
}

// Batch states of a deploy view.
const (
	batchWaiting = "waiting" // not started
	batchRunning = "running"
	batchDone    = "done"
	batchStopped = "stopped" // the deploy ended while it ran (canceled, failed)
	batchSkipped = "skipped" // the deploy ended before it
)

// deployView answers GET /v1/deploys/{id}: the deploy's plan, batch by
// batch, with the state of each server's provision and why it failed.
func (a *API) deployView(w http.ResponseWriter, r *http.Request) {
	id, ok := jobID(w, r)
	if !ok {
		return
	}
	job, err := a.job(r.Context(), id)
	if err == nil && job.Type != jobs.Deploy {
		err = jobs.Errorf(jobs.CodeNotFound, false, "job %s is a %s job, not a deploy", id, job.Type)
	}
	var view DeployView
	if err == nil {
		view, err = a.layOut(r.Context(), job)
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, view)
}

// layOut makes the view of a deploy job from its plan and its children.
func (a *API) layOut(ctx context.Context, job jobs.Job) (DeployView, error) {
	plan, err := planOf(job)
	if err != nil {
		return DeployView{}, err
	}
	ended := job.State.Terminal()
	view := DeployView{Job: job, Image: plan.Image, Current: plan.Current, Halted: plan.Halted, Batches: []client.DeployBatch{}}
	if ended && job.State != jobs.StateSucceeded && job.Error != nil {
		view.HaltReason = job.Error.Message
	}
	servers, err := a.cfg.Store.DeployServers(ctx, job.ID, 0, -1)
	if err != nil || plan.BatchSize < 1 {
		return view, err
	}
	for i := range plan.Batches {
		batch := servers[min(i*plan.BatchSize, len(servers)):min((i+1)*plan.BatchSize, len(servers))]
		b := client.DeployBatch{Number: i + 1, State: plan.batchState(i, ended), Servers: make([]client.DeployChild, len(batch))}
		for n, server := range batch {
			b.Servers[n] = client.DeployChild{Server: server, JobID: jobs.DeployChildID(job.ID, server), State: client.ChildPending}
		}
		view.Batches = append(view.Batches, b)
	}
	return view, a.readChildren(ctx, toRead(view.Batches))
}

// planOf is the plan a deploy keeps in its result; before it has one, only
// the image of its params.
func planOf(job jobs.Job) (deployPlan, error) {
	var plan deployPlan
	if len(job.Result) == 0 {
		var p jobs.DeployParams
		_ = json.Unmarshal(job.Params, &p) // checked at admission; a view does without
		plan.Image = p.Image
		return plan, nil
	}
	if err := json.Unmarshal(job.Result, &plan); err != nil {
		return plan, fmt.Errorf("decode the plan of deploy %s: %w", job.ID, err)
	}
	return plan, nil
}

// toRead returns the children whose job tells their state: those of the
// batches that started.
func toRead(batches []client.DeployBatch) []*client.DeployChild {
	var read []*client.DeployChild
	for i := range batches {
		b := &batches[i]
		if b.State == batchWaiting || b.State == batchSkipped {
			continue
		}
		for n := range b.Servers {
			read = append(read, &b.Servers[n])
		}
	}
	return read
}

// batchState is the state of batch i of the plan of a deploy that has ended or not.
func (p deployPlan) batchState(i int, ended bool) string {
	started := i == p.Current && p.StartedAt != nil
	switch {
	case i < p.Current:
		return batchDone
	case started && !ended:
		return batchRunning
	case started:
		return batchStopped
	case ended:
		return batchSkipped
	}
	return batchWaiting
}

// readChildren fills in each child's state and error from its job, a few
// at a time; a child with no job yet stays pending.
func (a *API) readChildren(ctx context.Context, children []*client.DeployChild) error {
	return inParallel(len(children), func(i int) error {
		c := children[i]
		job, err := a.job(ctx, c.JobID)
		if e := jobs.AsError(err); e != nil && e.Code == jobs.CodeNotFound {
			return nil
		}
		c.State, c.Error = job.State, job.Error
		return err
	})
}

// inParallel runs fn for 0..n-1, sixteen at a time, and joins their errors.
func inParallel(n int, fn func(i int) error) error {
	errs := make([]error, n)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{} // at most sixteen goroutines, not one per child
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = fn(i)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
