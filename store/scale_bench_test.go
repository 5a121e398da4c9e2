package store

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
)

// scaleJobs is how many jobs BenchmarkJobListAtScale seeds.
const scaleJobs = 1_000_000

// BenchmarkJobListAtScale lists jobs (GET /v1/jobs's store call) among
// 1,000,000 in a real Redis: the first page of 100, and cursor paging
// through all of them 1,000 at a time; it reports the Redis memory per job
// (goal: a page under 50 ms). The jobs are seeded with pipelines into the
// benchmark's own database, emptied after (about 600 MB while it runs).
// Each iteration reads 20 first pages, or pages through all once:
//
//	TINMAN_TEST_REDIS_URL=redis://127.0.0.1:6379 go test -run '^$' -bench JobListAtScale -benchtime 1x ./store/
func BenchmarkJobListAtScale(b *testing.B) {
	if os.Getenv("TINMAN_TEST_REDIS_URL") == "" {
		b.Skip("needs a real Redis: set TINMAN_TEST_REDIS_URL")
	}
	_, rdb := servicetest.Redis(b)
	ctx := context.Background()
	b.Cleanup(func() { rdb.FlushDB(ctx) })
	st, err := New(rdb, nil, Config{})
	if err != nil {
		b.Fatal(err)
	}
	before := usedMemory(b, rdb)
	seedJobs(b, st, scaleJobs)
	perJob := float64(usedMemory(b, rdb)-before) / scaleJobs
	b.Run("first-page", func(b *testing.B) {
		for b.Loop() {
			for range 20 {
				if page, err := st.ListJobs(ctx, JobFilter{Limit: 100}); err != nil || len(page) != 100 {
					b.Fatalf("%d jobs, %v", len(page), err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(20*b.N), "ms/page")
		b.ReportMetric(perJob, "redis-bytes/job")
	})
	b.Run("cursor-all", func(b *testing.B) {
		pages := 0
		for b.Loop() {
			pages += pageAll(b, st)
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(pages), "ms/page")
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/all")
	})
}

// pageAll pages through every job, 1,000 at a time, and returns the pages.
func pageAll(b *testing.B, st *Store) int {
	var after string
	seen, pages := 0, 0
	for {
		page, err := st.ListJobs(context.Background(), JobFilter{Limit: 1000, After: after})
		if err != nil {
			b.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		seen, pages, after = seen+len(page), pages+1, page[len(page)-1].ID
	}
	if seen != scaleJobs {
		b.Fatalf("paged through %d jobs, want %d", seen, scaleJobs)
	}
	return pages
}

// seedJobs writes n succeeded power jobs and their index entries, as the
// dispatcher and a worker leave them, 1,000 a round trip.
func seedJobs(b *testing.B, st *Store, n int) {
	b.Helper()
	ctx := context.Background()
	base := time.Now().Add(-time.Hour)
	job := jobs.NewJob(jobs.Request{ID: "x", Type: jobs.Power, Server: "srv-00001", Params: json.RawMessage(`{"action":"status"}`)}, 3, base)
	job.State, job.Attempt, job.Seq, job.Result = jobs.StateSucceeded, 1, 3, json.RawMessage(`{"power_state":"on"}`)
	for start := 0; start < n; start += 1000 {
		pipe := st.rdb.Pipeline()
		for i := start; i < min(start+1000, n); i++ {
			job.ID, job.Server = fmt.Sprintf("job-%07d", i), fmt.Sprintf("srv-%05d", i%10000)
			job.CreatedAt = base.Add(time.Duration(i) * time.Millisecond)
			w, err := st.jobWrite(job)
			if err != nil {
				b.Fatal(err)
			}
			pipe.Set(ctx, w.Key, w.Value, w.TTL)
			for _, key := range st.indexKeys(job) {
				pipe.ZAdd(ctx, key, redis.Z{Score: float64(job.CreatedAt.UnixMilli()), Member: job.ID})
			}
		}
		if _, err := pipe.Exec(ctx); err != nil {
			b.Fatalf("seed jobs: %v", err)
		}
	}
}

// usedMemory is Redis's used_memory (INFO memory), in bytes.
func usedMemory(b testing.TB, rdb redis.UniversalClient) int64 {
	b.Helper()
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatalf("redis INFO memory: %v", err)
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatalf("used_memory %q: %v", v, err)
			}
			return n
		}
	}
	b.Fatal("INFO memory has no used_memory")
	return 0
}

// UsedMemory is usedMemory for the external tests' benchmarks.
var UsedMemory = usedMemory
