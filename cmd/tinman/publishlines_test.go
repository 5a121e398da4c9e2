package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
)

// publish --lines checks every line before it sends one, then publishes
// them all and prints their ids; each becomes a job that runs.
func TestPublishLines(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	s := startDev(t, redisURL, 3)
	url := "--nats-url=" + s.dev.natsURL
	dir := t.TempDir()
	write := func(name string, lines ...string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	status := func(id, server string) string {
		return fmt.Sprintf(`{"id":%q,"type":"power","server":%q,"params":{"action":"status"}}`, id, server)
	}
	requests := func() uint64 {
		st, err := s.js.Stream(context.Background(), events.RequestsStream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}

	before := requests()
	for _, tt := range []struct {
		args []string
		says string
	}{
		{[]string{"--lines", write("bad.jsonl", status("l-1", "sim-01"), `{"type":"power","server":"sim-02","params":{"action":"explode"}}`)}, "line 2"},
		{[]string{"--lines", write("notjson.jsonl", status("l-1", "sim-01"), "power sim-02")}, "line 2: not a JSON request"},
		{[]string{"--lines", write("empty.jsonl", "")}, "no request"},
		{[]string{"--lines", write("one.jsonl", status("l-1", "sim-01")), "--wait"}, "--lines"},
	} {
		code, _, errOut := tinman(t, 10*time.Second, append([]string{"publish", url}, tt.args...)...)
		if code != exitUsage || !strings.Contains(errOut, tt.says) {
			t.Errorf("publish %v: exit %d %q, want 2 saying %q", tt.args, code, errOut, tt.says)
		}
	}
	if after := requests(); after != before {
		t.Errorf("refused files published %d requests, want none", after-before)
	}

	good := write("good.jsonl", status("l-1", "sim-01"), "", status("l-2", "sim-02"), `{"type":"power","server":"sim-03","params":{"action":"status"}}`)
	code, out, errOut := tinman(t, time.Minute, "publish", url, "--lines", good)
	ids := strings.Fields(out)
	if code != exitOK || len(ids) != 3 || ids[0] != "l-1" || ids[1] != "l-2" || !jobs.ValidJobID(ids[2]) {
		t.Fatalf("publish --lines: exit %d, ids %q, stderr %q; want l-1, l-2 and a new id", code, ids, errOut)
	}
	for _, id := range ids {
		waitSucceeded(t, s, id)
	}
}

// waitSucceeded waits, up to a minute, for job id to succeed.
func waitSucceeded(t *testing.T, s *system, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		job, err := s.dev.backend.store.Job(ctx, id)
		if err == nil && job.State.Terminal() {
			if job.State != jobs.StateSucceeded {
				t.Errorf("job %s ended %s, want succeeded", id, job.State)
			}
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("job %s did not end within a minute: %+v, %v", id, job, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
