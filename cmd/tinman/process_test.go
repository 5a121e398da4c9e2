package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/bmc/bmcsim"
	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/natsembed"
	"github.com/tinmanhq/tinman/servicetest"
	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/store/storetest"
)

// The claims about processes are tested on processes: the real binary,
// killed with SIGKILL, against a NATS server restarted under it.

// testKeyText is the secret key the role processes of these tests share.
const testKeyText = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cmd/tinman once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tinman-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "tinman")
		out, err := exec.Command("go", "build", "-race", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a running tinman process whose output goes to the test log on failure.
type proc struct {
	cmd *exec.Cmd
	out *bytes.Buffer
	mu  *sync.Mutex
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{out: &bytes.Buffer{}, mu: &sync.Mutex{}}
	p.cmd = exec.Command(binary(t), args...)
	p.cmd.Stdout = lockedWriter{p.mu, p.out}
	p.cmd.Stderr = lockedWriter{p.mu, p.out}
	p.cmd.Env = append(os.Environ(), "TINMAN_LOG_FORMAT=json", "TINMAN_SECRET_KEY="+testKeyText)
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start tinman %v: %v", args, err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = p.cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				_ = p.cmd.Process.Kill()
				<-done
			}
		}
		if t.Failed() {
			p.mu.Lock()
			t.Logf("tinman %s output:\n%s", args[0], p.out.String())
			p.mu.Unlock()
		}
	})
	return p
}

// kill ends the process with SIGKILL, as a crash or an OOM kill would.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_ = p.cmd.Wait()
}

