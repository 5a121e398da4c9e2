package bmcsim_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	bmclib "github.com/bmc-toolbox/bmclib/v2"

	"github.com/tinmanhq/tinman/bmc/bmcsim"
)

func TestFleet(t *testing.T) {
	t.Parallel()
	const n, workers = 50, 8
	f, err := bmcsim.StartFleet(n, bmcsim.Config{InitialPowerState: bmcsim.PowerOff})
	if err != nil {
		t.Fatalf("StartFleet: %v", err)
	}
	bmcs := f.BMCs()
	if len(bmcs) != n {
		t.Fatalf("fleet has %d BMCs, want %d", len(bmcs), n)
	}
	addrs := map[string]bool{}
	serials := map[string]bool{}
	for _, b := range bmcs {
		addrs[b.Addr()] = true
		serials[b.Identity().SerialNumber] = true
	}
	if len(addrs) != n || len(serials) != n {
		t.Fatalf("%d distinct addresses and %d serials, want %d", len(addrs), len(serials), n)
	}

	// Drive every member with real bmclib clients, a few at a time, verifying
	// the shared certificate.
	jobs := make(chan *bmcsim.BMC)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for b := range jobs {
				errs <- powerOn(t, b, bmclib.WithSecureTLS(f.RootCAs()))
			}
		})
	}
	for _, b := range bmcs {
		jobs <- b
	}
	close(jobs)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for _, b := range bmcs {
		if got := b.PowerState(); got != bmcsim.PowerOn {
			t.Errorf("%v: PowerState = %q, want On", b, got)
		}
	}

	if err := f.Close(); err != nil {
		t.Fatalf("fleet Close: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("second fleet Close: %v", err)
	}
	for _, b := range bmcs {
		if err := b.Start("127.0.0.1:0"); !errors.Is(err, bmcsim.ErrClosed) {
			t.Fatalf("%v: Start after fleet Close = %v, want ErrClosed", b, err)
		}
	}
}

// powerOn opens a bmclib client on b, powers the host on and closes. It runs
// in worker goroutines, so it reports errors instead of failing the test.
func powerOn(t *testing.T, b *bmcsim.BMC, opts ...bmclib.Option) error {
	user, pass := b.Credentials()
	cl, err := buildClient(b, user, pass, opts...)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(t.Context(), openTimeout)
	defer cancel()
	if err := cl.Open(ctx); err != nil {
		return err
	}
	defer cl.Close(context.Background())
	if ok, err := cl.SetPowerState(ctx, "on"); !ok || err != nil {
		return errors.Join(errors.New(b.String()+": SetPowerState(on) failed"), err)
	}
	return nil
}

func TestStartFleetRejectsNegative(t *testing.T) {
	t.Parallel()
	if _, err := bmcsim.StartFleet(-1, bmcsim.Config{}); err == nil {
		t.Error("StartFleet(-1) succeeded")
	}
}
