package workers_test

import (
	"encoding/json"
	"fmt"
	"github.com/tinmanhq/tinman/events"
	"slices"
	"strings"
	"testing"

	"github.com/tinmanhq/tinman/jobs"
)

func TestWorkerOutcomes(t *testing.T) {
	t.Parallel()
	timeout := jobs.Errorf(jobs.CodeBMCTimeout, true, "BMC did not answer in time")
	auth := jobs.Errorf(jobs.CodeBMCAuthFailed, false, "BMC refused the credentials")
	tests := []struct {
		name      string
		bmc       *fakeBMC
		typ       jobs.Type
		params    string
		want      []jobs.State
		wantCode  jobs.Code // of the last event's error, if any
		wantCalls []string
		result    string
	}{
		{
			name: "power on", bmc: &fakeBMC{state: jobs.PowerStateOff}, typ: jobs.Power, params: `{"action":"on"}`,
			want:      []jobs.State{jobs.StateQueued, jobs.StateRunning, jobs.StateSucceeded},
			wantCalls: []string{"set on", "get", "get"}, result: `{"power_state":"on"}`, // two readings agree
		},
		{
			name: "status reads only", bmc: &fakeBMC{state: jobs.PowerStateOn}, typ: jobs.Power, params: `{"action":"status"}`,
			want:      []jobs.State{jobs.StateQueued, jobs.StateRunning, jobs.StateSucceeded},
			wantCalls: []string{"get"}, result: `{"power_state":"on"}`,
		},
		{
			name: "transient error is retried", bmc: &fakeBMC{state: jobs.PowerStateOff, setErrs: []error{timeout}},
			typ: jobs.Power, params: `{"action":"on"}`,
			want:      []jobs.State{jobs.StateQueued, jobs.StateRunning, jobs.StateRetrying, jobs.StateRunning, jobs.StateSucceeded},
			wantCalls: []string{"set on", "set on", "get", "get"},
		},
		{
			name: "permanent error fails at once", bmc: &fakeBMC{state: jobs.PowerStateOff, setErrs: []error{auth}},
			typ: jobs.Power, params: `{"action":"off"}`,
			want:     []jobs.State{jobs.StateQueued, jobs.StateRunning, jobs.StateFailed},
			wantCode: jobs.CodeBMCAuthFailed, wantCalls: []string{"set off"},
		},
		{
			name: "lying BMC is unverified, not success", bmc: &fakeBMC{state: jobs.PowerStateOn, lie: true},
			typ: jobs.Power, params: `{"action":"off"}`,
			want:     []jobs.State{jobs.StateQueued, jobs.StateRunning, jobs.StateFailed},
			wantCode: jobs.CodePowerStateUnverified,
		},
		{
			name: "cycle refused when power is unknown", bmc: &fakeBMC{state: jobs.PowerStateUnknown},
			typ: jobs.Power, params: `{"action":"cycle"}`,
			want:     []jobs.State{jobs.StateQueued, jobs.StateRunning, jobs.StateFailed},
			wantCode: jobs.CodePowerStateUnverified, wantCalls: []string{"get"},
		},
		{
			name: "cycle of a server that is off powers it on", bmc: &fakeBMC{state: jobs.PowerStateOff},
			typ: jobs.Power, params: `{"action":"cycle"}`,
			want:      []jobs.State{jobs.StateQueued, jobs.StateRunning, jobs.StateSucceeded},
			wantCalls: []string{"get", "set on", "get", "get"},
		},
		{
			name: "inspect stores the inventory and reports its summary", bmc: &fakeBMC{}, typ: jobs.Inspect, params: `{}`,
			want:      []jobs.State{jobs.StateQueued, jobs.StateRunning, jobs.StateSucceeded},
			wantCalls: []string{"inventory"},
			result:    `{"vendor":"Acme","cpus":2,"cores":16,"memory_bytes":1073741824,"nics":0,"drives":0}`,
		},
		{
			name: "inspect on a session without inventory fails unsupported, not retried", bmc: &fakeBMC{powerOnly: true},
			typ: jobs.Inspect, params: `{}`,
			want:     []jobs.State{jobs.StateQueued, jobs.StateRunning, jobs.StateFailed},
			wantCode: jobs.CodeUnsupportedOperation, wantCalls: []string{},
		},
		{
			name: "boot device on a session without boot control fails unsupported", bmc: &fakeBMC{powerOnly: true},
			typ: jobs.BootDevice, params: `{"device":"pxe"}`,
			want:     []jobs.State{jobs.StateQueued, jobs.StateRunning, jobs.StateFailed},
			wantCode: jobs.CodeUnsupportedOperation, wantCalls: []string{},
		},
		{
			name: "bmc reset", bmc: &fakeBMC{}, typ: jobs.BMCReset, params: `{"kind":"cold"}`,
			want:      []jobs.State{jobs.StateQueued, jobs.StateRunning, jobs.StateSucceeded},
			wantCalls: []string{"reset-bmc cold"}, result: `{"kind":"cold"}`,
		},
		{
			name: "soft off ignored by the OS fails unverified", bmc: &fakeBMC{state: jobs.PowerStateOn, deaf: true},
			typ: jobs.Power, params: `{"action":"soft"}`,
			want:     []jobs.State{jobs.StateQueued, jobs.StateRunning, jobs.StateFailed},
			wantCode: jobs.CodePowerStateUnverified,
		},
		{
			name: "soft off ignored falls back to hard off when asked", bmc: &fakeBMC{state: jobs.PowerStateOn, deaf: true},
			typ: jobs.Power, params: `{"action":"soft","hard_fallback":true}`,
			want:   []jobs.State{jobs.StateQueued, jobs.StateRunning, jobs.StateRunning, jobs.StateSucceeded},
			result: `{"power_state":"off"}`,
		},
		{
			name: "boot device", bmc: &fakeBMC{}, typ: jobs.BootDevice, params: `{"device":"pxe","efi":true}`,
			want:      []jobs.State{jobs.StateQueued, jobs.StateRunning, jobs.StateSucceeded},
			wantCalls: []string{"boot pxe persistent=false efi=true"},
			result:    `{"device":"pxe","persistent":false,"efi":true}`,
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, tt.bmc)
			id := fmt.Sprintf("job-%d", i)
			e.submit(t, id, tt.typ, tt.params)
			evs := e.events(t, id)
			var got []jobs.State
			for i, ev := range evs {
				got = append(got, ev.State)
				if ev.Seq != int64(i+1) {
					t.Errorf("event %d has seq %d, want %d", i, ev.Seq, i+1)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("states = %v, want %v (events %+v)", got, tt.want, evs)
			}
			last := evs[len(evs)-1]
			if tt.wantCode != "" && (last.Error == nil || last.Error.Code != tt.wantCode) {
				t.Errorf("last error = %+v, want code %s", last.Error, tt.wantCode)
			}
			if tt.wantCalls != nil && !slices.Equal(tt.bmc.Calls(), tt.wantCalls) && len(tt.bmc.Calls())+len(tt.wantCalls) > 0 {
				t.Errorf("BMC calls = %q, want %q", tt.bmc.Calls(), tt.wantCalls)
			}
			if tt.result != "" && string(last.Result) != tt.result {
				t.Errorf("result = %s, want %s", last.Result, tt.result)
			}
			checkLogs(t, e.logs.String(), id)
		})
	}
}

