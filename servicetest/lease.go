package servicetest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// leaseDB leases one of databases 1..15 of the Redis at base, for the test's
// life, across every test process on the machine: a lease is a key in
// database 0 with a TTL renewed while the test runs.
func leaseDB(t testing.TB, base string) string {
	t.Helper()
	opt, err := redis.ParseURL(base)
	if err != nil {
		t.Fatalf("TINMAN_TEST_REDIS_URL %q: %v", base, err)
	}
	opt.DB = 0
	admin := redis.NewClient(opt)
	t.Cleanup(func() { _ = admin.Close() })
	owner := fmt.Sprintf("%d/%s", os.Getpid(), t.Name())
	ctx := context.Background()
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		for db := 1; db <= 15; db++ {
			key := fmt.Sprintf("tinman:test:lease:%d", db)
			ok, err := admin.SetNX(ctx, key, owner, 30*time.Second).Result()
			if err != nil {
				Unavailable(t, "Redis at %s: %v", base, err)
			}
			if ok {
				keepLease(t, admin, key, owner)
				return withDB(base, db)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("no free Redis test database in 5 minutes")
	return ""
}

func keepLease(t testing.TB, admin *redis.Client, key, owner string) {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				admin.Expire(context.Background(), key, 30*time.Second)
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		if admin.Get(context.Background(), key).Val() == owner {
			admin.Del(context.Background(), key)
		}
	})
}

func withDB(base string, db int) string {
	u := strings.TrimRight(base, "/")
	if i := strings.LastIndex(u, "/"); i > len("redis://") {
		if _, err := fmt.Sscanf(u[i+1:], "%d", new(int)); err == nil {
			u = u[:i]
		}
	}
	return fmt.Sprintf("%s/%d", u, db)
}
