package main

import (
	"bufio"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/events"
)

// output is what the process wrote so far.
func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// TestProcessLogLines reads every line the real roles log at debug level
// through a job, a BMC that refuses, and a shutdown: each is JSON with an
// RFC 3339 timestamp in milliseconds, at most one component, durations in
// milliseconds with the unit in the key, and every line of a job carries
// its job, server, type and attempt.
func TestProcessLogLines(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	roles := []*proc{c.role(t, "dispatcher", "--log-level", "debug"), c.role(t, "worker", "--log-level", "debug")}
	s := c.client(t)
	s.publish(t, "power", "log-on", `{"id":"log-on","type":"power","server":"srv-1","params":{"action":"on"}}`)
	s.collect(t, events.Filter{Job: "log-on"}, time.Minute, terminal)
	c.sim.Faults().SetAuthFailure(true)
	s.publish(t, "power", "log-refused", `{"id":"log-refused","type":"power","server":"srv-1","params":{"action":"off"}}`)
	s.collect(t, events.Filter{Job: "log-refused"}, time.Minute, terminal)
	for _, p := range roles {
		p.stop(t, 30*time.Second)
	}
	unitless := []string{"took", "duration", "retry_in", "timeout", "drain_delay", "elapsed"}
	var lines, jobLines int
	components := map[string]bool{}
	for _, p := range roles {
		sc := bufio.NewScanner(strings.NewReader(p.output()))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			lines++
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Errorf("%s: not JSON: %q", p.cmd.Args[1], line)
				continue
			}
			ts, _ := rec["time"].(string)
			if _, err := time.Parse("2006-01-02T15:04:05.000Z07:00", ts); err != nil || len(ts) < len("2006-01-02T15:04:05.000Z") {
				t.Errorf("time %q is not RFC 3339 with milliseconds: %s", ts, line)
			}
			if n := strings.Count(line, `"component":`); n > 1 {
				t.Errorf("%d components in one line: %s", n, line)
			}
			if comp, ok := rec["component"].(string); ok {
				components[comp] = true
			}
			for k, v := range rec {
				if slices.Contains(unitless, k) {
					t.Errorf("duration %q without its unit in the key: %s", k, line)
				}
				if _, isNum := v.(float64); strings.HasSuffix(k, "_ms") && !isNum {
					t.Errorf("%s is not a number of milliseconds: %s", k, line)
				}
			}
			if _, ok := rec["job_id"]; ok {
				jobLines++
				for _, k := range []string{"server", "type", "attempt"} {
					if _, ok := rec[k]; !ok && rec["component"] == "worker" {
						t.Errorf("a job line without %s: %s", k, line)
					}
				}
			}
			if strings.Contains(line, "s3cret") || strings.Contains(line, "Password") {
				t.Errorf("a credential in the logs: %s", line)
			}
		}
	}
	if lines == 0 || jobLines == 0 {
		t.Fatalf("%d lines, %d of jobs: the roles logged nothing to check", lines, jobLines)
	}
	t.Logf("%d lines, %d of jobs, components %v", lines, jobLines, components)
}
