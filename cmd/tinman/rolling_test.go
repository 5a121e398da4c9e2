package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/api"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
)

// The rolling restart of issue 9: nginx in front of two `tinman api`
// processes, each restarted in turn while a load posts jobs and reads
// /healthz through nginx. Not one request fails, and every job answered 202
// runs to its end through the dispatcher and the worker.

// nginxTemplate is the nginx configuration scripts/rolling-restart.sh uses too.
const nginxTemplate = "../../scripts/rolling-restart.nginx.conf"

const (
	rollingToken    = "rolling-restart-operator-token"
	rollingRounds   = 3 // restarts of each API
	rollingSims     = 4 // simulated BMCs the jobs are spread over
	rollingLoopers  = 2 // load goroutines
	rollingProgress = 20
)

func TestProcessRollingRestartBehindNginx(t *testing.T) {
	t.Parallel()
	nginx := servicetest.NeedTool(t, "nginx", "apt-get install nginx")
	c := startCluster(t)
	startProc(t, "sim", "--count", fmt.Sprint(rollingSims), "--enroll", "--redis-url", c.redisURL)
	c.role(t, "dispatcher")
	c.role(t, "worker")
	apis := startAPIs(t, c, 2)
	lb := startNginx(t, nginx, apis.addrs)
	servers := waitServers(t, lb)

	load := startLoad(lb, servers)
	for round := 1; round <= rollingRounds; round++ {
		for i := range apis.procs {
			apis.restart(t, c, i)
			load.await(t, rollingProgress)
		}
	}
	st := load.stop()
	st.check(t)
	lb.checkUpstreams(t)
	waitJobsEnded(t, lb, st.accepted)
}

// apiPair is the API processes behind nginx, each on a fixed address.
type apiPair struct {
	addrs []string
	procs []*proc
	args  []string
}

func startAPIs(t *testing.T, c *cluster, n int) *apiPair {
	t.Helper()
	p := &apiPair{args: []string{"--tokens", "operator:" + api.HashToken(rollingToken),
		"--drain-delay", "1s", "--shutdown-timeout", "10s"}}
	for range n {
		addr := freeLoopbackAddr(t)
		p.addrs = append(p.addrs, addr)
		p.procs = append(p.procs, p.start(t, c, addr))
	}
	return p
}

// start runs one API on addr and waits until its /readyz answers 200.
func (p *apiPair) start(t *testing.T, c *cluster, addr string) *proc {
	t.Helper()
	pr := c.role(t, "api", append([]string{"--http-addr", addr}, p.args...)...)
	waitAPIStatus(t, apiCaller{base: "http://" + addr}, "/readyz", http.StatusOK)
	return pr
}

// restart stops API i with SIGTERM, as a rolling upgrade does, and starts it again.
func (p *apiPair) restart(t *testing.T, c *cluster, i int) {
	t.Helper()
	if code := p.procs[i].stop(t, time.Minute); code != 0 {
		t.Errorf("api %s exited %d on SIGTERM, want 0", p.addrs[i], code)
	}
	p.procs[i] = p.start(t, c, p.addrs[i])
}

// balancer is nginx in front of the APIs, and a caller that goes through it.
type balancer struct {
	dir    string
	caller apiCaller
}

// startNginx writes the configuration into a folder of the test's own and
// runs nginx in the foreground on a free loopback port.
func startNginx(t *testing.T, nginx string, upstreams []string) *balancer {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	listen := freeLoopbackAddr(t)
	conf := filepath.Join(dir, "nginx.conf")
	writeNginxConf(t, conf, dir, listen, upstreams)
	cmd := exec.Command(nginx, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;")
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	b := &balancer{dir: dir, caller: apiCaller{base: "http://" + listen, token: rollingToken,
		client: &http.Client{Timeout: 30 * time.Second}}}
	t.Cleanup(func() { b.stop(t, cmd, out) })
	waitAPIStatus(t, b.caller, "/healthz", http.StatusOK)
	return b
}

func writeNginxConf(t *testing.T, path, dir, listen string, upstreams []string) {
	t.Helper()
	tmpl, err := os.ReadFile(nginxTemplate)
	if err != nil {
		t.Fatalf("read the nginx template: %v", err)
	}
	conf := strings.NewReplacer("@DIR@", dir, "@LISTEN@", listen, "@API1@", upstreams[0], "@API2@", upstreams[1]).Replace(string(tmpl))
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
}

// stop ends nginx gracefully (SIGQUIT) and, when the test failed, logs what
// nginx said about the upstreams.
func (b *balancer) stop(t *testing.T, cmd *exec.Cmd, out *strings.Builder) {
	_ = cmd.Process.Signal(syscall.SIGQUIT)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	if t.Failed() {
		errs, _ := os.ReadFile(filepath.Join(b.dir, "error.log"))
		t.Logf("nginx output:\n%s\nnginx error.log:\n%s", out.String(), errs)
	}
}

// checkUpstreams fails the test when an API closed a connection without
// answering its request: nginx sends the request to the other API
// (non_idempotent), so the load does not see it, but an API must answer
// every connection it accepted, also while it shuts down.
func (b *balancer) checkUpstreams(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(b.dir, "error.log"))
	if err != nil {
		t.Fatalf("read nginx error.log: %v", err)
	}
	var resets int
	for line := range strings.Lines(string(data)) {
		switch {
		case strings.Contains(line, "prematurely closed"):
			t.Errorf("an API closed a connection without answering: %s", strings.TrimSpace(line))
		case strings.Contains(line, "reset by peer"):
			resets++ // queued by the kernel when the listener closed: nginx sent it again
		}
	}
	t.Logf("nginx: %d connections reset by a closing listener, each sent again", resets)
}

