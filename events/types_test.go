package events_test

import (
	"slices"
	"testing"

	"github.com/tinmanhq/tinman/events"
)

func TestFilterSubject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		server, pattern string
		want            string
	}{
		{"", "", "tinman.events.*.>"},
		{"", "*", "tinman.events.*.>"},
		{"", ">", "tinman.events.*.>"},
		{"", "job", "tinman.events.*.job.*"},
		{"", "job.*", "tinman.events.*.job.*"},
		{"", "job.failed", "tinman.events.*.job.failed"},
		{"", "tinman.job.failed", "tinman.events.*.job.failed"},
		{"", "tinman.job.*", "tinman.events.*.job.*"},
		{"", "tinman.job", "tinman.events.*.job.*"},
		{"", "server.state_changed", "tinman.events.*.server.state_changed"},
		{"srv-042", "", "tinman.events.srv-042.>"},
		{"srv-042", "job", "tinman.events.srv-042.job.*"},
		{"srv-042", "job.*", "tinman.events.srv-042.job.*"},
		{"srv-042", "job.failed", "tinman.events.srv-042.job.failed"},
		{"srv-042", "tinman.job.failed", "tinman.events.srv-042.job.failed"},
		{"srv-042", "tinman.job.*", "tinman.events.srv-042.job.*"},
		{events.NoServer, "deploy", "tinman.events._.deploy.*"},
	}
	for _, tt := range tests {
		t.Run(tt.server+"/"+tt.pattern, func(t *testing.T) {
			t.Parallel()
			if got := events.FilterSubject(tt.server, tt.pattern); got != tt.want {
				t.Errorf("FilterSubject(%q, %q) = %q, want %q", tt.server, tt.pattern, got, tt.want)
			}
		})
	}
}

func TestTypes(t *testing.T) {
	t.Parallel()
	want := []events.Type{"tinman.job.queued", "tinman.job.started", "tinman.job.progress",
		"tinman.job.retrying", "tinman.job.succeeded", "tinman.job.failed", "tinman.job.canceled",
		"tinman.request.rejected", "tinman.server.state_changed", "tinman.deploy.batch_started",
		"tinman.deploy.halted"}
	if got := events.Types(); !slices.Equal(got, want) {
		t.Errorf("Types() = %q, want the contract's %q", got, want)
	}
}

func TestTypeValidTerminal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		typ             events.Type
		valid, terminal bool
	}{
		{events.JobQueued, true, false},
		{events.JobStarted, true, false},
		{events.JobProgress, true, false},
		{events.JobRetrying, true, false},
		{events.JobSucceeded, true, true},
		{events.JobFailed, true, true},
		{events.JobCanceled, true, true},
		{events.RequestRejected, true, false},
		{events.ServerStateChanged, true, false},
		{events.DeployBatchStarted, true, false},
		{events.DeployHalted, true, false},
		{"", false, false},
		{"job.failed", false, false},
		{"tinman.job", false, false},
		{"tinman.job.*", false, false},
		{"TINMAN.JOB.FAILED", false, false},
		{"tinman.job.failed ", false, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ), func(t *testing.T) {
			t.Parallel()
			if got := tt.typ.Valid(); got != tt.valid {
				t.Errorf("%q.Valid() = %t, want %t", tt.typ, got, tt.valid)
			}
			if got := tt.typ.Terminal(); got != tt.terminal {
				t.Errorf("%q.Terminal() = %t, want %t", tt.typ, got, tt.terminal)
			}
		})
	}
}

func TestRequestSubject(t *testing.T) {
	t.Parallel()
	if got := events.RequestSubject("boot-device"); got != "tinman.requests.boot-device" {
		t.Errorf("RequestSubject(boot-device) = %q", got)
	}
}
