package bmc_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tinmanhq/tinman/bmc"
	"github.com/tinmanhq/tinman/bmc/bmcsim"
	"github.com/tinmanhq/tinman/jobs"
)

// bmclib's Redfish provider opens a connection for every request of a
// session; the session resumes its first TLS session for the others, and
// offers nothing of it to the next session. Real bmclib against the
// simulator, counted by the simulator.
func TestRedfishSessionResumesItsTLS(t *testing.T) {
	t.Parallel()
	fleet, err := bmcsim.StartFleet(1, bmcsim.Config{Username: "admin", Password: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fleet.Close() })
	sim := fleet.BMCs()[0]
	d, err := bmc.NewDialer(bmc.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	srv := jobs.Server{ID: "s", BMC: jobs.BMC{Address: sim.Addr(), Provider: jobs.ProviderRedfish}}
	ctx := context.Background()
	for i := range 2 {
		full0, resumed0 := sim.TLSHandshakes()
		s, err := d.Open(ctx, srv, jobs.Credentials{Username: "admin", Password: "secret"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.PowerState(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
		// log in (2 requests), the power state (2), log out (1)
		full, resumed := sim.TLSHandshakes()
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
	fleet, err := bmcsim.StartFleet(1, bmcsim.Config{Username: "admin", Password: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fleet.Close() })
	sim := fleet.BMCs()[0]
	d, err := bmc.NewDialer(bmc.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	srv := jobs.Server{ID: "s", BMC: jobs.BMC{Address: sim.Addr(), Provider: jobs.ProviderRedfish, VerifyTLS: true}}
	s, err := d.Open(context.Background(), srv, jobs.Credentials{Username: "admin", Password: "secret"})
	if err == nil {
		_ = s.Close(context.Background())
		t.Fatal("Open with verify_tls succeeded against a self-signed BMC")
	}
	if !strings.Contains(err.Error(), "certificate") || sim.Logins() != 0 {
		t.Errorf("Open with verify_tls: %v, %d logins; want a certificate error and no login", err, sim.Logins())
	}
}
