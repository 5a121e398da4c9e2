package servicetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// errNoFreeDB: every test database stayed leased for leaseWait.
var errNoFreeDB = errors.New("no free Redis test database")

// leaseWait is how long a lease waits for a free database.
const leaseWait = 5 * time.Minute

// leaseDB leases one of databases 1..15 of the Redis at base, for the test's
// life, across every test process on the machine.
func leaseDB(t testing.TB, base string) string {
	t.Helper()
	url, release, err := lease(base, fmt.Sprintf("%d/%s", os.Getpid(), t.Name()))
	switch {
	case errors.Is(err, errNoFreeDB):
		t.Fatal(err)
	case err != nil:
		Unavailable(t, "%v", err)
	}
	t.Cleanup(release)
	return url
}

// lease leases one of databases 1..15 of the Redis at base for owner, until
// release: a lease is a key in database 0 with a TTL renewed meanwhile.
func lease(base, owner string) (url string, release func(), err error) {
	opt, err := redis.ParseURL(base)
	if err != nil {
		return "", nil, fmt.Errorf("TINMAN_TEST_REDIS_URL %q: %w", base, err)
	}
	opt.DB = 0
	admin := redis.NewClient(opt)
	ctx := context.Background()
	for deadline := time.Now().Add(leaseWait); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for db := 1; db <= 15; db++ {
			key := fmt.Sprintf("tinman:test:lease:%d", db)
			ok, err := admin.SetNX(ctx, key, owner, 30*time.Second).Result()
			if err != nil {
				_ = admin.Close()
				return "", nil, fmt.Errorf("reach Redis at %s: %w", base, err)
			}
			if ok {
				return withDB(base, db), keepLease(admin, key, owner), nil
			}
		}
	}
	_ = admin.Close()
	return "", nil, fmt.Errorf("%w in %s", errNoFreeDB, leaseWait)
}

// keepLease renews the lease of key until the returned release, which
// gives it up and closes admin.
func keepLease(admin *redis.Client, key, owner string) (release func()) {
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
	return func() {
		close(stop)
		<-done
		if admin.Get(context.Background(), key).Val() == owner {
			admin.Del(context.Background(), key)
		}
		_ = admin.Close()
	}
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
