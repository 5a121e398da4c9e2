package workers

import (
	"context"
	"fmt"
	"time"

	"github.com/tinmanhq/tinman/jobs"
)

// watchdog sweeps, every WatchdogInterval until ctx ends, for servers past
// the deadline of a transitional state with no live job (after a crash that
// used up the retries, say) and moves them to error with the reason: nothing
// stays stuck silently. One process in the system sweeps per interval.
func (w *Worker) watchdog(ctx context.Context) {
	every(ctx, w.cfg.WatchdogInterval, func(ctx context.Context) {
		if mine, err := w.rounds.ClaimRound(ctx, "watchdog", w.cfg.WatchdogInterval); err == nil && mine {
			w.sweepStuck(ctx)
		}
	})
}

// sweepStuck moves every stuck server to error.
func (w *Worker) sweepStuck(ctx context.Context) {
	log := w.cfg.Logger.With().Str("component", "watchdog").Logger()
	servers, err := w.servers.ListServers(ctx, nil)
	if err != nil {
		log.Warn().Err(err).Msg("list servers")
		return
	}
	for _, srv := range servers {
		reason, stuck := w.stuck(ctx, srv)
		if !stuck {
			continue
		}
		if _, err := w.servers.TransitionServer(ctx, srv.ID, []jobs.ServerState{srv.State}, jobs.ServerError, srv.Job, reason); err != nil {
			log.Warn().Err(err).Str("server", srv.ID).Msg("move stuck server to error")
			continue
		}
		log.Warn().Str("server", srv.ID).Str("reason", reason).Msg("stuck server moved to error")
		if err := w.boot.ClearBootConfig(ctx, srv.ID, srv.Job); err != nil { // its token ends with it
			log.Warn().Err(err).Str("server", srv.ID).Msg("remove the boot configuration (it expires by itself)")
		}
	}
}

// stuck says whether srv is past its state's deadline with no live job.
func (w *Worker) stuck(ctx context.Context, srv jobs.Server) (string, bool) {
	deadline, ok := w.cfg.StateDeadlines[srv.State]
	if !ok || time.Since(srv.StateSince) < deadline {
		return "", false
	}
	why := fmt.Sprintf("%s for %s, past its %s deadline", srv.State, time.Since(srv.StateSince).Round(time.Second), deadline)
	job, err := w.records.Job(ctx, srv.Job)
	switch {
	case err != nil:
		return why + ", and its job " + srv.Job + " is gone", true
	case job.State.Terminal():
		return fmt.Sprintf("%s, and its job %s %s", why, job.ID, job.State), true
	case time.Since(job.UpdatedAt) > deadline:
		return fmt.Sprintf("%s, and its job %s has not moved since %s", why, job.ID, job.UpdatedAt.Format(time.RFC3339)), true
	}
	return "", false
}
