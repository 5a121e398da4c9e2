package workers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/store/storetest"
	"github.com/tinmanhq/tinman/workers"
)

const secret = "s3cr3t-Pa55word"

// fakeBMC is a hand-written BMC whose behaviour each test sets.
type fakeBMC struct {
	mu      sync.Mutex
	state   jobs.PowerState
	calls   []string
	setErrs []error // returned by SetPower, one per call, then nil
	lie     bool    // SetPower succeeds and changes nothing
	panics  bool
	hold    chan struct{} // SetPower waits for it to close, or for its context
	down    bool          // every call answers bmc_unreachable
	deaf    bool          // a soft off is accepted and ignored, as by a hung OS
	times   []time.Time   // when each call began
	active  int           // calls in progress
	overlap bool          // two calls were ever in progress at once
	// powerOnly: the connector hands out a session with no capability
	// but power, as a provider without inventory, boot or reset would.
	powerOnly bool
	// media is the virtual CD; mediaLies: an insert is accepted and
	// changes nothing.
	media     jobs.VirtualMedia
	mediaLies bool
}

func (f *fakeBMC) InsertMedia(_ context.Context, url string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "insert "+url)
	if !f.mediaLies {
		f.media = jobs.VirtualMedia{Image: url, Inserted: true}
	}
	return nil
}

func (f *fakeBMC) EjectMedia(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "eject")
	f.media = jobs.VirtualMedia{}
	return nil
}

func (f *fakeBMC) VirtualMedia(context.Context) (jobs.VirtualMedia, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "read media")
	return f.media, nil
}

// powerOnlySession offers a fakeBMC's power and nothing else.
type powerOnlySession struct{ f *fakeBMC }

func (s powerOnlySession) Provider() string                { return s.f.Provider() }
func (s powerOnlySession) Close(ctx context.Context) error { return s.f.Close(ctx) }
func (s powerOnlySession) PowerState(ctx context.Context) (jobs.PowerState, error) {
	return s.f.PowerState(ctx)
}
func (s powerOnlySession) SetPower(ctx context.Context, a jobs.PowerAction) error {
	return s.f.SetPower(ctx, a)
}

func (f *fakeBMC) PowerState(context.Context) (jobs.PowerState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "get")
	f.times = append(f.times, time.Now())
	if f.down {
		return jobs.PowerStateUnknown, jobs.Errorf(jobs.CodeBMCUnreachable, true, "connection refused")
	}
	return f.state, nil
}

func (f *fakeBMC) SetPower(ctx context.Context, a jobs.PowerAction) error {
	if err := f.wait(ctx); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.panics {
		panic("BMC driver bug")
	}
	f.calls = append(f.calls, "set "+string(a))
	f.times = append(f.times, time.Now())
	if f.down {
		return jobs.Errorf(jobs.CodeBMCUnreachable, true, "connection refused")
	}
	if len(f.setErrs) > 0 {
		err := f.setErrs[0]
		f.setErrs = f.setErrs[1:]
		if err != nil {
			return err
		}
	}
	if f.deaf && a == jobs.PowerSoft {
		return nil
	}
	if !f.lie {
		f.state = jobs.PowerStateOn
		if a == jobs.PowerOff || a == jobs.PowerSoft {
			f.state = jobs.PowerStateOff
		}
	}
	return nil
}

// wait blocks while the test holds the BMC, counting overlapping calls.
func (f *fakeBMC) wait(ctx context.Context) error {
	f.mu.Lock()
	hold := f.hold
	f.active++
	if f.active > 1 {
		f.overlap = true
	}
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.active--; f.mu.Unlock() }()
	if hold == nil {
		return nil
	}
	select {
	case <-hold:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *fakeBMC) SetBootDevice(_ context.Context, p jobs.BootDeviceParams) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("boot %s persistent=%v efi=%v", p.Device, p.Persistent, p.EFI))
	return nil
}

func (f *fakeBMC) Inventory(context.Context) (jobs.Inventory, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "inventory")
	return jobs.Inventory{Vendor: "Acme", CPUs: []jobs.CPU{{Cores: 8}, {Cores: 8}}, Memory: []jobs.DIMM{{SizeBytes: 1 << 30}}}, nil
}

func (f *fakeBMC) ResetBMC(_ context.Context, kind jobs.BMCResetKind) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "reset-bmc "+string(kind))
	return nil
}

func (f *fakeBMC) Provider() string            { return "fake" }
func (f *fakeBMC) Close(context.Context) error { return nil }
func (f *fakeBMC) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}
func (f *fakeBMC) set(fn func(*fakeBMC)) { f.mu.Lock(); defer f.mu.Unlock(); fn(f) }

// env is a running worker over real Redis and NATS, with one fake BMC.
type env struct {
	rdb   *redis.Client
	js    jetstream.JetStream
	store *store.Store
	queue *asynq.Client
	bmc   *fakeBMC
	logs  *servicetest.Buffer
	// connects counts BMC sessions opened (logins).
	connects *atomic.Int64
}

func setup(t *testing.T, bmc *fakeBMC) *env {
	t.Helper()
	return setupWith(t, bmc, func(*workers.Config) {})
}

// setupWith is setup with the worker's config changed by tune.
func setupWith(t *testing.T, bmc *fakeBMC, tune func(*workers.Config)) *env {
	t.Helper()
	return setupFleet(t, map[string]*fakeBMC{"srv-1": bmc}, tune)
}

