package workers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/workers"
)

func TestMinCommandIntervalBetweenBMCCalls(t *testing.T) {
	t.Parallel()
	const interval = 200 * time.Millisecond
	bmc := &fakeBMC{state: jobs.PowerStateOff}
	e := setupWith(t, bmc, func(c *workers.Config) {
		c.MinCommandInterval = map[jobs.Provider]time.Duration{jobs.ProviderRedfish: interval}
	})
	e.submit(t, "paced-1", jobs.Power, `{"action":"on"}`)
	e.events(t, "paced-1")
	e.submit(t, "paced-2", jobs.Power, `{"action":"off"}`)
	e.events(t, "paced-2")

	bmc.mu.Lock()
	times := append([]time.Time(nil), bmc.times...)
	bmc.mu.Unlock()
	if len(times) < 4 {
		t.Fatalf("%d BMC calls, want at least 4 (set and readback, twice)", len(times))
	}
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap < interval {
			t.Errorf("calls %d and %d were %s apart, want at least %s (the second job too)", i-1, i, gap, interval)
		}
	}
}

func TestCircuitBreakerOpensAndCloses(t *testing.T) {
	t.Parallel()
	bmc := &fakeBMC{state: jobs.PowerStateOff, down: true}
	e := setupWith(t, bmc, func(c *workers.Config) {
		c.BreakerThreshold = 2
		c.ProbeInterval = 100 * time.Millisecond
	})
	e.submit(t, "doomed", jobs.Power, `{"action":"on"}`)
	evs := e.events(t, "doomed")
	last := evs[len(evs)-1]
	if last.State != jobs.StateFailed || last.Error.Code != jobs.CodeBMCUnreachable || last.Error.Retryable ||
		!strings.Contains(last.Error.Message, "circuit open") {
		t.Fatalf("job ended %+v, want failed fast with an open circuit after 2 unreachable attempts", last)
	}
	if last.Attempt != 3 {
		t.Errorf("failed at attempt %d, want 3: two unreachable, then the open circuit", last.Attempt)
	}
	ctx := context.Background()
	srv, err := e.store.Server(ctx, "srv-1")
	if err != nil || srv.Maintenance == nil || srv.Maintenance.SetBy != store.BreakerSetter {
		t.Fatalf("server %+v (%v): want maintenance set by the breaker", srv, err)
	}

	// The BMC comes back: a probe finds it and clears the maintenance.
	bmc.set(func(f *fakeBMC) { f.down = false })
	for range 100 {
		if srv, _ = e.store.Server(ctx, "srv-1"); srv.Maintenance == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("maintenance %+v still set 5 s after the BMC answered again", srv.Maintenance)
}
