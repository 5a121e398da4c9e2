package events_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/events"
)

// validEvent returns an event that passes Validate.
func validEvent() events.Event {
	return events.Event{
		SpecVersion: "1.0", ID: "job-1.1", Source: source, Type: events.JobQueued,
		Subject: "srv-042", Time: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
		DataContentType: "application/json", Data: json.RawMessage(`{"job_id":"job-1","seq":1}`),
	}
}

func TestEventValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*events.Event)
		field  string // "" when valid
	}{
		{"valid", func(*events.Event) {}, ""},
		{"no subject", func(e *events.Event) { e.Subject = "" }, ""},
		{"no server subject", func(e *events.Event) { e.Subject = events.NoServer }, ""},
		{"every type", func(e *events.Event) { e.Type = events.DeployHalted }, ""},
		{"no specversion", func(e *events.Event) { e.SpecVersion = "" }, "specversion"},
		{"old specversion", func(e *events.Event) { e.SpecVersion = "0.3" }, "specversion"},
		{"no id", func(e *events.Event) { e.ID = "" }, "id"},
		{"no source", func(e *events.Event) { e.Source = "" }, "source"},
		{"no type", func(e *events.Event) { e.Type = "" }, "type"},
		{"unknown type", func(e *events.Event) { e.Type = "tinman.job.exploded" }, "type"},
		{"type without prefix", func(e *events.Event) { e.Type = "job.queued" }, "type"},
		{"no time", func(e *events.Event) { e.Time = time.Time{} }, "time"},
		{"no content type", func(e *events.Event) { e.DataContentType = "" }, "datacontenttype"},
		{"text content type", func(e *events.Event) { e.DataContentType = "text/plain" }, "datacontenttype"},
		{"no data", func(e *events.Event) { e.Data = nil }, "data"},
		{"null data", func(e *events.Event) { e.Data = json.RawMessage(`null`) }, "data"},
		{"array data", func(e *events.Event) { e.Data = json.RawMessage(`[1]`) }, "data"},
		{"string data", func(e *events.Event) { e.Data = json.RawMessage(`"x"`) }, "data"},
		{"upper-case subject", func(e *events.Event) { e.Subject = "SRV-1" }, "subject"},
		{"dotted subject", func(e *events.Event) { e.Subject = "srv.1" }, "subject"},
		{"wildcard subject", func(e *events.Event) { e.Subject = "*" }, "subject"},
		{"subject with space", func(e *events.Event) { e.Subject = "srv 1" }, "subject"},
		{"subject too long", func(e *events.Event) { e.Subject = strings.Repeat("a", 64) }, "subject"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev := validEvent()
			tt.change(&ev)
			err := ev.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, events.ErrInvalidEvent) {
				t.Fatalf("Validate() = %v, want ErrInvalidEvent", err)
			}
			if !strings.Contains(err.Error(), ": "+tt.field+": ") {
				t.Errorf("Validate() = %q, want it to name %q", err, tt.field)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	valid, err := json.Marshal(validEvent())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		want string // substring of the error, "" when valid
	}{
		{"valid", valid, ""},
		{"data padded with spaces", []byte(strings.Replace(string(valid), `"data":{`, `"data":  {`, 1)), ""},
		{"exactly the maximum size", sized(t, events.MaxEventSize), ""},
		{"oversized", sized(t, events.MaxEventSize+1), "more than"},
		{"not JSON", []byte("tinman.job.queued srv-042"), "invalid"},
		{"empty", nil, "invalid"},
		{"JSON array", []byte(`[]`), "invalid"},
		{"wrong specversion", []byte(strings.Replace(string(valid), `"1.0"`, `"0.3"`, 1)), "specversion"},
		{"data not an object", []byte(strings.Replace(string(valid), `{"job_id":"job-1","seq":1}`, `[]`, 1)), "data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := events.Decode(tt.data)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Decode() = %v", err)
				}
				if ev.ID != "job-1.1" || ev.Type != events.JobQueued || ev.Subject != "srv-042" || ev.Data[0] != '{' {
					t.Errorf("Decode() = %+v", ev)
				}
				return
			}
			if !errors.Is(err, events.ErrInvalidEvent) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Decode() = %v, want ErrInvalidEvent naming %q", err, tt.want)
			}
		})
	}
}

// sized returns a valid encoded event of exactly n bytes.
func sized(t *testing.T, n int) []byte {
	t.Helper()
	ev := validEvent()
	ev.Data = json.RawMessage(`{"pad":""}`)
	base, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	ev.Data = json.RawMessage(`{"pad":"` + strings.Repeat("x", n-len(base)) + `"}`)
	out, err := json.Marshal(ev)
	if err != nil || len(out) != n {
		t.Fatalf("sized event: %d bytes, %v; want %d", len(out), err, n)
	}
	return out
}

func TestDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	ev := validEvent()
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	got, err := events.Decode(data)
	if err != nil {
		t.Fatalf("Decode() = %v", err)
	}
	if !equalEvents(got, ev) {
		t.Errorf("Decode(Marshal(ev)) = %+v, want %+v", got, ev)
	}
}

func TestNATSSubject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		subject string
		typ     events.Type
		want    string
	}{
		{"srv-042", events.JobSucceeded, "tinman.events.srv-042.job.succeeded"},
		{"srv-042", events.ServerStateChanged, "tinman.events.srv-042.server.state_changed"},
		{"", events.RequestRejected, "tinman.events._.request.rejected"},
		{"", events.DeployBatchStarted, "tinman.events._.deploy.batch_started"},
		{events.NoServer, events.DeployHalted, "tinman.events._.deploy.halted"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			ev := validEvent()
			ev.Subject, ev.Type = tt.subject, tt.typ
			if got := ev.NATSSubject(); got != tt.want {
				t.Errorf("NATSSubject() = %q, want %q", got, tt.want)
			}
		})
	}
}

// equalEvents compares events as their JSON does: times by instant, data by
// its encoding.
func equalEvents(a, b events.Event) bool {
	da, errA := json.Marshal(a.Data)
	db, errB := json.Marshal(b.Data)
	return a.SpecVersion == b.SpecVersion && a.ID == b.ID && a.Source == b.Source && a.Type == b.Type &&
		a.Subject == b.Subject && a.Time.Equal(b.Time) && a.DataContentType == b.DataContentType &&
		errA == nil && errB == nil && string(da) == string(db)
}