// cluster is NATS, Redis and one simulated BMC enrolled as srv-1, for role processes.
type cluster struct {
	nats *natsembed.Server
	// natsURLs, when set, is the NATS the roles are given instead of nats's
	// (a comma-separated list, for a NATS cluster).
	natsURLs string
	natsDir  string
	natsPort int
	redisURL string
	sim      *bmcsim.BMC
	sys      *system
	// fleet and store, for a chaos run: the simulated BMCs by server id, the records.
	fleet map[string]*bmcsim.BMC
	store *store.Store
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{natsDir: t.TempDir()}
	c.redisURL, _ = servicetest.Redis(t)
	c.restartNATS(t)
	t.Cleanup(func() { c.nats.Shutdown() })
	c.sim = bmcsim.New(bmcsim.Config{InitialPowerState: "Off"})
	if err := c.sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.sim.Close() })
	rdb, _, err := openRedis(context.Background(), c.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	key, _ := store.ParseKey(testKeyText)
	st := storetest.Store(t, rdb, storetest.Outbox(t, rdb, nil, store.OutboxConfig{}), store.Config{Logger: zerolog.Nop(), SecretKey: key})
	user, pass := c.sim.Credentials()
	srv := jobs.Server{ID: "srv-1", BMC: jobs.BMC{Address: c.sim.Addr(), Provider: jobs.ProviderRedfish}, State: jobs.ServerAvailable,
		BootMAC: simMAC(0)}
	if err := st.PutServer(context.Background(), srv, jobs.Credentials{Username: user, Password: pass}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddImage(context.Background(), jobs.Image{Name: "ubuntu-24.04", KernelURL: "u/vmlinuz", InitrdURL: "u/initrd.img",
		ImageURL: "u/disk.img", SHA256: strings.Repeat("0d", 32)}); err != nil {
		t.Fatal(err)
	}
	return c
}

// restartNATS starts (again) the NATS server, on the same port and folder.
func (c *cluster) restartNATS(t *testing.T) {
	t.Helper()
	port := c.natsPort
	if port == 0 {
		port = -1
	}
	var err error
	for range 50 { // the old listener may take a moment to go
		if c.nats, err = natsembed.Start(natsembed.Config{Port: port, StoreDir: c.natsDir, Name: "proc-test"}); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	c.natsPort = c.nats.Port()
}

// natsURL is the NATS the roles and the test connect to.
func (c *cluster) natsURL() string {
	if c.natsURLs != "" {
		return c.natsURLs
	}
	return c.nats.URL()
}

func (c *cluster) role(t *testing.T, role string, extra ...string) *proc {
	t.Helper()
	args := append([]string{role, "--nats-url", c.natsURL(), "--redis-url", c.redisURL}, extra...)
	return startProc(t, args...)
}

// client connects the test to NATS, once a role has made the streams.
func (c *cluster) client(t *testing.T) *system {
	t.Helper()
	for range 100 {
		_, js := servicetest.JetStream(t, c.natsURL())
		if _, err := js.Stream(context.Background(), events.EventsStream); err == nil {
			nc, js := servicetest.JetStream(t, c.natsURL())
			return &system{js: js, nc: nc}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("no role created the streams within 10 s")
	return nil
}

// A worker killed mid-job: once its server lease lapses, another worker's
// rescue resumes the job under a new task (a "rescued" progress event), long
// before asynq's own recovery (about 90 s); the orphaned task does nothing
// when asynq recovers it. Seq has no gap, the BMC ends as asked.
func TestProcessWorkerKilledMidJobIsRecovered(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	c.role(t, "dispatcher")
	worker := c.role(t, "worker", "--lease-ttl", "3s")
	s := c.client(t)
	c.sim.Faults().SetLatency(2 * time.Second) // every BMC answer takes a while

	s.publish(t, "power", "killed-1", `{"id":"killed-1","type":"power","server":"srv-1","params":{"action":"on"}}`)
	s.collect(t, events.Filter{Job: "killed-1"}, time.Minute, func(ev events.Event) bool { return ev.Type == events.JobStarted })
	worker.kill(t)
	killed := time.Now()
	c.sim.Faults().SetLatency(0)
	c.role(t, "worker", "--lease-ttl", "3s")

	evs := s.collect(t, events.Filter{Job: "killed-1"}, 4*time.Minute, terminal)
	rescued := slices.IndexFunc(evs, func(ev events.Event) bool {
		d, _ := ev.JobData()
		return ev.Type == events.JobProgress && d.Step == "rescued"
	})
	if rescued < 0 {
		t.Errorf("no rescued event: the job was not resumed by Tinman's rescue (%s)", typesOf(evs))
	} else if i := rescued + 1; i < len(evs) && evs[i].Type == events.JobStarted {
		t.Logf("running again %s after the kill (lease 3 s)", evs[i].Time.Sub(killed).Round(10*time.Millisecond))
	}
	if last := evs[len(evs)-1]; last.Type != events.JobSucceeded {
		t.Fatalf("after the kill the job ended %s: %s", last.Type, typesOf(evs))
	}
	var starts []int
	for i, ev := range evs {
		d, _ := ev.JobData()
		if d.Seq != int64(i+1) {
			t.Errorf("event %d (%s) has seq %d: a gap or a repeat", i, ev.Type, d.Seq)
		}
		if ev.Type == events.JobStarted {
			starts = append(starts, d.Attempt)
		}
	}
	if len(starts) != 2 || starts[0] != 1 || starts[1] != 2 {
		t.Errorf("attempts started %v, want [1 2]: the killed attempt, then its recovery", starts)
	}
	if c.sim.PowerState() != "On" {
		t.Errorf("BMC power %s after the job, want On", c.sim.PowerState())
	}
}

func TestProcessesSurviveNATSRestart(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	c.role(t, "dispatcher")
	c.role(t, "worker")
	s := c.client(t)
	const n = 20
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("restart-%02d", i)
		action := []string{"on", "off"}[i%2]
		s.publish(t, "power", ids[i], fmt.Sprintf(`{"id":%q,"type":"power","server":"srv-1","params":{"action":%q}}`, ids[i], action))
		if i == n/2 {
			c.nats.Shutdown()
			time.Sleep(500 * time.Millisecond)
			c.restartNATS(t)
			s = c.client(t)
		}
	}
	for _, id := range ids {
		// Jobs on one server wait for each other: a job.progress event may
		// say so between queued and started.
		evs := s.collect(t, events.Filter{Job: id}, 2*time.Minute, terminal)
		if got := typesOf(withoutProgress(evs)); got != "job.queued,job.started,job.succeeded" {
			t.Errorf("job %s: %s", id, got)
		}
		for i, ev := range evs {
			if d, _ := ev.JobData(); d.Seq != int64(i+1) {
				t.Errorf("job %s event %d (%s) has seq %d", id, i, ev.Type, d.Seq)
			}
		}
	}
	all := withoutProgress(s.quiet(t, events.Filter{Type: "job"}, 2*time.Second))
	if len(all) != 3*n || strings.Count(typesOf(all), "job.succeeded") != n {
		t.Errorf("%d job events in the stream, want exactly %d, %d succeeded: none lost, none repeated", len(all), 3*n, n)
	}
}

// withoutProgress drops job.progress events, keeping their seq numbers.
func withoutProgress(evs []events.Event) []events.Event {
	var out []events.Event
	for _, ev := range evs {
		if ev.Type != events.JobProgress {
			out = append(out, ev)
		}
	}
	return out
}

func TestProcessWorkerKilledMidProvisionResumesAtTheStep(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	c.sim.SetPowerState("On")
	c.role(t, "dispatcher")
	worker := c.role(t, "worker", "--wait-poll", "10s")
	s := c.client(t)

	s.publish(t, "provision", "prov-kill", `{"id":"prov-kill","type":"provision","server":"srv-1","params":{"image":"ubuntu-24.04"}}`)
	s.collect(t, events.Filter{Job: "prov-kill", Type: "job"}, time.Minute, func(ev events.Event) bool {
		d, _ := ev.JobData()
		return d.Step == "wait-installed"
	})
	// Kill it while the workflow is parked: a task killed while active is
	// only recovered by asynq after its lease lapses, about a minute on.
	time.Sleep(time.Second)
	worker.kill(t)
	c.role(t, "worker", "--wait-poll", "500ms")
	c.playInstaller(t, s, "srv-1")

	evs := s.collect(t, events.Filter{Job: "prov-kill", Type: "job"}, 2*time.Minute, terminal)
	if last := evs[len(evs)-1]; last.Type != events.JobSucceeded {
		t.Fatalf("provision ended %s after the kill: %s", last.Type, typesOf(evs))
	}
	var cmds []string
	for _, cmd := range c.sim.Commands() {
		if cmd.Op == bmcsim.OpPower {
			cmds = append(cmds, cmd.Value+"@"+cmd.Boot)
		}
	}
	if want := []string{"ForceOff@", "On@Pxe", "ForceRestart@Hdd"}; !slices.Equal(cmds, want) {
		t.Errorf("power commands %v, want %v: the new worker resumes at the wait, it does not start over", cmds, want)
	}
}

// playInstaller reports, as the installer on server would, installed and
// booted with the token of its boot configuration.
func (c *cluster) playInstaller(t *testing.T, s *system, server string) {
	t.Helper()
	rdb, _, err := openRedis(context.Background(), c.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	key, _ := store.ParseKey(testKeyText)
	st := storetest.Store(t, rdb, storetest.Outbox(t, rdb, nil, store.OutboxConfig{}), store.Config{SecretKey: key})
	cfg, err := st.BootConfig(context.Background(), server)
	if err != nil {
		t.Fatalf("no boot configuration for %s: %v", server, err)
	}
	for _, ev := range []string{store.CallbackInstalled, store.CallbackBooted} {
		body := fmt.Sprintf(`{"job_id":%q,"token":%q,"event":%q}`, cfg.JobID, cfg.Token, ev)
		if _, err := s.js.Publish(context.Background(), events.CallbackPrefix+server, []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
}

// stop sends SIGTERM and returns the exit code, failing the test if the
// process takes longer than within to go.
func (p *proc) stop(t *testing.T, within time.Duration) int {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(within):
		t.Fatalf("%v still running %s after SIGTERM", p.cmd.Args, within)
	}
	return p.cmd.ProcessState.ExitCode()
}

func TestProcessWorkerSIGTERMFinishesTheJobInHand(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	c.role(t, "dispatcher")
	worker := c.role(t, "worker")
	s := c.client(t)
	c.sim.Faults().SetLatency(time.Second) // the job is in hand for a few seconds

	s.publish(t, "power", "term-1", `{"id":"term-1","type":"power","server":"srv-1","params":{"action":"on"}}`)
	s.collect(t, events.Filter{Job: "term-1"}, time.Minute, func(ev events.Event) bool { return ev.Type == events.JobStarted })
	if code := worker.stop(t, time.Minute); code != 0 {
		t.Errorf("worker exited %d on SIGTERM, want 0", code)
	}
	evs := s.quiet(t, events.Filter{Job: "term-1"}, time.Second)
	if got := typesOf(evs); got != "job.queued,job.started,job.succeeded" {
		t.Errorf("job in hand at SIGTERM: %s, want it finished before the worker left", got)
	}
	if c.sim.PowerState() != "On" {
		t.Errorf("BMC power %s, want On", c.sim.PowerState())
	}
}

func TestProcessDispatcherRestartLosesNoRequest(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	c.sim.SetPowerState("On")
	first := c.role(t, "dispatcher")
	c.role(t, "worker")
	s := c.client(t)
	const n = 30
	for i := range n {
		id := fmt.Sprintf("rolling-%02d", i)
		s.publish(t, "power", id, fmt.Sprintf(`{"id":%q,"type":"power","server":"srv-1","params":{"action":"status"}}`, id))
		if i == n/3 {
			// Replace it mid-stream, once it dispatches: a SIGTERM that lands
			// while the process is still loading (before main installs its
			// handler) kills it by the signal, as it would any program.
			s.collect(t, events.Filter{Job: "rolling-00", Type: "job.queued"}, time.Minute, func(events.Event) bool { return true })
			if code := first.stop(t, time.Minute); code != 0 {
				t.Errorf("dispatcher exited %d on SIGTERM, want 0", code)
			}
			c.role(t, "dispatcher") // the rolling upgrade's new version
		}
	}
	for i := range n {
		id := fmt.Sprintf("rolling-%02d", i)
		evs := s.collect(t, events.Filter{Job: id, Type: "job"}, 2*time.Minute, terminal)
		if got := typesOf(withoutProgress(evs)); got != "job.queued,job.started,job.succeeded" {
			t.Errorf("%s: %s", id, got)
		}
	}
	if queued := s.quiet(t, events.Filter{Type: "job.queued"}, time.Second); len(queued) != n {
		t.Errorf("%d jobs queued, want exactly %d: none lost, none twice", len(queued), n)
	}
}

// A worker given a secret key that did not seal the credentials in Redis
// refuses to start, naming the setting (exit 2), instead of failing every
// job on the servers later.
func TestProcessWorkerRefusesAWrongSecretKey(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	wrong := base64.StdEncoding.EncodeToString(store.NewKey())
	p := c.role(t, "worker", "--secret-key", wrong)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("a worker with the wrong secret key is still running")
	}
	p.mu.Lock()
	out := p.out.String()
	p.mu.Unlock()
	if code := p.cmd.ProcessState.ExitCode(); code != exitUsage || !strings.Contains(out, "secret-key") {
		t.Errorf("worker with a wrong key: exit %d, output %q; want exit 2 naming the setting", code, out)
	}
}
