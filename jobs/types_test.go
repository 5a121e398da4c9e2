package jobs_test

import (
	"slices"
	"testing"

	"github.com/tinmanhq/tinman/jobs"
)

func TestParseType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want jobs.Type
		err  string
	}{
		{"power", jobs.Power, ""},
		{"boot-device", jobs.BootDevice, ""},
		{"inspect", jobs.Inspect, ""},
		{"provision", jobs.Provision, ""},
		{"deprovision", jobs.Deprovision, ""},
		{"bmc-reset", jobs.BMCReset, ""},
		{"deploy", jobs.Deploy, ""},
		{"", "", "type: must be one of " + allTypes},
		{"Power", "", "type: must be one of " + allTypes},
		{"boot_device", "", "type: must be one of " + allTypes},
		{" power", "", "type: must be one of " + allTypes},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := jobs.ParseType(tt.in)
			if got != tt.want || errString(err) != tt.err {
				t.Errorf("ParseType(%q) = %q, %v; want %q, %q", tt.in, got, err, tt.want, tt.err)
			}
			if err != nil && jobs.AsError(err).Field != "type" {
				t.Errorf("field %q, want type", jobs.AsError(err).Field)
			}
		})
	}
}

func TestTypes(t *testing.T) {
	t.Parallel()
	want := []jobs.Type{"power", "boot-device", "inspect", "provision", "deprovision", "bmc-reset", "deploy"}
	if got := jobs.Types(); !slices.Equal(got, want) {
		t.Errorf("Types() = %q, want the contract's %q", got, want)
	}
	for _, typ := range jobs.Types() {
		if got := typ.TargetsServer(); got != (typ != jobs.Deploy) {
			t.Errorf("%s.TargetsServer() = %t", typ, got)
		}
	}
}

func TestPriorityQueue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p    jobs.Priority
		want string
	}{
		{"", "default"},
		{jobs.PriorityDefault, "default"},
		{jobs.PriorityCritical, "critical"},
		{jobs.PriorityLow, "low"},
	}
	for _, tt := range tests {
		t.Run(string(tt.p), func(t *testing.T) {
			t.Parallel()
			if got := tt.p.Queue(); got != tt.want {
				t.Errorf("Priority(%q).Queue() = %q, want %q", tt.p, got, tt.want)
			}
		})
	}
}

func TestStateTerminal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    jobs.State
		want bool
	}{
		{jobs.StateQueued, false},
		{jobs.StateRunning, false},
		{jobs.StateRetrying, false},
		{jobs.StateSucceeded, true},
		{jobs.StateFailed, true},
		{jobs.StateCanceled, true},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(string(tt.s), func(t *testing.T) {
			t.Parallel()
			if got := tt.s.Terminal(); got != tt.want {
				t.Errorf("State(%q).Terminal() = %t, want %t", tt.s, got, tt.want)
			}
		})
	}
}

func TestValidIDs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id          string
		server, job bool
	}{
		{"srv-042", true, true},
		{"0", true, true},
		{"-srv", false, false},
		{"Srv", false, true},
		{"srv_1", false, true},
		{"a b", false, false},
		{"a.b:c-d", false, true},
		{"", false, false},
		{"srv\n", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			t.Parallel()
			if got := jobs.ValidServerID(tt.id); got != tt.server {
				t.Errorf("ValidServerID(%q) = %t", tt.id, got)
			}
			if got := jobs.ValidJobID(tt.id); got != tt.job {
				t.Errorf("ValidJobID(%q) = %t", tt.id, got)
			}
		})
	}
}
