package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/bmc"
	"github.com/tinmanhq/tinman/dispatch"
	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
	"github.com/tinmanhq/tinman/workers"
)

// The pipeline benchmark measures request published -> succeeded event with a
// BMC that answers at once, beside raw asynq enqueue -> process on the same
// Redis in the same run:
//
//	TINMAN_TEST_REDIS_URL=redis://127.0.0.1:6379 go test -run '^$' -bench Pipeline -count 5 ./cmd/tinman/
//
// Sub-benchmarks run in order: asynq-raw, pipeline (reports its rate and
// its CPU per job as ratios of asynq-raw's), then both again paced at half
// their measured rate, for start latency. Each reports jobs/s, the CPU
// milliseconds per job of this process (cpu-ms/job: the embedded NATS
// server runs in it, so its CPU is in this figure) and of Redis
// (redis-cpu-ms/job, from INFO cpu, with a real Redis only), and the start
// latency p50/p99.

// result is what one side's run measured.
type result struct {
	rate          float64 // jobs per second
	lat           []time.Duration
	cpu, redisCPU float64 // milliseconds per job
}

var measured struct {
	sync.Mutex
	asynq, pipeline result
}

func BenchmarkPipeline(b *testing.B) {
	b.Run("asynq-raw", func(b *testing.B) {
		r := benchRawAsynq(b, 0)
		report(b, r)
		measured.Lock()
		measured.asynq = r
		measured.Unlock()
	})
	b.Run("pipeline", func(b *testing.B) {
		r := benchPipeline(b, 0)
		report(b, r)
		measured.Lock()
		defer measured.Unlock()
		measured.pipeline = r
		if a := measured.asynq; a.rate > 0 {
			b.ReportMetric(r.rate/a.rate, "ratio-vs-asynq")
			b.ReportMetric((r.cpu+r.redisCPU)/(a.cpu+a.redisCPU), "cpu-ratio-vs-asynq")
		}
	})
	b.Run("asynq-raw-half-load", func(b *testing.B) {
		report(b, benchRawAsynq(b, halfOf(b, func() result { return measured.asynq })))
	})
	b.Run("pipeline-half-load", func(b *testing.B) {
		report(b, benchPipeline(b, halfOf(b, func() result { return measured.pipeline })))
	})
}

// halfOf is half the rate a full-load sub-benchmark measured.
func halfOf(b *testing.B, full func() result) float64 {
	measured.Lock()
	rate := full().rate
	measured.Unlock()
	if rate == 0 {
		b.Skip("run with the full-load sub-benchmarks first: -bench Pipeline")
	}
	return rate / 2
}

func report(b *testing.B, r result) {
	b.ReportMetric(r.rate, "jobs/s")
	b.ReportMetric(r.cpu, "cpu-ms/job")
	b.ReportMetric(r.redisCPU, "redis-cpu-ms/job")
	b.ReportMetric(0, "ns/op") // the per-op time says nothing here; jobs/s does
	lat := r.lat
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-start-ms")
	b.ReportMetric(pct(0.99), "p99-start-ms")
}

// instantBMC answers every call at once.
type instantBMC struct{}

func (instantBMC) PowerState(context.Context) (jobs.PowerState, error) { return jobs.PowerStateOn, nil }
func (instantBMC) SetPower(context.Context, jobs.PowerAction) error    { return nil }
func (instantBMC) SetBootDevice(context.Context, jobs.BootDeviceParams) error {
	return nil
}
func (instantBMC) Inventory(context.Context) (jobs.Inventory, error) { return jobs.Inventory{}, nil }
func (instantBMC) ResetBMC(context.Context, jobs.BMCResetKind) error { return nil }
func (instantBMC) Provider() string                                  { return "instant" }
func (instantBMC) Close(context.Context) error                       { return nil }

const benchServers = 100

