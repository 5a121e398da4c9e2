package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/dispatch"
	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
	"github.com/tinmanhq/tinman/workers"
)

// maxRoundTripsPerJob is the most Redis round trips one power job may cost
// Tinman's own code (the store, the outbox and the dispatcher's enqueue),
// from the request's arrival to its succeeded event; asynq's worker side
// (dequeue, done: two round trips) is not counted: it is asynq's.
const maxRoundTripsPerJob = 10

// TestRoundTripsPerJob counts, with a go-redis hook, the Redis round trips
// (a command, or a pipeline) that the store and the dispatcher's asynq
// client make for each job of a run of power-status jobs, one at a time,
// and fails when a job costs more than maxRoundTripsPerJob. The periodic
// duties (rescue, watchdog, probes) are set to an hour so that they add
// nothing; the outbox sweep (every 2 s) may add a few, spread over the jobs.
func TestRoundTripsPerJob(t *testing.T) {
	const n = 40
	rt, run := setupRoundTrips(t)
	rt.on()
	for i := range n {
		run(fmt.Sprintf("rt-%d-%d", time.Now().UnixNano(), i))
	}
	total, by := rt.off()
	perJob := float64(total) / n
	t.Logf("%.2f Redis round trips per job (%d for %d jobs): %s", perJob, total, n, by)
	if perJob > maxRoundTripsPerJob {
		t.Errorf("%.2f Redis round trips per job, want at most %d: %s", perJob, maxRoundTripsPerJob, by)
	}
}

// setupRoundTrips runs the dispatcher and a worker whose store and
// enqueues go through a counted Redis client (asynq's worker side on
// another one); run publishes one power-status request and waits for its
// succeeded event.
func setupRoundTrips(t *testing.T) (*roundTrips, func(id string)) {
	t.Helper()
	redisURL, _ := servicetest.Redis(t)
	natsURL := servicetest.NATS(t)
	ctx, cancel := context.WithCancel(context.Background())
	be, err := openBackend(ctx, backendConfig{NATS: natsTarget{URLs: natsURL}, RedisURL: redisURL, Streams: events.DefaultStreamConfig(),
		Name: "rt", Logger: zerolog.New(io.Discard)})
	if err != nil {
		t.Fatal(err)
	}
	rt := &roundTrips{by: map[string]int{}}
	be.rdb.AddHook(rt)
	srv := jobs.Server{ID: "rt-server", BMC: jobs.BMC{Address: "127.0.0.1:1", Provider: jobs.ProviderRedfish}}
	if err := be.store.PutServer(ctx, srv, jobs.Credentials{Username: "u", Password: "p"}); err != nil {
		t.Fatal(err)
	}
	disp, q, err := be.dispatcher(dispatch.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	w := roundTripWorker(t, be, redisURL)
	done := make(chan error, 1)
	go func() { done <- runAll(ctx, be.outbox.Run, disp.Run, w.Run) }()
	t.Cleanup(func() { cancel(); <-done; _ = q.Close(); be.Close() })
	return rt, publishAndWait(t, natsURL, srv.ID)
}

// roundTripWorker is a worker on the backend's store whose asynq server
// polls through a Redis client of its own, uncounted.
func roundTripWorker(t *testing.T, be *backend, redisURL string) *workers.Worker {
	t.Helper()
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	plain := redis.NewClient(opt)
	t.Cleanup(func() { _ = plain.Close() })
	cfg := workers.DefaultConfig()
	cfg.RescueInterval, cfg.WatchdogInterval, cfg.ProbeInterval = time.Hour, time.Hour, time.Hour
	connect := func(context.Context, jobs.Server, jobs.Credentials) (workers.Session, error) {
		return instantBMC{}, nil
	}
	w, err := workers.New(plain, be.store, connect, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// publishAndWait returns a function that publishes a power-status request
// for server and waits for its job's terminal event.
func publishAndWait(t *testing.T, natsURL, server string) func(id string) {
	t.Helper()
	nc, js := servicetest.JetStream(t, natsURL)
	ended := make(chan string, 16)
	sub, err := nc.Subscribe(events.SubjectPrefix+server+".job.*", func(m *nats.Msg) {
		ev, err := events.Decode(m.Data)
		if err != nil || !ev.Type.Terminal() {
			return
		}
		if d, err := ev.JobData(); err == nil {
			ended <- d.JobID + " " + string(ev.Type)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return func(id string) {
		t.Helper()
		body, _ := json.Marshal(jobs.Request{ID: id, Type: jobs.Power, Server: server, Params: json.RawMessage(`{"action":"status"}`)})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := js.Publish(ctx, events.RequestSubject("power"), body); err != nil {
			t.Fatalf("publish %s: %v", id, err)
		}
		for {
			select {
			case got := <-ended:
				gotID, typ, _ := strings.Cut(got, " ")
				if gotID != id {
					continue // an earlier job's event sent again (JetStream stores it once; a plain subscriber sees both)
				}
				if typ != string(events.JobSucceeded) {
					t.Fatalf("job %s ended %s, want succeeded", id, typ)
				}
				return
			case <-ctx.Done():
				t.Fatalf("job %s did not end within a minute", id)
			}
		}
	}
}

// roundTrips is a go-redis hook that counts round trips while on: one per
// command, one per pipeline (a transaction is one pipeline).
type roundTrips struct {
	mu       sync.Mutex
	counting bool
	total    int
	by       map[string]int
}

func (r *roundTrips) on() { r.mu.Lock(); r.counting = true; r.mu.Unlock() }

// off stops counting and returns the total and its breakdown by command.
func (r *roundTrips) off() (int, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counting = false
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(r.by)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, r.by[k]))
	}
	return r.total, strings.Join(parts, " ")
}

func (r *roundTrips) add(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.counting {
		r.total++
		r.by[name]++
	}
}

// DialHook implements redis.Hook.
func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.add(cmdName(cmd))
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook.
func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		names := make([]string, 0, len(cmds))
		for _, c := range cmds {
			if n := cmdName(c); len(names) == 0 || names[len(names)-1] != n {
				names = append(names, n)
			}
		}
		r.add("pipeline(" + strings.Join(names, ",") + ")")
		return next(ctx, cmds)
	}
}

// cmdName names a command; a script by the start of its hash.
func cmdName(c redis.Cmder) string {
	name := c.Name()
	if args := c.Args(); (name == "evalsha" || name == "eval") && len(args) > 1 {
		if s, ok := args[1].(string); ok && len(s) >= 6 {
			return name + ":" + s[:6]
		}
	}
	return name
}
