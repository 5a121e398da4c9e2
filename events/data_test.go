package events_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
)

func TestNewJobEvent(t *testing.T) {
	t.Parallel()
	retryAt := time.Date(2026, 11, 27, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	job := jobs.Job{
		ID: "job-7", Type: jobs.Power, Server: "srv-042", State: jobs.StateRunning, Attempt: 2, MaxAttempts: 8,
		RequestedBy: "ops@example.com", Result: json.RawMessage(`{"power_state":"on"}`),
		Error: &jobs.Error{Code: jobs.CodeBMCTimeout, Message: "slow", Retryable: true},
	}
	tests := []struct {
		typ    events.Type
		server string
		seq    int64
		detail events.Detail
	}{
		{events.JobQueued, "srv-042", 1, events.Detail{}},
		{events.JobStarted, "srv-042", 2, events.Detail{Provider: "redfish"}},
		{events.JobProgress, "srv-042", 3, events.Detail{Step: "power-on", Message: "half way"}},
		{events.JobRetrying, "srv-042", 4, events.Detail{NextAttemptAt: retryAt}},
		{events.JobSucceeded, "srv-042", 5, events.Detail{}},
		{events.JobFailed, "srv-042", 12, events.Detail{}},
		{events.JobCanceled, "", 100, events.Detail{}},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ), func(t *testing.T) {
			t.Parallel()
			j := job
			j.Server = tt.server
			ev, err := events.NewJobEvent(source, tt.typ, j, tt.seq, tt.detail)
			if err != nil {
				t.Fatalf("NewJobEvent: %v", err)
			}
			if err := ev.Validate(); err != nil {
				t.Errorf("Validate() = %v", err)
			}
			if want := "job.job-7." + itoa(tt.seq); ev.ID != want || ev.Subject != tt.server || ev.Source != source || ev.Type != tt.typ {
				t.Errorf("event = id %q subject %q source %q type %q; want id %q", ev.ID, ev.Subject, ev.Source, ev.Type, want)
			}
			checkJobData(t, ev, tt.seq, tt.detail)
		})
	}
}

