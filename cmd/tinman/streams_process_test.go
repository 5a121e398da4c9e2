package main

import (
	"net/http"
	"testing"

	"github.com/tinmanhq/tinman/api"
)

// TestProcessAPIStreamCaps runs `tinman api` with the per-token cap from a
// flag and the total from its TINMAN_ variable: past either, a stream is
// refused with 429 and the configured Retry-After. (Not parallel: it sets
// an environment variable.)
func TestProcessAPIStreamCaps(t *testing.T) {
	t.Setenv("TINMAN_MAX_STREAMS", "2")
	c := startCluster(t)
	addr := freeLoopbackAddr(t)
	tokens := map[string]string{"viewer": "caps-viewer-token-0123", "operator": "caps-operator-token-0123", "admin": "caps-admin-token-0123"}
	spec := ""
	for role, tok := range tokens {
		spec += role + ":" + api.HashToken(tok) + ","
	}
	c.role(t, "api", "--http-addr", addr, "--tokens", spec[:len(spec)-1], "--drain-delay", "0s",
		"--max-streams-per-token", "1", "--streams-retry-after", "3s")
	caller := func(role string) apiCaller { return apiCaller{base: "http://" + addr, token: tokens[role]} }
	waitAPIStatus(t, caller("viewer"), "/readyz", http.StatusOK)

	openSSE(t, caller("viewer"))
	if st, h := streamStatus(t, caller("viewer")); st != http.StatusTooManyRequests || h.Get("Retry-After") != "3" {
		t.Errorf("a token's second stream: %d Retry-After %q, want 429 and 3", st, h.Get("Retry-After"))
	}
	openSSE(t, caller("operator"))
	if st, h := streamStatus(t, caller("admin")); st != http.StatusTooManyRequests || h.Get("Retry-After") != "3" {
		t.Errorf("a third stream in all: %d Retry-After %q, want 429 and 3", st, h.Get("Retry-After"))
	}
}

// streamStatus asks for an event stream and returns the status and
// headers of an answer that is not a stream.
func streamStatus(t *testing.T, c apiCaller) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequest("GET", c.base+"/v1/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, resp.Header
}