// benchPipeline runs b.N power-status requests through the whole system;
// rate paces publishing (0: as fast as possible).
func benchPipeline(b *testing.B, rate float64) result {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	be, natsURL, rdb := benchBackend(ctx, b)
	disp, q, err := be.dispatcher(dispatch.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	connect := func(context.Context, jobs.Server, jobs.Credentials) (workers.Session, error) {
		return instantBMC{}, nil
	}
	w, err := be.worker(workers.DefaultConfig(), bmc.DefaultConfig(), connect)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- runAll(ctx, be.outbox.Run, disp.Run, w.Run) }()
	defer func() { cancel(); <-done }()

	nc, js := servicetest.JetStream(b, natsURL)
	track := newTracker(b.N)
	sub, err := nc.Subscribe(events.SubjectPrefix+"*.job.*", track.observe)
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	_ = sub.SetPendingLimits(-1, -1)

	b.ResetTimer()
	cpu := startCPU(b, rdb)
	start := time.Now()
	publishAll(b, js, b.N, rate, track)
	track.wait(b, 5*time.Minute)
	elapsed := time.Since(start)
	b.StopTimer()
	r := result{rate: float64(b.N) / elapsed.Seconds(), lat: track.latencies()}
	r.cpu, r.redisCPU = cpu.perJob(b, b.N)
	return r
}

