package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/api"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
)

// TestMetricsTellTheTruth drives a power job, a rejected request and a
// provision that parks for its installer through the real dev system, then
// reads /metrics: the build, the dispatcher's accepted and rejected
// requests, the outbox, servers by state, breakers, and the provision's
// whole life (queued to end, parked waits included) well above the time
// its handler ran.
func TestMetricsTellTheTruth(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	s := startDevWith(t, redisURL, 2, func(c *devConfig) {
		c.InstallerDelay = 2 * time.Second
		c.Worker.WaitPoll = 200 * time.Millisecond
	})
	dc, _ := readDevContext(s.dev.cfg.ContextFile)
	c := apiCaller{base: dc.APIURL, token: dc.Token}
	submit := func(body string) string {
		t.Helper()
		st, out := c.call(t, "POST", "/v1/jobs", body)
		if st != http.StatusAccepted {
			t.Fatalf("submit %s: %d %s", body, st, out)
		}
		var sub api.Submitted
		_ = json.Unmarshal([]byte(out), &sub)
		return sub.JobID
	}
	power := submit(`{"type":"power","server":"sim-01","params":{"action":"on"}}`)
	prov := submit(`{"type":"provision","server":"sim-02","params":{"image":"tinman-demo"}}`)
	for _, id := range []string{power, prov} {
		if job := c.waitJob(t, id); job.State != jobs.StateSucceeded {
			t.Fatalf("job %s ended %s: %+v", id, job.State, job)
		}
	}
	// A request for a server that is not enrolled, straight on NATS: the
	// dispatcher refuses it (the API would have refused it first).
	s.publish(t, "power", "", `{"id":"metrics-ghost","type":"power","server":"ghost-1","params":{"action":"on"}}`)

	want := map[string]func(float64) bool{
		`tinman_build_info{`:                                                      func(v float64) bool { return v == 1 },
		`tinman_dispatch_accepted_total`:                                          func(v float64) bool { return v >= 2 },
		`tinman_dispatch_rejected_total{code="not_found"}`:                        func(v float64) bool { return v == 1 },
		`tinman_outbox_streams_pending`:                                           func(v float64) bool { return v >= 0 },
		`tinman_outbox_oldest_event_age_seconds`:                                  func(v float64) bool { return v < 60 },
		`tinman_servers{state="active"}`:                                          func(v float64) bool { return v == 1 },
		`tinman_servers{state="available"}`:                                       func(v float64) bool { return v == 1 },
		`tinman_breakers_open`:                                                    func(v float64) bool { return v == 0 },
		`tinman_jobs_waiting_for_lease`:                                           func(v float64) bool { return v == 0 },
		`tinman_job_duration_seconds_count{outcome="succeeded",type="provision"}`: func(v float64) bool { return v == 1 },
	}
	var got map[string]float64
	deadline := time.Now().Add(30 * time.Second)
	for {
		got = scrape(t, c)
		missing := ""
		for series, ok := range want {
			if v, found := lookup(got, series); !found || !ok(v) {
				missing += series + "=" + strconv.FormatFloat(v, 'g', -1, 64) + " "
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("series wrong or missing after 30 s: %s", missing)
		}
		time.Sleep(500 * time.Millisecond)
	}
	whole, _ := lookup(got, `tinman_job_duration_seconds_sum{outcome="succeeded",type="provision"}`)
	ran, _ := lookup(got, `tinman_job_attempt_seconds_sum{type="provision"}`)
	if whole < 2*2 || whole < 2*ran { // two installer reports, 2 s each, spent parked
		t.Errorf("provision: %.2f s from queued to succeeded, %.2f s in its handler: the parked waits are not counted", whole, ran)
	}
	t.Logf("provision: %.2f s queued to succeeded, %.2f s in its handler", whole, ran)
}

// scrape reads /metrics into series -> value.
func scrape(t *testing.T, c apiCaller) map[string]float64 {
	t.Helper()
	st, body := c.call(t, "GET", "/metrics", "")
	if st != http.StatusOK {
		t.Fatalf("/metrics: %d", st)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// lookup finds a series by its name and labels, or by a prefix ending in {.
func lookup(series map[string]float64, key string) (float64, bool) {
	if v, ok := series[key]; ok {
		return v, true
	}
	if strings.HasSuffix(key, "{") {
		for k, v := range series {
			if strings.HasPrefix(k, key) {
				return v, true
			}
		}
	}
	return 0, false
}
