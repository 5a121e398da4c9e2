package bmc_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/bmc"
	"github.com/tinmanhq/tinman/bmc/bmcsim"
	"github.com/tinmanhq/tinman/jobs"
)

// BenchmarkPowerStatusSession is one power status job's BMC work against the
// Redfish simulator: log in, read the power state, log out, each op on the
// next BMC of a fleet of 64 (a fleet-wide status never meets a BMC twice in
// a row). Simulator and client share this process: the CPU is both sides'.
func BenchmarkPowerStatusSession(b *testing.B) {
	fleet, err := bmcsim.StartFleet(64, bmcsim.Config{Username: "admin", Password: "secret"})
	if err != nil {
		b.Fatal(err)
	}
	defer fleet.Close()
	d, err := bmc.NewDialer(bmc.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	bmcs := fleet.BMCs()
	ctx := context.Background()
	var before syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	n := 0
	for i := 0; b.Loop(); i++ {
		n++
		srv := jobs.Server{ID: "s", BMC: jobs.BMC{Address: bmcs[i%len(bmcs)].Addr(), Provider: jobs.ProviderRedfish}}
		s, err := d.Open(ctx, srv, jobs.Credentials{Username: "admin", Password: "secret"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.PowerState(ctx); err != nil {
			b.Fatal(err)
		}
		if err := s.Close(ctx); err != nil {
			b.Fatal(err)
		}
	}
	var after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(n), "cpu-ms/op")
}