func checkJobData(t *testing.T, ev events.Event, seq int64, detail events.Detail) {
	t.Helper()
	d, err := ev.JobData()
	if err != nil {
		t.Fatalf("JobData: %v", err)
	}
	if d.JobID != "job-7" || d.Seq != seq || d.State != jobs.StateRunning || d.Attempt != 2 || d.MaxAttempts != 8 ||
		d.Step != detail.Step || d.Message != detail.Message || d.Provider != detail.Provider || d.Error == nil {
		t.Errorf("JobData() = %+v", d)
	}
	if got := d.Result != nil; got != ev.Type.Terminal() {
		t.Errorf("%s carries result %s; want a result only on terminal events", ev.Type, d.Result)
	}
	switch {
	case detail.NextAttemptAt.IsZero() && strings.Contains(string(ev.Data), "next_attempt_at"):
		t.Errorf("next_attempt_at without a retry: %s", ev.Data)
	case !detail.NextAttemptAt.IsZero() && !strings.Contains(string(ev.Data), `"next_attempt_at":"2026-11-27T11:00:00Z"`):
		t.Errorf("next_attempt_at not in UTC: %s", ev.Data)
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestNewRejected(t *testing.T) {
	t.Parallel()
	cause := jobs.Invalid("params.action", "must be one of on, off")
	tests := []struct {
		name, server string
		raw          string
		wantServer   string
		wantRequest  string // JSON kept as JSON
		wantText     string // anything else kept as text
	}{
		{"JSON request", "srv-042", `{"type":"power","params":{"action":"bounce"}}`, "srv-042", `{"type":"power","params":{"action":"bounce"}}`, ""},
		{"non-JSON request", "srv-042", `type=power action=bounce`, "srv-042", "", `type=power action=bounce`},
		{"truncated JSON", "", `{"type":"power"`, "", "", `{"type":"power"`},
		{"bad server id dropped", "SRV/../x", `{"server":"SRV/../x"}`, "", `{"server":"SRV/../x"}`, ""},
		{"wildcard server dropped", "*", `{}`, "", `{}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := events.NewRejected(source, "job-9", tt.server, []byte(tt.raw), cause)
			if err != nil {
				t.Fatalf("NewRejected: %v", err)
			}
			if err := ev.Validate(); err != nil || ev.Type != events.RequestRejected || ev.Subject != tt.wantServer {
				t.Fatalf("event type %q subject %q, Validate() = %v", ev.Type, ev.Subject, err)
			}
			var d events.RejectedData
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				t.Fatal(err)
			}
			if d.JobID != "job-9" || d.Server != tt.wantServer || d.Reason != "params.action: must be one of on, off" ||
				d.Error == nil || d.Error.Field != "params.action" || d.Error.Code != jobs.CodeInvalidRequest {
				t.Errorf("data = %s", ev.Data)
			}
			if string(d.Request) != tt.wantRequest || d.RequestText != tt.wantText {
				t.Errorf("request %s, request_text %q; want %s, %q", d.Request, d.RequestText, tt.wantRequest, tt.wantText)
			}
		})
	}
}

func TestNewRejectedUncodedError(t *testing.T) {
	t.Parallel()
	ev, err := events.NewRejected(source, "", "", []byte(`{}`), errors.New("boom"))
	if err != nil {
		t.Fatalf("NewRejected: %v", err)
	}
	var d events.RejectedData
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		t.Fatal(err)
	}
	if d.Error == nil || d.Error.Code != jobs.CodeInternal || d.Reason != "boom" || ev.NATSSubject() != "tinman.events._.request.rejected" {
		t.Errorf("data = %s on %s", ev.Data, ev.NATSSubject())
	}
}

// A request refused for its size must still be announced by an event that
// watchers can decode: else the rejection is dropped unseen. The embedded
// NATS of `tinman dev` accepts 8 MiB messages; MaxRequestSize is 64 KiB.
func TestNewRejectedOversizedRequestStaysDecodable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		raw  []byte
	}{
		{"JSON", []byte(`{"type":"power","pad":"` + strings.Repeat("x", 2<<20) + `"}`)},
		{"text", []byte(strings.Repeat("x", 2<<20))},
		{"text that escapes", []byte(strings.Repeat("\x01", 200<<10))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, cause := jobs.DecodeRequest(tt.raw)
			ev, err := events.NewRejected(source, "job-big", "srv-042", tt.raw, cause)
			if err != nil {
				t.Fatalf("NewRejected: %v", err)
			}
			data, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := events.Decode(data); err != nil {
				t.Errorf("the rejection of a %d-byte request is a %d-byte event that Decode refuses: %v",
					len(tt.raw), len(data), err)
			}
			var d events.RejectedData
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				t.Fatal(err)
			}
			if !d.RequestTruncated || d.Request != nil || d.RequestText == "" || len(d.RequestText) > jobs.MaxRequestSize ||
				!strings.HasPrefix(string(tt.raw), d.RequestText) {
				t.Errorf("request %d bytes, request_text %d bytes, truncated %t; want the first %d bytes as text, truncated",
					len(d.Request), len(d.RequestText), d.RequestTruncated, jobs.MaxRequestSize)
			}
		})
	}
}

// A rejection without a cause (a caller's slip) is still announced, with an
// internal error, not a panic.
func TestNewRejectedNilError(t *testing.T) {
	t.Parallel()
	ev, err := events.NewRejected(source, "job-9", "srv-042", []byte(`{}`), nil)
	if err != nil {
		t.Fatalf("NewRejected: %v", err)
	}
	var d events.RejectedData
	if err := json.Unmarshal(ev.Data, &d); err != nil {
		t.Fatal(err)
	}
	if err := ev.Validate(); err != nil || d.Error == nil || d.Error.Code != jobs.CodeInternal || d.Reason == "" {
		t.Errorf("Validate() = %v, data = %s; want an internal error with a reason", err, ev.Data)
	}
}

// A request at the size limit is carried whole; only a larger one is cut.
func TestNewRejectedAtSizeLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		raw       []byte
		truncated bool
	}{
		{"text at the limit", []byte(strings.Repeat("x", jobs.MaxRequestSize)), false},
		{"text one byte over", []byte(strings.Repeat("x", jobs.MaxRequestSize+1)), true},
		{"JSON at the limit", []byte(`"` + strings.Repeat("x", jobs.MaxRequestSize-2) + `"`), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := events.NewRejected(source, "job-9", "", tt.raw, jobs.Invalid("", "too big"))
			if err != nil {
				t.Fatalf("NewRejected: %v", err)
			}
			var d events.RejectedData
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				t.Fatal(err)
			}
			carried := len(d.Request) + len(d.RequestText)
			if want := min(len(tt.raw), jobs.MaxRequestSize); d.RequestTruncated != tt.truncated || carried != want {
				t.Errorf("carried %d bytes, truncated %t; want %d, %t", carried, d.RequestTruncated, want, tt.truncated)
			}
		})
	}
}
