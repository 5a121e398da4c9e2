package workers

import (
	"context"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

// PowerResult is the result of a power job.
type PowerResult struct {
	PowerState jobs.PowerState `json:"power_state"`
}

func (w *Worker) power(ctx context.Context, _ *asynq.Task) error {
	run := RunFrom(ctx)
	var p jobs.PowerParams
	if err := run.Params(&p); err != nil {
		return err
	}
	return w.withBMC(ctx, run, func(srv jobs.Server, b hardware) error {
		state, err := w.powerAction(ctx, b, p.Action)
		if p.HardFallback && jobs.CodeOf(err) == jobs.CodePowerStateUnverified {
			state, err = w.hardFallback(ctx, run, b, err)
		}
		if err != nil {
			return err
		}
		if state != srv.PowerState {
			if err := w.servers.SetPowerState(ctx, srv.ID, state); err != nil {
				return fmt.Errorf("record power state of %s: %w", srv.ID, err)
			}
		}
		return run.SetResult(PowerResult{PowerState: state})
	})
}

// powerAction performs action and returns the power state read back after it.
func (w *Worker) powerAction(ctx context.Context, b PowerControl, action jobs.PowerAction) (jobs.PowerState, error) {
	if action == jobs.PowerStatus {
		return b.PowerState(ctx)
	}
	if action == jobs.PowerCycle || action == jobs.PowerReset {
		before, err := b.PowerState(ctx)
		if err != nil {
			return jobs.PowerStateUnknown, err
		}
		switch before {
		case jobs.PowerStateUnknown:
			return before, jobs.Errorf(jobs.CodePowerStateUnverified, false,
				"refusing to %s a server whose power state is unknown", action)
		case jobs.PowerStateOff:
			zerolog.Ctx(ctx).Info().Msgf("server is off: %s becomes power on", action)
			action = jobs.PowerOn
		}
	}
	if err := b.SetPower(ctx, action); err != nil {
		return jobs.PowerStateUnknown, err
	}
	return w.verifyPower(ctx, b, targetState(action))
}

// hardFallback forces the power off after a soft off that did not take.
func (w *Worker) hardFallback(ctx context.Context, run *Run, b PowerControl, soft error) (jobs.PowerState, error) {
	if err := run.Progress(ctx, "hard-fallback", "graceful shutdown did not take effect: forcing off ("+soft.Error()+")"); err != nil {
		return jobs.PowerStateUnknown, err
	}
	return w.powerAction(ctx, b, jobs.PowerOff)
}

func targetState(a jobs.PowerAction) jobs.PowerState {
	if a == jobs.PowerOff || a == jobs.PowerSoft {
		return jobs.PowerStateOff
	}
	return jobs.PowerStateOn
}

// verifyPower polls the BMC, with backoff, until it reports want twice in a
// row, or the verify deadline passes. Unknown (a transition such as
// PoweringOn) is never taken for either state, and one reading is not
// trusted alone: BMCs answer a stale state while the host changes.
func (w *Worker) verifyPower(ctx context.Context, b PowerControl, want jobs.PowerState) (jobs.PowerState, error) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.PowerVerifyTimeout)
	defer cancel()
	last, agreed, delay := jobs.PowerStateUnknown, 0, 100*time.Millisecond
	for {
		state, err := b.PowerState(ctx)
		switch {
		case err == nil && state == want:
			if agreed++; agreed == 2 {
				return state, nil
			}
			delay = 100 * time.Millisecond // confirm soon
		case err == nil:
			agreed = 0
		}
		if err == nil {
			last = state
		}
		select {
		case <-ctx.Done():
			return last, jobs.Errorf(jobs.CodePowerStateUnverified, false,
				"power did not read back %s within %s (last read: %s)", want, w.cfg.PowerVerifyTimeout, last)
		case <-time.After(delay):
		}
		delay = min(delay*2, 2*time.Second)
	}
}

// serverFor is the job's server with its credentials, and whether its
// circuit breaker counted no failure: read with the lease at the start of a
// one-step job (no lifecycle: nothing of the server changed since, as the
// job holds it), else read now (and the breaker's state left unknown).
func (w *Worker) serverFor(ctx context.Context, run *Run) (jobs.Server, jobs.Credentials, bool, error) {
	if st := run.start; st != nil && st.Enrolled {
		if _, lifecycle := jobs.LifecycleOf(run.Job.Type); !lifecycle {
			run.start = nil
			return st.Server, st.Credentials, st.BreakerClean, nil
		}
	}
	srv, creds, err := w.servers.ServerWithCredentials(ctx, run.Job.Server)
	return srv, creds, false, err
}

// withBMC runs fn with a session to the job's server's BMC, opened at its
// first call (a workflow that only waits logs in to nothing), and closed.
// A server whose circuit breaker is open fails the job at once, unless the
// job is one that may probe it (power status, inspect).
func (w *Worker) withBMC(ctx context.Context, run *Run, fn func(jobs.Server, hardware) error) error {
	srv, creds, clean, err := w.serverFor(ctx, run)
	if err != nil {
		return err
	}
	if run.lease == nil {
		return jobs.Errorf(jobs.CodeInternal, false, "job %s reached its BMC without the server lease", run.Job.ID)
	}
	if m := srv.Maintenance; m != nil && m.SetBy == store.BreakerSetter && !jobs.AllowedInMaintenance(run.Job.Type, run.Job.Params) {
		return jobs.Errorf(jobs.CodeBMCUnreachable, false, "circuit open since %s: %s", m.Since.Format(time.RFC3339), m.Reason)
	}
	g, err := w.newGuard(ctx, srv, run.lease)
	if err != nil {
		return err
	}
	g.answered = clean // nothing to reset when the BMC answers
	defer g.done(ctx)
	sess := &session{g: g, run: run, open: func(ctx context.Context) (Session, error) { return w.connect(ctx, srv, creds) }}
	defer sess.close(ctx)
	return fn(srv, guardedBMC{s: sess})
}
