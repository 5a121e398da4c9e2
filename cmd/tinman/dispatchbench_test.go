package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tinmanhq/tinman/dispatch"
	"github.com/tinmanhq/tinman/servicetest"
)

// BenchmarkDispatch measures the dispatcher alone: b.N power requests
// published first, then the dispatcher (and the outbox) run until every
// task is queued. It reports the CPU milliseconds per request of this
// process (the embedded NATS included) and of Redis, handled one at a time
// (batch-1, as before requests were batched) and in batches (batch-16, the
// default), in the same run:
//
//	TINMAN_TEST_REDIS_URL=redis://127.0.0.1:6379 go test -run '^$' -bench Dispatch -benchtime 10000x -count 3 ./cmd/tinman/
func BenchmarkDispatch(b *testing.B) {
	for _, size := range []int{1, 16} {
		b.Run(fmt.Sprintf("batch-%d", size), func(b *testing.B) {
			cfg := dispatch.DefaultConfig()
			cfg.BatchSize = size
			benchDispatch(b, cfg)
		})
	}
}

func benchDispatch(b *testing.B, cfg dispatch.Config) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	be, natsURL, rdb := benchBackend(ctx, b)
	_, js := servicetest.JetStream(b, natsURL)
	publishAll(b, js, b.N, 0, newTracker(b.N))
	disp, q, err := be.dispatcher(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	insp := asynq.NewInspectorFromRedisClient(rdb)

	b.ResetTimer()
	cpu := startCPU(b, rdb)
	done := make(chan error, 1)
	go func() { done <- runAll(ctx, be.outbox.Run, disp.Run) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		info, err := insp.GetQueueInfo("default")
		if err == nil && info.Pending >= b.N {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("tasks not all queued within 5 minutes: %v %v", info, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.StopTimer()
	proc, rds := cpu.perJob(b, b.N)
	b.ReportMetric(proc, "cpu-ms/req")
	b.ReportMetric(rds, "redis-cpu-ms/req")
	b.ReportMetric(proc+rds, "all-cpu-ms/req")
}
