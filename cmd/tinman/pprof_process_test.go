package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A role started with --pprof serves Go's profiles on its --health-addr;
// without it, the same paths are not found.
func TestProcessProfilesOnlyWithPprof(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	with, without := freeLoopbackAddr(t), freeLoopbackAddr(t)
	c.role(t, "dispatcher", "--health-addr", with, "--pprof")
	c.role(t, "worker", "--health-addr", without)
	get := func(url string) (int, string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get(url)
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				return resp.StatusCode, string(body)
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET %s: %v", url, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if code, body := get("http://" + with + "/debug/pprof/cmdline"); code != http.StatusOK || !strings.Contains(body, "dispatcher") {
		t.Errorf("dispatcher --pprof: /debug/pprof/cmdline answered %d %q, want 200 naming the command", code, body)
	}
	if code, body := get("http://" + with + "/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("dispatcher --pprof: /debug/pprof/ answered %d, want 200 listing the profiles: %.200s", code, body)
	}
	if code, _ := get("http://" + without + "/readyz"); code != http.StatusOK && code != http.StatusServiceUnavailable {
		t.Fatalf("worker: /readyz answered %d", code)
	}
	if code, _ := get("http://" + without + "/debug/pprof/cmdline"); code != http.StatusNotFound {
		t.Errorf("worker without --pprof: /debug/pprof/cmdline answered %d, want 404", code)
	}
}