func TestWorkerRetryingEventSaysWhenAndWhy(t *testing.T) {
	t.Parallel()
	busy := jobs.Errorf(jobs.CodeBMCBusy, true, "BMC busy")
	e := setup(t, &fakeBMC{state: jobs.PowerStateOff, setErrs: []error{busy, busy}})
	e.submit(t, "job-retry", jobs.Power, `{"action":"on"}`)
	evs := e.events(t, "job-retry")
	var retries int
	for _, ev := range evs {
		if ev.State != jobs.StateRetrying {
			continue
		}
		retries++
		if ev.NextAttemptAt == nil || ev.Error == nil || ev.Error.Code != jobs.CodeBMCBusy || !ev.Error.Retryable {
			t.Errorf("retrying event %+v lacks next_attempt_at or the retryable error", ev)
		}
		if ev.Attempt != retries || ev.MaxAttempts != 5 {
			t.Errorf("retrying event attempt %d/%d, want %d/5", ev.Attempt, ev.MaxAttempts, retries)
		}
	}
	if retries != 2 || evs[len(evs)-1].State != jobs.StateSucceeded || evs[len(evs)-1].Attempt != 3 {
		t.Errorf("got %d retries ending in %s at attempt %d, want 2 retries and success at attempt 3",
			retries, evs[len(evs)-1].State, evs[len(evs)-1].Attempt)
	}
}

func TestWorkerPanicFailsTheAttemptNotTheProcess(t *testing.T) {
	t.Parallel()
	bmc := &fakeBMC{state: jobs.PowerStateOff, panics: true}
	e := setup(t, bmc)
	e.submit(t, "job-panic", jobs.Power, `{"action":"on"}`)

	// The first attempt panics: the attempt fails with an event, and once the
	// BMC driver heals, the same worker process runs the retry to success.
	var sawPanic bool
	evs := e.watch(t, "job-panic", func(ev events.JobData) bool {
		if ev.State == jobs.StateRetrying && ev.Error != nil && ev.Error.Code == jobs.CodePanic {
			sawPanic = true
			bmc.set(func(f *fakeBMC) { f.panics = false })
		}
		return ev.State.Terminal()
	})
	if last := evs[len(evs)-1]; !sawPanic || last.State != jobs.StateSucceeded {
		t.Fatalf("events %+v: want a retrying event with code panic, then success", evs)
	}
	if !strings.Contains(e.logs.String(), "BMC driver bug") {
		t.Error("the panic was not logged")
	}
}

// checkLogs asserts every log line of the job carries its fields, and that no
// line carries the BMC password.
func checkLogs(t *testing.T, logs, id string) {
	t.Helper()
	if strings.Contains(logs, secret) {
		t.Error("a log line carries the BMC password")
	}
	var seen int
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if m["job_id"] != id {
			continue
		}
		seen++
		for _, k := range []string{"server", "type", "attempt"} {
			if _, ok := m[k]; !ok {
				t.Errorf("log line of job %s lacks %s: %s", id, k, line)
			}
		}
	}
	if seen == 0 {
		t.Errorf("no log line names job %s", id)
	}
}
