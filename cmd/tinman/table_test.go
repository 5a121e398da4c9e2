package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/jobs"
)

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestJobsTableAlignsWithAndWithoutColour(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	list := []jobs.Job{
		{ID: "a-very-long-job-id-01", Type: jobs.Power, Server: "srv-042", State: jobs.StateSucceeded, Attempt: 1, MaxAttempts: 8, UpdatedAt: now.Add(-90 * time.Second)},
		{ID: "b", Type: jobs.Deploy, State: jobs.StateFailed, Attempt: 1, MaxAttempts: 1, UpdatedAt: now.Add(-3 * time.Hour),
			Error: &jobs.Error{Code: "deploy_halted", Message: strings.Repeat("x", 100)}},
		{ID: "c", Type: jobs.Inspect, Server: "srv-1", State: "queued", UpdatedAt: now.Add(-500 * time.Millisecond)},
	}
	var plain, coloured bytes.Buffer
	if err := printJobs(&plain, list, false, now); err != nil {
		t.Fatal(err)
	}
	if err := printJobs(&coloured, list, true, now); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plain.String(), "\x1b") {
		t.Errorf("a table without colour has escapes:\n%q", plain.String())
	}
	if !strings.Contains(coloured.String(), colorGreen+"succeeded"+colorReset) {
		t.Errorf("the coloured table does not colour the state:\n%q", coloured.String())
	}
	if got := ansi.ReplaceAllString(coloured.String(), ""); got != plain.String() {
		t.Errorf("colour changes the alignment:\n%s\nwant\n%s", got, plain.String())
	}
	lines := strings.Split(strings.TrimSpace(plain.String()), "\n")
	col := strings.Index(lines[0], "STATE")
	for _, l := range lines[1:] {
		if l[col-2:col] != "  " || l[col] == ' ' {
			t.Errorf("STATE column not aligned at %d:\n%s", col, plain.String())
		}
	}
	for _, want := range []string{"1/8", "1m ago", "3h ago", "just now", "deploy_halted: xxx", "…", "srv-042"} {
		if !strings.Contains(plain.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, plain.String())
		}
	}
	if !strings.Contains(lines[2], " - ") {
		t.Errorf("an empty cell is not shown as -: %q", lines[2])
	}
}

func TestServersLabelsAndAges(t *testing.T) {
	t.Parallel()
	if got := formatLabels(map[string]string{"rack": "r1", "fleet": "sim", "a": ""}); got != "a=,fleet=sim,rack=r1" {
		t.Errorf("formatLabels = %q", got)
	}
	now := time.Now()
	for d, want := range map[time.Duration]string{0: "just now", 5 * time.Second: "5s ago", 3 * time.Minute: "3m ago",
		47 * time.Hour: "47h ago", 72 * time.Hour: "3d ago"} {
		if got := age(now.Add(-d), now); got != want {
			t.Errorf("age(%s) = %q, want %q", d, got, want)
		}
	}
	if age(time.Time{}, now) != "" {
		t.Error("age of the zero time is not empty")
	}
}

// Text from a request cannot drive the terminal: control characters print
// escaped, colour sequences stay.
func TestPrintableEscapesControlCharacters(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"ops@example.com":                  "ops@example.com",
		"evil\x1b]0;pwned\a":               `evil\x1b]0;pwned\a`,
		"line\rover":                       `line\rover`,
		"\x1b[2J\x1b[Hcleared":             `\x1b[2J\x1b[Hcleared`,
		colorRed + "failed" + colorReset:   colorRed + "failed" + colorReset,
		"del\x7f and nul\x00 and bell\x07": `del\x7f and nul\x00 and bell\a`,
		"Grüße, naïve, 日本":                 "Grüße, naïve, 日本",
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}
