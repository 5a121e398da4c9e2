package workers

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

// Lease codes, beside the jobs package's.
const (
	// CodeLeaseLost says the job lost its server's lease mid-way and stopped.
	CodeLeaseLost jobs.Code = "lease_lost"
)

// errServerBusy makes asynq try the task again soon without spending an
// attempt: another job holds the server.
var errServerBusy = errors.New("server busy")

// isFailure tells asynq which errors spend an attempt: not waiting for the
// server, nor waiting for a callback.
func isFailure(err error) bool {
	return !errors.Is(err, errServerBusy) && !errors.As(err, new(*waitError))
}

// busyDelay is how soon a job that found its server busy looks again:
// 250 ms to 1 s, spread by task so that waiters do not poll in step.
func busyDelay(t *asynq.Task) time.Duration {
	h := fnv.New32a()
	_, _ = h.Write(t.Payload())
	_, _ = h.Write([]byte(time.Now().Format(time.StampMicro)))
	return 250*time.Millisecond + time.Duration(h.Sum32()%750)*time.Millisecond
}

// heldLease is a lease kept alive by a renewal goroutine while a job runs.
type heldLease struct {
	lease      store.Lease
	validUntil atomic.Int64 // unix nanos: past it, the lease may be someone else's
	released   atomic.Bool  // freed with the attempt's outcome: nothing left to free
}

// valid reports whether the lease is certainly still ours.
func (h *heldLease) valid() bool { return time.Now().UnixNano() < h.validUntil.Load() }

// acquire takes the job's server lease (unless the task's load took it:
// run.start, or found it held: busy) and keeps it renewed until release is
// called. The returned context ends, with cause store.ErrLeaseLost, as soon
// as the lease can no longer be trusted. When another job holds the server,
// acquire says so once in a job.progress event and returns errServerBusy.
func (w *Worker) acquire(ctx context.Context, run *Run, busy error) (context.Context, *heldLease, func(keep time.Duration), error) {
	l, err := w.lease(ctx, run, busy)
	if errors.Is(err, store.ErrLeaseHeld) {
		return ctx, nil, nil, w.waitForLease(ctx, run, err)
	}
	if err != nil {
		return ctx, nil, nil, err
	}
	h := &heldLease{lease: l}
	h.validUntil.Store(time.Now().Add(l.TTL - l.TTL/10).UnixNano())
	lctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.renew(lctx, h, cancel)
	}()
	// release frees the lease, or with keep > 0 holds it that much longer
	// for a workflow that waits: nobody else works the server meanwhile, and
	// a dead worker's lease still runs out.
	release := func(keep time.Duration) {
		cancel(nil)
		<-done
		if h.released.Load() {
			return
		}
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
		defer rcancel()
		var err error
		if keep <= 0 {
			err = w.leases.ReleaseLease(rctx, l)
		} else {
			kept := l
			kept.TTL = keep
			err = w.leases.RenewLease(rctx, kept)
		}
		if err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Msg("release server lease (it expires by itself)")
		}
	}
	zerolog.Ctx(ctx).Debug().Int64("fence", l.Token).Msg("server lease acquired")
	return lctx, h, release, nil
}

// lease is the lease the task's load took, or takes it now.
func (w *Worker) lease(ctx context.Context, run *Run, busy error) (store.Lease, error) {
	switch {
	case busy != nil:
		return store.Lease{}, busy
	case run.start != nil:
		return run.start.Lease, nil
	}
	return w.leases.AcquireLease(ctx, run.Job.Server, run.Job.ID, w.cfg.LeaseTTL)
}

// renew extends the lease every third of its TTL until ctx ends; it ends the
// job's context once the lease is lost or can no longer be confirmed.
func (w *Worker) renew(ctx context.Context, h *heldLease, cancel context.CancelCauseFunc) {
	t := time.NewTicker(h.lease.TTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := w.leases.RenewLease(ctx, h.lease)
		switch {
		case err == nil:
			h.validUntil.Store(time.Now().Add(h.lease.TTL - h.lease.TTL/10).UnixNano())
		case errors.Is(err, store.ErrLeaseLost) || !h.valid():
			cancel(fmt.Errorf("%w: %v", store.ErrLeaseLost, err))
			return
		}
	}
}

// waitForLease reports, once per job, that it waits for the server.
func (w *Worker) waitForLease(ctx context.Context, run *Run, held error) error {
	w.cfg.Metrics.leaseWait(run.Job.Type)
	first, err := w.records.MarkWaiting(ctx, run.Job.ID)
	if err != nil {
		return err
	}
	if first {
		zerolog.Ctx(ctx).Info().Err(held).Msg("server busy: waiting for its lease")
		if err := run.Progress(ctx, "waiting-for-server", held.Error()); err != nil {
			return err
		}
	}
	return fmt.Errorf("%w: %v", errServerBusy, held)
}
