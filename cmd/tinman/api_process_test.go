package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/api"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
)

func TestAPIRefusesToStartWithoutTokens(t *testing.T) {
	t.Parallel()
	code, _, errOut := tinman(t, 10*time.Second, "api", "--nats-url", "nats://127.0.0.1:1", "--http-addr", "127.0.0.1:0")
	if code != exitUsage {
		t.Fatalf("exit %d, want %d: %s", code, exitUsage, errOut)
	}
	for _, name := range []string{"--tokens", "TINMAN_TOKENS", "--tokens-file", "--insecure-no-auth"} {
		if !strings.Contains(errOut, name) {
			t.Errorf("the refusal does not name %s: %s", name, errOut)
		}
	}
	code, _, errOut = tinman(t, 10*time.Second, "api", "--tokens", "admin:plain-secret-token", "--http-addr", "127.0.0.1:0")
	if code != exitUsage || !strings.Contains(errOut, "--tokens") || strings.Contains(errOut, "plain-secret-token") {
		t.Errorf("a plain token in --tokens: exit %d: %s", code, errOut)
	}
	code, _, errOut = tinman(t, 10*time.Second, "api", "--insecure-no-auth", "--tokens", "admin:"+api.HashToken("x"), "--http-addr", "127.0.0.1:0")
	if code != exitUsage {
		t.Errorf("tokens and --insecure-no-auth: exit %d: %s", code, errOut)
	}
}

