package workers

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

// guard is what stands between a handler and a BMC: every call is refused
// once the server lease is lost, waits for a slot of the process's BMC call
// budget and for the server's minimum interval between commands, and its
// outcome feeds the server's circuit breaker.
type guard struct {
	w        *Worker
	srv      jobs.Server
	lease    *heldLease
	interval time.Duration
	mu       sync.Mutex
	last     time.Time // the last call's end
	answered bool      // a call succeeded: the failure count was reset
}

// newGuard prepares the guard of one job's session with srv's BMC; the last
// call of a previous job on the server counts towards the interval.
func (w *Worker) newGuard(ctx context.Context, srv jobs.Server, lease *heldLease) (*guard, error) {
	g := &guard{w: w, srv: srv, lease: lease, interval: w.cfg.MinCommandInterval[srv.BMC.Provider]}
	if g.interval > 0 {
		last, err := w.pacing.LastCall(ctx, srv.ID)
		if err != nil {
			return nil, err
		}
		g.last = last
	}
	return g, nil
}

// do runs one BMC call, op, under the guard.
func (g *guard) do(ctx context.Context, op string, call func(context.Context) error) error {
	if err := g.check(ctx); err != nil {
		return err
	}
	if err := g.w.acquireCallSlot(ctx); err != nil {
		return err
	}
	defer g.w.releaseCallSlot()
	if err := g.pace(ctx); err != nil {
		return err
	}
	began := time.Now()
	err := call(ctx)
	g.w.cfg.Metrics.bmcCall(g.srv.BMC.Provider, op, err, time.Since(began))
	g.mu.Lock()
	g.last = time.Now()
	g.mu.Unlock()
	g.account(ctx, err)
	return err
}

// check refuses a call once the lease is no longer certainly held.
func (g *guard) check(ctx context.Context) error {
	if !g.lease.valid() {
		return jobs.Errorf(CodeLeaseLost, true, "server lease of %s (fence %d) lost: no further BMC call", g.srv.ID, g.lease.lease.Token)
	}
	if cause := context.Cause(ctx); errors.Is(cause, store.ErrLeaseLost) {
		return jobs.Errorf(CodeLeaseLost, true, "%v", cause)
	}
	return nil
}

// pace waits until the minimum interval since the last call has passed.
func (g *guard) pace(ctx context.Context) error {
	g.mu.Lock()
	wait := time.Until(g.last.Add(g.interval))
	g.mu.Unlock()
	if wait <= 0 {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(wait):
		return nil
	}
}

// account feeds the circuit breaker: consecutive unreachable answers open
// it (the server goes into maintenance), an answer resets the count and
// closes a breaker that was open.
func (g *guard) account(ctx context.Context, err error) {
	log := zerolog.Ctx(ctx)
	if err != nil {
		if e := jobs.AsError(err); e.Code == jobs.CodeBMCUnreachable {
			opened, serr := g.w.breakers.BMCFailed(ctx, g.srv.ID, "BMC unreachable: "+e.Message, g.w.cfg.BreakerThreshold, g.w.cfg.BreakerWindow)
			if serr != nil {
				log.Warn().Err(serr).Msg("count BMC failure")
			} else if opened {
				log.Warn().Str("reason", e.Message).Msg("circuit breaker open: server put in maintenance")
			}
		}
		return
	}
	if g.answered {
		return
	}
	g.answered = true
	if closed, serr := g.w.breakers.BMCAnswered(ctx, g.srv.ID); serr != nil {
		log.Warn().Err(serr).Msg("reset BMC failures")
	} else if closed {
		log.Info().Msg("circuit breaker closed: BMC answers again, maintenance cleared")
	}
}

// done remembers the session's last call for the next holder of the lease.
func (g *guard) done(ctx context.Context) {
	if g.interval <= 0 || g.last.IsZero() {
		return
	}
	if err := g.w.pacing.SetLastCall(ctx, g.srv.ID, g.last, g.interval); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("remember last BMC call")
	}
}

// session is one job's connection to its BMC, opened at the first call
// that needs it and closed when the job's run ends.
type session struct {
	g    *guard
	run  *Run
	open func(context.Context) (Session, error)
	conn Session
}