// setupFleet runs a worker over real Redis and NATS with one fake BMC per
// server, enrolled with the label role=web. Deploys submit their jobs
// straight to the queue, as the dispatcher would.
func setupFleet(t *testing.T, bmcs map[string]*fakeBMC, tune func(*workers.Config)) *env {
	t.Helper()
	_, rdb := servicetest.Redis(t)
	_, js := servicetest.JetStream(t, servicetest.NATS(t))
	ctx := context.Background()
	if err := events.EnsureStreams(ctx, js, events.DefaultStreamConfig()); err != nil {
		t.Fatal(err)
	}
	logs := &servicetest.Buffer{}
	log := zerolog.New(logs)
	outbox := storetest.Outbox(t, rdb, events.NewPublisher(js), store.OutboxConfig{Logger: log})
	st := storetest.Store(t, rdb, outbox, store.Config{Source: "/test/worker", Logger: log})
	for id := range bmcs {
		srv := jobs.Server{ID: id, BMC: jobs.BMC{Address: "127.0.0.1:1", Provider: jobs.ProviderRedfish},
			Labels: map[string]string{"role": "web"}, State: jobs.ServerAvailable}
		if err := st.PutServer(ctx, srv, jobs.Credentials{Username: "admin", Password: secret}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"ubuntu-24.04", "ubuntu-26.04"} {
		img := jobs.Image{Name: name, KernelURL: name + "/vmlinuz", InitrdURL: name + "/initrd.img", ISOURL: name + "/installer.iso",
			ImageURL: name + "/disk.img", SHA256: strings.Repeat("5e", 32)}
		if _, err := st.AddImage(ctx, img); err != nil {
			t.Fatal(err)
		}
	}
	policy := workers.DefaultRetryPolicy()
	policy.Base, policy.Max = 20*time.Millisecond, 50*time.Millisecond
	connects := &atomic.Int64{}
	connect := func(_ context.Context, srv jobs.Server, creds jobs.Credentials) (workers.Session, error) {
		connects.Add(1)
		if creds.Password != secret {
			return nil, fmt.Errorf("credentials did not reach the connector")
		}
		bmc := bmcs[srv.ID]
		bmc.mu.Lock()
		defer bmc.mu.Unlock()
		if bmc.down {
			return nil, jobs.Errorf(jobs.CodeBMCUnreachable, true, "open: connection refused")
		}
		if bmc.powerOnly {
			return powerOnlySession{bmc}, nil
		}
		return bmc, nil
	}
	q := asynq.NewClientFromRedisClient(rdb)
	t.Cleanup(func() { _ = q.Close() })
	e := &env{rdb: rdb, js: js, store: st, queue: q, bmc: bmcs["srv-1"], logs: logs, connects: connects}
	cfg := workers.DefaultConfig()
	cfg.Concurrency, cfg.Retry, cfg.PowerVerifyTimeout = 8, policy, 300*time.Millisecond
	cfg.ShutdownTimeout, cfg.Logger, cfg.LeaseTTL, cfg.DelayedTaskCheckInterval = 5*time.Second, log, 2*time.Second, 50*time.Millisecond
	cfg.WaitPoll, cfg.Submitter = 100*time.Millisecond, submitter{e}
	cfg.BootURL = "http://10.0.2.2:8081"
	tune(&cfg)
	w, err := workers.New(rdb, st, connect, cfg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})
	return e
}

// submitter accepts and enqueues the jobs a deploy submits.
type submitter struct{ e *env }

func (s submitter) Submit(_ context.Context, req jobs.Request) error { return s.e.accept(req) }

// submit accepts and enqueues a job on srv-1 as the dispatcher does.
func (e *env) submit(t *testing.T, id string, typ jobs.Type, params string) {
	t.Helper()
	req := jobs.Request{ID: id, Type: typ, Server: "srv-1", Params: json.RawMessage(params)}
	if typ == jobs.Deploy {
		req.Server = ""
	}
	e.submitRequest(t, req)
}

// submitRequest accepts and enqueues req as the dispatcher does.
func (e *env) submitRequest(t *testing.T, req jobs.Request) {
	t.Helper()
	if err := e.accept(req); err != nil {
		t.Fatal(err)
	}
}

// accept is submitRequest for any goroutine: it returns its failure.
func (e *env) accept(req jobs.Request) error {
	ctx := context.Background()
	if err := req.Validate(); err != nil {
		return err
	}
	policy := workers.DefaultRetryPolicy()
	job, enqueue, err := e.store.Accept(ctx, jobs.NewJob(req, policy.MaxAttempts(req.Type), time.Now()))
	if err != nil || !enqueue {
		return err
	}
	task, err := workers.NewTask(job, policy)
	if err != nil {
		return err
	}
	_, err = e.queue.Enqueue(task)
	return err
}

// events returns the job's events up to and including its terminal one.
func (e *env) events(t *testing.T, id string) []events.JobData {
	t.Helper()
	return e.watch(t, id, func(d events.JobData) bool { return d.State.Terminal() })
}

// watch returns the job's events until stop says enough.
func (e *env) watch(t *testing.T, id string, stop func(events.JobData) bool) []events.JobData {
	t.Helper()
	return e.watchTypes(t, id, "job", stop)
}

// watchTypes is watch over the event types of pattern ("" for all).
func (e *env) watchTypes(t *testing.T, id, pattern string, stop func(events.JobData) bool) []events.JobData {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []events.JobData
	err := events.NewWatcher(e.js).Watch(ctx, events.Filter{Job: id, Type: pattern, Since: time.Hour}, func(d events.Delivered) error {
		jd, err := d.JobData()
		if err != nil {
			return err
		}
		got = append(got, jd)
		if stop(jd) {
			return events.ErrStopWatching
		}
		return nil
	})
	if err != nil {
		t.Fatalf("events of %s: %v (got %+v)", id, err, got)
	}
	return got
}