// TestDevServesTheAPI runs the real dev system and drives a job through the
// API with the token dev leaves in its context file.
func TestDevServesTheAPI(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	s := startDev(t, redisURL, 2)
	dc, ok := readDevContext(s.dev.cfg.ContextFile)
	if !ok || dc.Token == "" || dc.APIURL != s.dev.apiURL {
		t.Fatalf("dev context %+v lacks the API token", dc)
	}
	c := apiCaller{base: dc.APIURL, token: dc.Token}
	if st, body := c.call(t, "GET", "/v1/servers?selector=fleet=sim", ""); st != 200 || strings.Count(body, `"id":"sim-0`) != 2 {
		t.Fatalf("servers: %d %s", st, body)
	}
	st, body := c.call(t, "POST", "/v1/jobs", `{"type":"power","server":"sim-01","params":{"action":"on"}}`)
	if st != http.StatusAccepted {
		t.Fatalf("submit: %d %s", st, body)
	}
	var sub api.Submitted
	_ = json.Unmarshal([]byte(body), &sub)
	job := c.waitJob(t, sub.JobID)
	if job.State != jobs.StateSucceeded {
		t.Fatalf("job ended %s: %+v", job.State, job)
	}
	if st, _ := (apiCaller{base: dc.APIURL}).call(t, "GET", "/v1/jobs", ""); st != http.StatusUnauthorized {
		t.Errorf("no token: %d", st)
	}
	_, metrics := c.call(t, "GET", "/metrics", "")
	for _, series := range []string{`tinman_http_request_duration_seconds_count{method="POST",route="POST /v1/jobs",status="202"}`,
		`tinman_api_jobs_submitted_total{outcome="accepted",type="power"}`, "go_goroutines"} {
		if !strings.Contains(metrics, series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
}

// apiCaller calls the API with a token.
type apiCaller struct {
	base, token string
	client      *http.Client
}

func (c apiCaller) call(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	st, out, err := c.try(method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return st, out
}

func (c apiCaller) try(method, path, body string) (int, string, error) {
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	client := c.client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data), err
}

// waitJob polls the job until it ends.
func (c apiCaller) waitJob(t *testing.T, id string) jobs.Job {
	t.Helper()
	var job jobs.Job
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		st, body := c.call(t, "GET", "/v1/jobs/"+id, "")
		if st != http.StatusOK {
			t.Fatalf("GET job %s: %d %s", id, st, body)
		}
		if err := json.Unmarshal([]byte(body), &job); err != nil {
			t.Fatal(err)
		}
		if job.State.Terminal() {
			return job
		}
	}
	t.Fatalf("job %s did not end: %+v", id, job)
	return job
}

// TestProcessAPIGracefulShutdown sends SIGTERM to the real `tinman api`
// while requests are in flight. Clients behave as a load balancer does:
// they stop sending once /readyz says 503. Every request sent is
// answered, none with a 5xx; an open event stream ends cleanly; the
// process exits 0.
func TestProcessAPIGracefulShutdown(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	token := "process-test-admin-token"
	addr := freeLoopbackAddr(t)
	p := c.role(t, "api", "--http-addr", addr, "--tokens", "admin:"+api.HashToken(token),
		"--drain-delay", "1s", "--shutdown-timeout", "10s")
	cl := apiCaller{base: "http://" + addr, token: token, client: &http.Client{Timeout: 10 * time.Second}}
	waitAPIStatus(t, cl, "/readyz", http.StatusOK)

	stream := openSSE(t, cl)
	var draining atomic.Bool
	stats := &shutdownLoad{}
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() { stats.loop(cl, i, &draining) })
	}
	wg.Go(func() { watchReadiness(cl, &draining) })
	time.Sleep(500 * time.Millisecond) // requests are flowing

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := stream.wait(10 * time.Second); err != nil {
		t.Errorf("the open event stream did not end cleanly: %v", err)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Errorf("tinman api exited with %v", err)
	}
	stats.check(t)
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// waitAPIStatus polls path until it answers status.
func waitAPIStatus(t *testing.T, c apiCaller, path string, status int) {
	t.Helper()
	for range 300 {
		if st, _, err := c.try("GET", path, ""); err == nil && st == status {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never answered %d", path, status)
}

// shutdownLoad counts the answers of the request loops.
type shutdownLoad struct {
	mu       sync.Mutex
	answered int
	bad      []string
}

func (s *shutdownLoad) note(route string, status int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err != nil:
		s.bad = append(s.bad, fmt.Sprintf("%s: %v", route, err))
	case status >= 500:
		s.bad = append(s.bad, fmt.Sprintf("%s: %d", route, status))
	default:
		s.answered++
	}
}

// loop sends requests, each on a new connection, until the readiness
// prober says the API drains.
func (s *shutdownLoad) loop(c apiCaller, i int, draining *atomic.Bool) {
	c.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for n := 0; !draining.Load(); n++ {
		route, method, body := "/v1/servers/srv-1", "GET", ""
		if n%2 == 1 {
			route, method = "/v1/jobs", "POST"
			body = fmt.Sprintf(`{"id":"sigterm-%d-%d","type":"power","server":"srv-1","params":{"action":"status"}}`, i, n)
		}
		st, _, err := c.try(method, route, body)
		s.note(method+" "+route, st, err)
	}
}

// watchReadiness polls /readyz every 20 ms and sets draining at its first 503.
func watchReadiness(c apiCaller, draining *atomic.Bool) {
	for !draining.Load() {
		if st, _, err := c.try("GET", "/readyz", ""); err != nil || st == http.StatusServiceUnavailable {
			draining.Store(true)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *shutdownLoad) check(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.answered < 10 {
		t.Errorf("only %d requests answered: the load did not run", s.answered)
	}
	for _, b := range s.bad {
		t.Errorf("a request was not answered well: %s", b)
	}
	t.Logf("%d requests answered across the shutdown", s.answered)
}

// sseStream is an open GET /v1/events; done receives how it ended.
type sseStream struct{ done chan error }

func openSSE(t *testing.T, c apiCaller) *sseStream {
	t.Helper()
	req, _ := http.NewRequest("GET", c.base+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := (&http.Client{}).Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("open event stream: %v %v", resp, err)
	}
	s := &sseStream{done: make(chan error, 1)}
	go func() {
		defer resp.Body.Close()
		rd := bufio.NewReader(resp.Body)
		for {
			if _, err := rd.ReadString('\n'); err != nil {
				if err == io.EOF {
					err = nil
				}
				s.done <- err
				return
			}
		}
	}()
	return s
}

func (s *sseStream) wait(d time.Duration) error {
	select {
	case err := <-s.done:
		return err
	case <-time.After(d):
		return fmt.Errorf("still open after %v", d)
	}
}

// writeTokenFile writes a token file for --tokens-file.
func writeTokenFile(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAPITokensFromFile(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	addr := freeLoopbackAddr(t)
	file := writeTokenFile(t, "# test", "viewer:file-viewer-token-123", "operator:"+api.HashToken("file-operator-token-123"))
	c.role(t, "api", "--http-addr", addr, "--tokens-file", file, "--drain-delay", "0s")
	viewer := apiCaller{base: "http://" + addr, token: "file-viewer-token-123"}
	waitAPIStatus(t, viewer, "/readyz", http.StatusOK)
	if st, body := viewer.call(t, "GET", "/v1/servers/srv-1", ""); st != http.StatusOK || strings.Contains(body, "password") {
		t.Errorf("viewer reads a server: %d %s", st, body)
	}
	if st, _ := viewer.call(t, "DELETE", "/v1/servers/srv-1", ""); st != http.StatusForbidden {
		t.Errorf("viewer removes a server: %d, want 403", st)
	}
	op := apiCaller{base: viewer.base, token: "file-operator-token-123"}
	if st, body := op.call(t, "POST", "/v1/jobs", `{"type":"power","server":"srv-1","params":{"action":"status"}}`); st != http.StatusAccepted {
		t.Errorf("operator submits: %d %s", st, body)
	}
}