func (s *session) get(ctx context.Context) (Session, error) {
	if s.conn != nil {
		return s.conn, nil
	}
	var conn Session
	err := s.g.do(ctx, "open", func(ctx context.Context) (err error) {
		conn, err = s.open(ctx)
		return err
	})
	if err != nil {
		return nil, err // s.conn stays nil: close has nothing to close
	}
	s.conn = conn
	s.run.SetProvider(conn.Provider())
	return conn, nil
}

func (s *session) close(ctx context.Context) {
	if s.conn == nil {
		return
	}
	if err := s.conn.Close(ctx); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("close BMC session")
	}
}

// hardware is what a handler holds: the job's guarded session, which
// offers every capability and fails a call to one its provider lacks with
// unsupported_operation.
type hardware interface {
	PowerControl
	BootControl
	BootReader
	InventoryReader
	BMCResetter
	MediaControl
}

// guardedBMC is the hardware of a job: every call opens the session if need
// be, finds the capability on it, and goes through the guard.
type guardedBMC struct{ s *session }

// guardedCall runs one call of capability C under the guard.
func guardedCall[C any](ctx context.Context, b guardedBMC, op string, fn func(context.Context, C) error) error {
	conn, err := b.s.get(ctx)
	if err != nil {
		return err
	}
	c, ok := conn.(C)
	if !ok {
		return jobs.Errorf(jobs.CodeUnsupportedOperation, false, "the %s provider cannot %s", conn.Provider(), op)
	}
	return b.s.g.do(ctx, op, func(ctx context.Context) error { return fn(ctx, c) })
}

func (b guardedBMC) PowerState(ctx context.Context) (state jobs.PowerState, err error) {
	err = guardedCall(ctx, b, "power-state", func(ctx context.Context, c PowerControl) (err error) {
		state, err = c.PowerState(ctx)
		return err
	})
	if err != nil {
		return jobs.PowerStateUnknown, err
	}
	return state, nil
}

func (b guardedBMC) SetPower(ctx context.Context, a jobs.PowerAction) error {
	return guardedCall(ctx, b, "power-"+string(a), func(ctx context.Context, c PowerControl) error { return c.SetPower(ctx, a) })
}

func (b guardedBMC) SetBootDevice(ctx context.Context, p jobs.BootDeviceParams) error {
	return guardedCall(ctx, b, "boot-device", func(ctx context.Context, c BootControl) error { return c.SetBootDevice(ctx, p) })
}

func (b guardedBMC) BootOverride(ctx context.Context) (o jobs.BootDeviceParams, err error) {
	err = guardedCall(ctx, b, "boot-override", func(ctx context.Context, c BootReader) (err error) {
		o, err = c.BootOverride(ctx)
		return err
	})
	return o, err
}

func (b guardedBMC) Inventory(ctx context.Context) (inv jobs.Inventory, err error) {
	err = guardedCall(ctx, b, "inventory", func(ctx context.Context, c InventoryReader) (err error) {
		inv, err = c.Inventory(ctx)
		return err
	})
	return inv, err
}

func (b guardedBMC) ResetBMC(ctx context.Context, kind jobs.BMCResetKind) error {
	return guardedCall(ctx, b, "bmc-reset", func(ctx context.Context, c BMCResetter) error { return c.ResetBMC(ctx, kind) })
}

func (b guardedBMC) InsertMedia(ctx context.Context, url string) error {
	return guardedCall(ctx, b, "insert-media", func(ctx context.Context, c MediaControl) error { return c.InsertMedia(ctx, url) })
}

func (b guardedBMC) EjectMedia(ctx context.Context) error {
	return guardedCall(ctx, b, "eject-media", func(ctx context.Context, c MediaControl) error { return c.EjectMedia(ctx) })
}

func (b guardedBMC) VirtualMedia(ctx context.Context) (vm jobs.VirtualMedia, err error) {
	err = guardedCall(ctx, b, "read-media", func(ctx context.Context, c MediaControl) (err error) {
		vm, err = c.VirtualMedia(ctx)
		return err
	})
	return vm, err
}

// acquireCallSlot waits for a slot of the process's BMC call budget.
func (w *Worker) acquireCallSlot(ctx context.Context) error {
	select {
	case w.calls <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (w *Worker) releaseCallSlot() { <-w.calls }
