package events_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
)

// FuzzDecode checks that Decode never panics, that what it accepts is valid
// and publishable, and that an accepted event re-encodes to bytes that decode
// to the same event, and re-encode to the same bytes.
func FuzzDecode(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := events.Decode(data)
		if err != nil {
			return
		}
		if err := ev.Validate(); err != nil {
			t.Fatalf("Decode accepted an event Validate refuses: %v", err)
		}
		checkSubject(t, ev.NATSSubject())
		first, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", ev, err)
		}
		again, err := events.Decode(first)
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v\n%s", err, first)
		}
		if !equalEvents(again, ev) {
			t.Fatalf("round trip changed the event:\n got %+v\nwant %+v", again, ev)
		}
		second, err := json.Marshal(again)
		if err != nil || !bytes.Equal(first, second) {
			t.Fatalf("encoding is not stable (%v):\n%s\n%s", err, first, second)
		}
	})
}

// checkSubject fails unless s is a literal five-token event subject.
func checkSubject(t *testing.T, s string) {
	t.Helper()
	tokens := strings.Split(s, ".")
	if len(tokens) != 5 || !strings.HasPrefix(s, events.SubjectPrefix) {
		t.Fatalf("subject %q: want tinman.events.<server>.<kind>.<what>", s)
	}
	for _, tok := range tokens {
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n") {
			t.Fatalf("subject %q has a bad token %q", s, tok)
		}
	}
}

func fuzzSeeds(f *testing.F) [][]byte {
	f.Helper()
	job := jobs.Job{ID: "job-1", Type: jobs.Power, Server: "srv-042", State: jobs.StateSucceeded,
		Result: json.RawMessage(`{"power":"on"}`)}
	var seeds [][]byte
	for _, typ := range events.Types() {
		ev, err := events.NewJobEvent(source, typ, job, 3, events.Detail{NextAttemptAt: time.Now()})
		if err != nil {
			f.Fatal(err)
		}
		data, err := json.Marshal(ev)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, data)
	}
	return append(seeds,
		[]byte(`{"specversion":"1.0","id":"x","source":"/s","type":"tinman.deploy.halted","time":"2026-01-01T00:00:00+01:00","datacontenttype":"application/json","data":{ "a" : [1, 2.50, "<&>"] }}`),
		[]byte(`{"specversion":"1.0","id":"x","source":"/s","type":"tinman.job.queued","subject":"_","time":"2026-01-01T00:00:00Z","datacontenttype":"application/json","data":{}}`),
		[]byte(`{"specversion":"1.0","id":"x","source":"/s","type":"tinman.job.queued","subject":"a.b","time":"2026-01-01T00:00:00Z","datacontenttype":"application/json","data":{}}`),
		[]byte(`{"SpecVersion":"1.0","ID":"x","source":"/s","type":"tinman.job.queued","time":"2026-01-01T00:00:00Z","datacontenttype":"application/json","data":{"\u00e9":"\ud800"}}`),
		[]byte(`not json`),
	)
}
