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
	Batches   [][]string `json:"batches"`
	Current   int        `json:"current"`
	StartedAt *time.Time `json:"started_at"`
	Succeeded []string   `json:"succeeded"`
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
	for i, servers := range plan.Batches {
		b := client.DeployBatch{Number: i + 1, State: plan.batchState(i, ended), Servers: make([]client.DeployChild, len(servers))}
		for n, server := range servers {
			b.Servers[n] = client.DeployChild{Server: server, JobID: job.ID + "." + server, State: client.ChildPending}
		}
		view.Batches = append(view.Batches, b)
	}
	return view, a.readChildren(ctx, toRead(view.Batches, plan))
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

// toRead marks the children the plan says succeeded and returns those whose
// job tells more: the others of the batches that started.
func toRead(batches []client.DeployBatch, plan deployPlan) []*client.DeployChild {
	succeeded := make(map[string]bool, len(plan.Succeeded))
	for _, s := range plan.Succeeded {
		succeeded[s] = true
	}
	var read []*client.DeployChild
	for i := range batches {
		b := &batches[i]
		for n := range b.Servers {
			c := &b.Servers[n]
			switch {
			case b.State == batchDone && succeeded[c.Server]:
				c.State = jobs.StateSucceeded
			case b.State != batchWaiting && b.State != batchSkipped:
				read = append(read, c)
			}
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

// inParallel runs fn for 0..n-1, eight at a time, and joins their errors.
func inParallel(n int, fn func(i int) error) error {
	errs := make([]error, n)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = fn(i)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
