package events_test

import (
	"testing"

	"github.com/tinmanhq/tinman/events"
)

func TestValidTypePattern(t *testing.T) {
	t.Parallel()
	for p, want := range map[string]bool{
		"job": true, "job.failed": true, "tinman.job.failed": true, "tinman.job.*": true, "*.failed": true,
		">": true, "*": true, "job.>": true, "server.state_changed": true, "deploy": true, "request.rejected": true,
		"": false, "tinman.": false, "foo": false, "job.exploded": false, "job.failed.x": false, ">.job": false,
		"JOB": false, "job..failed": false, "job.fa*led": false, "tinman.tinman.job": false, "job .failed": false,
		"*.*.*": false, "tinman": false, "job.failed ": false,
	} {
		if got := events.ValidTypePattern(p); got != want {
			t.Errorf("ValidTypePattern(%q) = %v, want %v", p, got, want)
		}
	}
}
