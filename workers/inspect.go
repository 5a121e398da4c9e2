package workers

import (
	"context"
	"fmt"

	"github.com/hibiken/asynq"

	"github.com/tinmanhq/tinman/jobs"
)

// inspect reads the hardware inventory, stores it on the server record and
// reports its summary.
func (w *Worker) inspect(ctx context.Context, _ *asynq.Task) error {
	run := RunFrom(ctx)
	lc, _ := jobs.LifecycleOf(jobs.Inspect)
	if _, err := w.servers.TransitionServer(ctx, run.Job.Server, lc.From, lc.During, run.Job.ID, "inspect"); err != nil {
		return err
	}
	return w.withBMC(ctx, run, func(srv jobs.Server, b hardware) error {
		inv, err := b.Inventory(ctx)
		if err != nil {
			return err
		}
		if err := w.servers.SetInventory(ctx, srv.ID, inv); err != nil {
			return fmt.Errorf("store inventory of %s: %w", srv.ID, err)
		}
		if _, err := w.servers.TransitionServer(ctx, srv.ID, []jobs.ServerState{lc.During}, lc.After, run.Job.ID, "inspected"); err != nil {
			return err
		}
		return run.SetResult(inv.Summary())
	})
}

// BMCResetResult is the result of a bmc-reset job.
type BMCResetResult struct {
	Kind jobs.BMCResetKind `json:"kind"`
}

func (w *Worker) bmcReset(ctx context.Context, _ *asynq.Task) error {
	run := RunFrom(ctx)
	var p jobs.BMCResetParams
	if err := run.Params(&p); err != nil {
		return err
	}
	return w.withBMC(ctx, run, func(_ jobs.Server, b hardware) error {
		if err := b.ResetBMC(ctx, p.Kind); err != nil {
			return err
		}
		return run.SetResult(BMCResetResult{Kind: p.Kind})
	})
}