// waitServers waits until `tinman sim --enroll` has enrolled every BMC and
// returns their ids.
func waitServers(t *testing.T, b *balancer) []string {
	t.Helper()
	ids := make([]string, rollingSims)
	for i := range ids {
		ids[i] = simName("sim-", i+1, rollingSims)
	}
	waitAPIStatus(t, b.caller, "/v1/servers/"+ids[len(ids)-1], http.StatusOK) // enrolled in order
	return ids
}

// rollingLoad posts jobs and reads /healthz through nginx until stopped.
type rollingLoad struct {
	b       *balancer
	servers []string
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	st      loadStats
}

// loadStats are the load's outcomes: every request is either answered as
// expected (202 for a job, 200 for /healthz) or failed.
type loadStats struct {
	sent     int
	failed   []string
	accepted []string // ids of the jobs answered 202
}

func startLoad(b *balancer, servers []string) *rollingLoad {
	ctx, cancel := context.WithCancel(context.Background())
	l := &rollingLoad{b: b, servers: servers, cancel: cancel}
	for i := range rollingLoopers {
		l.wg.Go(func() { l.loop(ctx, i) })
	}
	return l
}

func (l *rollingLoad) loop(ctx context.Context, i int) {
	client := apiCaller{base: l.b.caller.base, token: rollingToken, client: &http.Client{Timeout: 30 * time.Second}}
	for n := 0; ctx.Err() == nil; n++ {
		id := fmt.Sprintf("rolling-%d-%05d", i, n)
		body := fmt.Sprintf(`{"id":%q,"type":"power","server":%q,"params":{"action":"status"}}`, id, l.servers[n%len(l.servers)])
		st, out, err := client.try("POST", "/v1/jobs", body)
		l.note("POST /v1/jobs "+id, st, http.StatusAccepted, out, err, id)
		st, out, err = client.try("GET", "/healthz", "")
		l.note("GET /healthz", st, http.StatusOK, out, err, "")
		select { // a steady pace, not a flood: 2 cores are shared
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (l *rollingLoad) note(what string, status, want int, body string, err error, id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.st.sent++
	switch {
	case err != nil:
		l.st.failed = append(l.st.failed, fmt.Sprintf("%s: %v", what, err))
	case status != want:
		l.st.failed = append(l.st.failed, fmt.Sprintf("%s: %d %s", what, status, strings.TrimSpace(body)))
	case id != "":
		l.st.accepted = append(l.st.accepted, id)
	}
}

func (l *rollingLoad) sent() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.sent
}

// await waits until the load has sent n more requests: each restart is
// followed by traffic before the next one begins.
func (l *rollingLoad) await(t *testing.T, n int) {
	t.Helper()
	target := l.sent() + n
	for deadline := time.Now().Add(time.Minute); l.sent() < target; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the load stalled at %d requests", l.sent())
		}
	}
}

func (l *rollingLoad) stop() loadStats {
	l.cancel()
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st
}

func (s loadStats) check(t *testing.T) {
	t.Helper()
	t.Logf("%d requests through nginx across %d restarts of each API: %d failed, %d jobs accepted",
		s.sent, rollingRounds, len(s.failed), len(s.accepted))
	for i, f := range s.failed {
		if i == 20 {
			t.Errorf("... and %d more failed requests", len(s.failed)-i)
			break
		}
		t.Errorf("failed request: %s", f)
	}
	if len(s.accepted) == 0 {
		t.Error("no job was accepted: the load did not run")
	}
}

// waitJobsEnded follows every accepted job until it ends; each must have
// succeeded (a power status on a healthy simulated BMC).
func waitJobsEnded(t *testing.T, b *balancer, ids []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	states := map[jobs.State]int{}
	for _, id := range ids {
		job, err := waitJobEnd(ctx, b.caller, id)
		if err != nil {
			t.Fatalf("accepted job did not end: %v (states so far %v)", err, states)
		}
		states[job.State]++
		if job.State != jobs.StateSucceeded {
			t.Errorf("job %s ended %s: %+v", id, job.State, job.Error)
		}
	}
	t.Logf("%d accepted jobs ended: %v", len(ids), states)
}

// waitJobEnd polls GET /v1/jobs/{id} until the job is in a terminal state.
func waitJobEnd(ctx context.Context, c apiCaller, id string) (jobs.Job, error) {
	var job jobs.Job
	for {
		st, body, err := c.try("GET", "/v1/jobs/"+id, "")
		if err == nil && st == http.StatusOK {
			if err := json.Unmarshal([]byte(body), &job); err != nil {
				return job, fmt.Errorf("decode job %s: %w", id, err)
			}
			if job.State.Terminal() {
				return job, nil
			}
		}
		select {
		case <-ctx.Done():
			return job, fmt.Errorf("job %s still %q (last answer %d %v): %w", id, job.State, st, err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
