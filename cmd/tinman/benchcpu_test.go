package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// cpuMeter measures the CPU time spent over a benchmark's timed part: this
// test process's (getrusage: user + system, every goroutine, the embedded
// NATS server's included, since it runs in this process), and Redis's from
// INFO cpu (used_cpu_user + used_cpu_sys) when the Redis is a real one
// (TINMAN_TEST_REDIS_URL). Redis's figure is the whole server's: another
// test using the same Redis meanwhile adds to it.
type cpuMeter struct {
	rdb         redis.UniversalClient // nil: no real Redis to ask
	proc, redis time.Duration
}

// startCPU reads both clocks; rdb is asked only when a real Redis is used.
func startCPU(b *testing.B, rdb redis.UniversalClient) *cpuMeter {
	b.Helper()
	m := &cpuMeter{}
	if os.Getenv("TINMAN_TEST_REDIS_URL") != "" {
		m.rdb = rdb
	}
	m.proc, m.redis = processCPU(b), redisCPU(b, m.rdb)
	return m
}

// perJob returns the CPU milliseconds per job since startCPU, of the
// process and of Redis (0 without a real Redis).
func (m *cpuMeter) perJob(b *testing.B, n int) (proc, rds float64) {
	b.Helper()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(n) }
	proc = ms(processCPU(b) - m.proc)
	if m.rdb != nil {
		rds = ms(redisCPU(b, m.rdb) - m.redis)
	}
	return proc, rds
}

func processCPU(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPU is Redis's used_cpu_user + used_cpu_sys (0 when rdb is nil).
func redisCPU(b *testing.B, rdb redis.UniversalClient) time.Duration {
	b.Helper()
	if rdb == nil {
		return 0
	}
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatalf("redis INFO cpu: %v", err)
	}
	var total float64
	for line := range strings.Lines(info) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		if k == "used_cpu_user" || k == "used_cpu_sys" {
			secs, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatalf("redis INFO cpu %s=%q: %v", k, v, err)
			}
			total += secs
		}
	}
	return time.Duration(total * float64(time.Second))
}
