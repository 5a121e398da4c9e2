package bmc_test

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/bmc"
	"github.com/tinmanhq/tinman/bmc/bmcsim"
	"github.com/tinmanhq/tinman/jobs"
)

var simCreds = jobs.Credentials{Username: "admin", Password: "secret"}

// simFleet starts n simulated Redfish BMCs and a dialer with the defaults.
func simFleet(tb testing.TB, n int) ([]*bmcsim.BMC, *bmc.Dialer) {
	tb.Helper()
	fleet, err := bmcsim.StartFleet(n, bmcsim.Config{Username: simCreds.Username, Password: simCreds.Password})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = fleet.Close() })
	d, err := bmc.NewDialer(bmc.DefaultConfig())
	if err != nil {
		tb.Fatal(err)
	}
	return fleet.BMCs(), d
}

// powerStatus is a power status job's BMC work: log in, read the power
// state, log out.
func powerStatus(tb testing.TB, d *bmc.Dialer, sim *bmcsim.BMC) {
	tb.Helper()
	ctx := context.Background()
	srv := jobs.Server{ID: "s", BMC: jobs.BMC{Address: sim.Addr(), Provider: jobs.ProviderRedfish}}
	s, err := d.Open(ctx, srv, simCreds)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := s.PowerState(ctx); err != nil {
		tb.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		tb.Fatal(err)
	}
}

// bmclib's Redfish provider opens a connection for every request of a
// session; the session resumes its first TLS session for the others, and
// offers nothing of it to the next session. Real bmclib against the
// simulator, counted by the simulator.
func TestRedfishSessionResumesItsTLS(t *testing.T) {
	t.Parallel()
	sims, d := simFleet(t, 1)
	for i := range 2 {
		full0, resumed0 := sims[0].TLSHandshakes()
		powerStatus(t, d, sims[0])
		// log in (2 requests), the power state (2), log out (1)
		full, resumed := sims[0].TLSHandshakes()
		if full-full0 != 1 || resumed-resumed0 != 4 {
			t.Errorf("power status session %d did %d full and %d resumed TLS handshakes, want 1 and 4", i+1, full-full0, resumed-resumed0)
		}
	}
}

// A server enrolled with verify_tls is refused when its BMC's certificate
// is not one the system trusts (the simulator's is self-signed): the
// session's own HTTP client keeps bmclib's verification, and the password
// is never sent.
func TestRedfishVerifyTLSRefusesAnUntrustedBMC(t *testing.T) {
	t.Parallel()
	sims, d := simFleet(t, 1)
	srv := jobs.Server{ID: "s", BMC: jobs.BMC{Address: sims[0].Addr(), Provider: jobs.ProviderRedfish, VerifyTLS: true}}
	s, err := d.Open(context.Background(), srv, simCreds)
	if err == nil {
		_ = s.Close(context.Background())
		t.Fatal("Open with verify_tls succeeded against a self-signed BMC")
	}
	if !strings.Contains(err.Error(), "certificate") || sims[0].Logins() != 0 {
		t.Errorf("Open with verify_tls: %v, %d logins; want a certificate error and no login", err, sims[0].Logins())
	}
}

// BenchmarkPowerStatusSession is one power status job's BMC work against the
// Redfish simulator, each op on the next BMC of a fleet of 64 (a fleet-wide
// status never meets a BMC twice in a row). Simulator and client share this
// process: cpu-ms/op is both sides'.
func BenchmarkPowerStatusSession(b *testing.B) {
	sims, d := simFleet(b, 64)
	var before, after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	n := 0
	for b.Loop() {
		powerStatus(b, d, sims[n%len(sims)])
		n++
	}
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(n), "cpu-ms/op")
}
