package bmc_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/bmc"
	"github.com/tinmanhq/tinman/bmc/ipmisim"
	"github.com/tinmanhq/tinman/jobs"
)

// TestIPMICipherSuite drives ipmi_sim, which speaks cipher suite 3 only, with
// and without BMC.CipherSuite. With 3 the Dialer hands it to bmclib, so a
// wrong password fails in one ipmitool run; without it bmclib retries with
// suite 17, whose "invalid authentication algorithm" still means a refusal.
func TestIPMICipherSuite(t *testing.T) {
	t.Parallel()
	sim := ipmisim.Start(t, 1)[0]
	tests := []struct {
		name        string
		cipherSuite int
		password    string
		code        jobs.Code // "" for success
		mention     string
		notMention  string
	}{
		{name: "suite 3 opens", cipherSuite: 3, password: ipmisim.Password},
		{name: "default suites open with 3", password: ipmisim.Password},
		{name: "suite 3 wrong password", cipherSuite: 3, password: "wrong", code: jobs.CodeBMCAuthFailed,
			mention: "Unable to establish IPMI v2", notMention: "invalid authentication algorithm"},
		{name: "default suites wrong password", password: "wrong", code: jobs.CodeBMCAuthFailed,
			mention: "invalid authentication algorithm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := jobs.Server{ID: "sim-ipmi", BMC: jobs.BMC{Address: sim.Addr(), Provider: jobs.ProviderIPMI, CipherSuite: tt.cipherSuite}}
			d := dialer(t, 3*time.Second)
			s, err := d.Open(t.Context(), srv, jobs.Credentials{Username: ipmisim.Username, Password: tt.password})
			if tt.code == "" {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				_ = s.Close(context.Background())
				return
			}
			var je *jobs.Error
			if !errors.As(err, &je) || je.Code != tt.code || je.Retryable {
				t.Fatalf("Open error = %v, want %s, not retryable", err, tt.code)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("error %q does not mention %q", err, tt.mention)
			}
			if tt.notMention != "" && strings.Contains(err.Error(), tt.notMention) {
				t.Errorf("error %q mentions %q: bmclib retried with another cipher suite", err, tt.notMention)
			}
		})
	}
}

// TestIPMIDeadPortDefaultSuites: without a cipher suite bmclib would run
// ipmitool twice (suites 3 and 17), ~52 s each against a silent port; the
// call deadline still ends it within CallTimeout.
func TestIPMIDeadPortDefaultSuites(t *testing.T) {
	t.Parallel()
	sim := ipmisim.Start(t, 1)[0]
	addr := sim.Addr()
	sim.Stop() // the port now answers nothing
	const callTimeout = 3 * time.Second
	d := dialer(t, callTimeout)
	start := time.Now()
	_, err := d.Open(t.Context(), jobs.Server{ID: "gone", BMC: jobs.BMC{Address: addr, Provider: jobs.ProviderIPMI}},
		jobs.Credentials{Username: ipmisim.Username, Password: ipmisim.Password})
	took := time.Since(start)
	t.Logf("open of a stopped ipmi_sim, default suites: %s: %v", took.Round(time.Millisecond), err)
	if code := jobs.AsError(err).Code; err == nil || code != jobs.CodeBMCTimeout || !jobs.AsError(err).Retryable {
		t.Errorf("Open error = %v, want retryable %s", err, jobs.CodeBMCTimeout)
	}
	if took >= callTimeout+5*time.Second {
		t.Errorf("Open took %s, want under %s", took, callTimeout+5*time.Second)
	}
}

// dialer is a Dialer whose calls each end within callTimeout.
func dialer(t *testing.T, callTimeout time.Duration) *bmc.Dialer {
	t.Helper()
	d, err := bmc.NewDialer(bmc.Config{CallTimeout: callTimeout, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return d
}
