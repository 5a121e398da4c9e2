package workers

import (
	"context"
	"time"

	"github.com/tinmanhq/tinman/jobs"
)

// probeBreakers tries, every ProbeInterval until ctx ends, the BMCs whose
// circuit breaker is open; one that answers closes its breaker and leaves
// maintenance. One process in the whole system probes each BMC per interval.
func (w *Worker) probeBreakers(ctx context.Context) {
	every(ctx, w.cfg.ProbeInterval, w.probeRound)
}

// every calls fn every interval until ctx ends.
func every(ctx context.Context, interval time.Duration, fn func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}

func (w *Worker) probeRound(ctx context.Context) {
	log := w.cfg.Logger.With().Str("component", "breaker").Logger()
	ids, err := w.breakers.OpenBreakers(ctx)
	if err != nil {
		log.Warn().Err(err).Msg("list open breakers")
		return
	}
	for _, id := range ids {
		mine, err := w.breakers.ClaimProbe(ctx, id, w.cfg.ProbeInterval)
		if err != nil || !mine {
			continue
		}
		if err := w.probe(ctx, id); err != nil {
			log.Debug().Str("server", id).Err(err).Msg("BMC still unreachable")
			continue
		}
		if closed, err := w.breakers.BMCAnswered(ctx, id); err == nil && closed {
			log.Info().Str("server", id).Msg("circuit breaker closed: BMC answers again, maintenance cleared")
		}
	}
}

// probe opens a session and reads the power state: the cheapest proof of
// life. It holds the server's lease meanwhile, as any BMC operation does.
func (w *Worker) probe(ctx context.Context, id string) error {
	l, err := w.leases.AcquireLease(ctx, id, "breaker-probe", w.cfg.LeaseTTL)
	if err != nil {
		return err
	}
	defer w.leases.ReleaseLease(context.WithoutCancel(ctx), l)
	srv, creds, err := w.servers.ServerWithCredentials(ctx, id)
	if err != nil {
		return err
	}
	b, err := w.connect(ctx, srv, creds)
	if err != nil {
		return err
	}
	defer b.Close(ctx)
	p, ok := b.(PowerControl)
	if !ok {
		return jobs.Errorf(jobs.CodeUnsupportedOperation, false, "the %s provider cannot read the power state", b.Provider())
	}
	_, err = p.PowerState(ctx)
	return err
}
