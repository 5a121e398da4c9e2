package dispatch

import (
	"context"
	"errors"
	"fmt"

	"github.com/tinmanhq/tinman/internal/wake"
	"github.com/tinmanhq/tinman/jobs"
)

// DeployStore is what the admission of deploys, and the wake of a deploy
// whose job was rejected, need of the store.
type DeployStore interface {
	ListServers(ctx context.Context, selector map[string]string) ([]jobs.Server, error)
	HoldServers(ctx context.Context, id string, servers []string) error
	DeployChildEnded(ctx context.Context, id, child string) (bool, error)
	Job(ctx context.Context, id string) (jobs.Job, error)
}

// Waker runs a parked task now.
type Waker interface {
	RunTask(queue, id string) error
}

// admitDeploy refuses a deploy whose batch size passes MaxBatchSize, or
// none of whose servers is enrolled, and holds its servers for it: a
// server another live deploy holds refuses it, naming that deploy.
func (d *Dispatcher) admitDeploy(ctx context.Context, req jobs.Request) error {
	if req.Type != jobs.Deploy {
		return nil
	}
	p, err := deployParams(req, d.cfg.MaxBatchSize)
	if err != nil {
		return err
	}
	servers, err := jobs.DeployTargets(ctx, d.store, p)
	if err != nil {
		return err
	}
	err = d.store.HoldServers(ctx, req.ID, servers)
	if e := new(jobs.Error); errors.As(err, &e) && e.Code == jobs.CodeConflict {
		e.Field = p.TargetField()
	}
	return err
}

// deployParams decodes a deploy's params and checks its batch size against
// the bound max (the dispatcher's MaxBatchSize).
func deployParams(req jobs.Request, max int) (*jobs.DeployParams, error) {
	params, err := req.DecodeParams()
	if err != nil {
		return nil, err
	}
	p := params.(*jobs.DeployParams)
	if p.BatchSize != nil && *p.BatchSize > max {
		return nil, jobs.Invalid("params.batch_size", fmt.Sprintf("is %d, more than this deployment's bound of %d servers per batch (the dispatcher's --max-batch-size)", *p.BatchSize, max))
	}
	return p, nil
}

// wakeDeploy tells the deploy that requested a rejected job that the job
// ended, and wakes the deploy when it was the last of its batch.
func (d *Dispatcher) wakeDeploy(ctx context.Context, req jobs.Request) {
	parent := jobs.DeployOf(req.ID, req.Server, req.RequestedBy)
	if parent == "" {
		return
	}
	last, err := d.store.DeployChildEnded(ctx, parent, req.ID)
	if err != nil || !last || d.cfg.Waker == nil {
		return // the deploy finds the rejection at its next poll
	}
	job, err := d.store.Job(ctx, parent)
	if err == nil {
		err = wake.Task(ctx, d.cfg.Waker, job.Queue(), parent)
	}
	if err != nil {
		d.cfg.Logger.Debug().Err(err).Str("deploy", parent).Msg("wake the deploy (it looks at its next poll)")
	}
}