// benchBackend opens a backend on a Redis database and an embedded NATS of
// the benchmark's own (closed when it ends), with benchServers servers
// enrolled; it returns the NATS URL and the Redis client too.
func benchBackend(ctx context.Context, b *testing.B) (*backend, string, redis.UniversalClient) {
	b.Helper()
	redisURL, rdb := servicetest.Redis(b)
	natsURL := servicetest.NATS(b)
	be, err := openBackend(ctx, backendConfig{NATS: natsTarget{URLs: natsURL}, RedisURL: redisURL, Streams: events.DefaultStreamConfig(), Name: "bench", Logger: zerolog.New(io.Discard)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(be.Close)
	for i := range benchServers {
		srv := jobs.Server{ID: fmt.Sprintf("bench-%03d", i), BMC: jobs.BMC{Address: "127.0.0.1:1", Provider: jobs.ProviderRedfish}}
		if err := be.store.PutServer(ctx, srv, jobs.Credentials{Username: "u", Password: "p"}); err != nil {
			b.Fatal(err)
		}
	}
	return be, natsURL, rdb
}

func publishAll(b *testing.B, js jetstream.JetStream, n int, rate float64, track *tracker) {
	var interval time.Duration
	if rate > 0 {
		interval = time.Duration(float64(time.Second) / rate)
	}
	next := time.Now()
	for i := range n {
		id := fmt.Sprintf("bench-%d-%d", time.Now().UnixNano(), i)
		body, _ := json.Marshal(jobs.Request{ID: id, Type: jobs.Power, Server: fmt.Sprintf("bench-%03d", i%benchServers),
			Params: json.RawMessage(`{"action":"status"}`)})
		track.published(id)
		if _, err := js.PublishAsync(events.RequestSubject("power"), body, jetstream.WithMsgID(id)); err != nil {
			b.Fatalf("publish: %v", err)
		}
		if interval > 0 {
			next = next.Add(interval)
			time.Sleep(time.Until(next))
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("publishes not acked within a minute")
	}
}

// tracker records when each job was published, started and finished.
type tracker struct {
	mu        sync.Mutex
	pub       map[string]time.Time
	lat       []time.Duration
	succeeded atomic.Int64
	failed    atomic.Int64
	n         int64
	all       chan struct{}
}

func newTracker(n int) *tracker {
	return &tracker{pub: make(map[string]time.Time, n), n: int64(n), all: make(chan struct{})}
}

func (t *tracker) published(id string) {
	t.mu.Lock()
	t.pub[id] = time.Now()
	t.mu.Unlock()
}

func (t *tracker) observe(m *nats.Msg) {
	ev, err := events.Decode(m.Data)
	if err != nil {
		return
	}
	d, err := ev.JobData()
	if err != nil {
		return
	}
	switch ev.Type {
	case events.JobStarted:
		t.mu.Lock()
		if at, ok := t.pub[d.JobID]; ok && d.Attempt == 1 {
			t.lat = append(t.lat, time.Since(at))
		}
		t.mu.Unlock()
	case events.JobSucceeded, events.JobFailed:
		if ev.Type == events.JobFailed {
			t.failed.Add(1)
		}
		if t.succeeded.Add(1) == t.n {
			close(t.all)
		}
	}
}

func (t *tracker) wait(b *testing.B, timeout time.Duration) {
	select {
	case <-t.all:
	case <-time.After(timeout):
		b.Fatalf("%d of %d jobs ended within %s", t.succeeded.Load(), t.n, timeout)
	}
	if f := t.failed.Load(); f > 0 {
		b.Fatalf("%d jobs failed", f)
	}
}

func (t *tracker) latencies() []time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.lat)
}

// benchRawAsynq enqueues b.N tasks and processes them with a no-op handler,
// with the worker settings Tinman uses; rate paces enqueueing (0: as fast
// as possible).
func benchRawAsynq(b *testing.B, rate float64) result {
	_, rdb := servicetest.Redis(b)
	var (
		mu    sync.Mutex
		lat   []time.Duration
		count atomic.Int64
		all   = make(chan struct{})
		n     = int64(b.N)
	)
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{Concurrency: 64, Queues: workers.DefaultQueues(),
		TaskCheckInterval: 10 * time.Millisecond, LogLevel: asynq.FatalLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc("noop", func(_ context.Context, t *asynq.Task) error {
		var at int64
		_ = json.Unmarshal(t.Payload(), &at)
		mu.Lock()
		lat = append(lat, time.Since(time.Unix(0, at)))
		mu.Unlock()
		if count.Add(1) == n {
			close(all)
		}
		return nil
	})
	if err := srv.Start(mux); err != nil {
		b.Fatal(err)
	}
	defer srv.Shutdown()
	client := asynq.NewClientFromRedisClient(rdb)
	defer client.Close()

	b.ResetTimer()
	cpu := startCPU(b, rdb)
	start := time.Now()
	if rate > 0 {
		enqueuePaced(b, client, b.N, rate)
	} else {
		enqueueAll(b, client, b.N)
	}
	select {
	case <-all:
	case <-time.After(5 * time.Minute):
		b.Fatalf("%d of %d tasks processed", count.Load(), n)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	r := result{rate: float64(b.N) / elapsed.Seconds()}
	r.cpu, r.redisCPU = cpu.perJob(b, b.N)
	mu.Lock()
	r.lat = slices.Clone(lat)
	mu.Unlock()
	return r
}

// enqueuePaced enqueues n tasks at rate per second from one goroutine.
func enqueuePaced(b *testing.B, client *asynq.Client, n int, rate float64) {
	interval := time.Duration(float64(time.Second) / rate)
	next := time.Now()
	for i := range n {
		payload, _ := json.Marshal(time.Now().UnixNano())
		if _, err := client.Enqueue(asynq.NewTask("noop", payload), asynq.TaskID(fmt.Sprintf("raw-half-%d", i)),
			asynq.Retention(time.Hour)); err != nil {
			b.Fatalf("enqueue: %v", err)
		}
		next = next.Add(interval)
		time.Sleep(time.Until(next))
	}
}

// enqueueAll enqueues n tasks from 32 goroutines, as 32 dispatchers would.
func enqueueAll(b *testing.B, client *asynq.Client, n int) {
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 32 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				payload, _ := json.Marshal(time.Now().UnixNano())
				if _, err := client.Enqueue(asynq.NewTask("noop", payload), asynq.TaskID(fmt.Sprintf("raw-%d", i)),
					asynq.Retention(time.Hour)); err != nil {
					b.Errorf("enqueue: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}
