package ipmisim_test

import (
	"context"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/bmc/ipmisim"
)

// ipmitool runs one ipmitool command against s with cipher suite 3.
func ipmitool(t *testing.T, s *ipmisim.Sim, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	user, pass := s.Credentials()
	base := []string{"-I", "lanplus", "-H", "127.0.0.1", "-p", strconv.Itoa(s.Port()), "-U", user, "-P", pass,
		"-C", strconv.Itoa(ipmisim.CipherSuite)}
	out, err := exec.CommandContext(ctx, "ipmitool", append(base, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ipmitool %v: %v: %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func commands(events []ipmisim.Event) []string {
	var cmds []string
	for _, e := range events {
		cmds = append(cmds, e.Command)
	}
	return cmds
}

func TestFleetChassis(t *testing.T) {
	t.Parallel()
	sims := ipmisim.Start(t, 3)
	ports := map[int]bool{}
	for _, s := range sims {
		ports[s.Port()] = true
		if s.Power() || s.Boot() != "default" || len(s.Events()) != 0 {
			t.Errorf("%s starts with power %v, boot %q, events %v; want off, default, none", s, s.Power(), s.Boot(), s.Events())
		}
	}
	if len(ports) != len(sims) {
		t.Fatalf("ports %v are not distinct", ports)
	}
	first, second := sims[0], sims[1]
	start := time.Now().Add(-time.Second)
	ipmitool(t, first, "chassis", "power", "on")
	ipmitool(t, first, "chassis", "bootdev", "pxe")
	ipmitool(t, first, "chassis", "power", "off")
	if got, want := commands(first.Events()), []string{"power 1", "boot pxe", "power 0"}; !slices.Equal(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
	events := first.Events()
	for i, e := range events {
		if e.Time.Before(start) || i > 0 && e.Time.Before(events[i-1].Time) {
			t.Errorf("event %d at %s: not after the test start and in order (%v)", i, e.Time, events)
		}
	}
	if first.Power() || first.Boot() != "pxe" {
		t.Errorf("truth: power %v boot %q, want off, pxe", first.Power(), first.Boot())
	}
	if len(second.Events()) != 0 || second.Power() {
		t.Errorf("a command to %s reached %s: %v", first, second, second.Events())
	}
}

func TestSetPowerBehindTheBMCsBack(t *testing.T) {
	t.Parallel()
	s := ipmisim.Start(t, 1)[0]
	if err := s.SetPower(true); err != nil {
		t.Fatal(err)
	}
	if got := ipmitool(t, s, "chassis", "power", "status"); got != "Chassis Power is on" {
		t.Errorf("status = %q, want on", got)
	}
	if len(s.Events()) != 0 {
		t.Errorf("SetPower logged %v", s.Events())
	}
}

func TestStop(t *testing.T) {
	t.Parallel()
	s := ipmisim.Start(t, 1)[0]
	start := time.Now()
	s.Stop()
	s.Stop() // idempotent
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Stop took %s", took)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := exec.CommandContext(ctx, "ipmitool", "-I", "lanplus", "-H", "127.0.0.1", "-p", strconv.Itoa(s.Port()),
		"-U", ipmisim.Username, "-P", ipmisim.Password, "-C", "3", "-N", "1", "-R", "1", "chassis", "power", "status").Run()
	if err == nil {
		t.Error("a stopped simulator still answers")
	}
}
