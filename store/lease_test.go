package store_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/tinmanhq/tinman/servicetest"
	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/store/storetest"
)

// leaseEnv is a Store for lease tests (no NATS needed) and a way to let time
// pass for its keys' TTLs.
type leaseEnv struct {
	store *store.Store
	// elapse lets d pass: for real on a real Redis, by fast-forwarding the
	// in-process one, whose keys do not expire by the clock.
	elapse func(d time.Duration)
}

func setupLeases(t *testing.T) leaseEnv {
	t.Helper()
	if os.Getenv("TINMAN_TEST_REDIS_URL") != "" || servicetest.InCI() {
		_, rdb := servicetest.Redis(t)
		return leaseEnv{store: storetest.Store(t, rdb, nil, store.Config{}), elapse: time.Sleep}
	}
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	return leaseEnv{store: storetest.Store(t, rdb, nil, store.Config{}), elapse: m.FastForward}
}

// One job at a time holds a server's lease; its holder re-acquires it with
// the same token, and only its holder can release it.
func TestLease(t *testing.T) {
	t.Parallel()
	e := setupLeases(t)
	ctx := testContext(t)
	a, err := e.store.AcquireLease(ctx, "srv-1", "job-a", time.Minute)
	if err != nil || a.Server != "srv-1" || a.Owner != "job-a" || a.Token < 1 || a.TTL != time.Minute {
		t.Fatalf("AcquireLease(job-a) = %+v, %v", a, err)
	}
	_, err = e.store.AcquireLease(ctx, "srv-1", "job-b", time.Minute)
	if !errors.Is(err, store.ErrLeaseHeld) || !strings.Contains(err.Error(), "job-a") {
		t.Fatalf("AcquireLease(job-b) = %v, want ErrLeaseHeld naming job-a", err)
	}
	if again, err := e.store.AcquireLease(ctx, "srv-1", "job-a", time.Minute); err != nil || again.Token != a.Token {
		t.Errorf("AcquireLease(job-a) again = %+v, %v; want token %d", again, err, a.Token)
	}
	if other, err := e.store.AcquireLease(ctx, "srv-2", "job-b", time.Minute); err != nil {
		t.Errorf("AcquireLease(srv-2, job-b) = %+v, %v; want another server's lease free", other, err)
	}
	b := store.Lease{Server: "srv-1", Owner: "job-b", Token: a.Token, TTL: time.Minute}
	if err := e.store.ReleaseLease(ctx, b); err != nil {
		t.Errorf("ReleaseLease by job-b = %v, want nil (nothing to do)", err)
	}
	if _, err := e.store.AcquireLease(ctx, "srv-1", "job-b", time.Minute); !errors.Is(err, store.ErrLeaseHeld) {
		t.Fatalf("after job-b's release, AcquireLease(job-b) = %v; want it still held by job-a", err)
	}
	if err := e.store.RenewLease(ctx, a); err != nil {
		t.Errorf("RenewLease(job-a) = %v", err)
	}
	if err := e.store.ReleaseLease(ctx, a); err != nil {
		t.Fatalf("ReleaseLease(job-a) = %v", err)
	}
	got, err := e.store.AcquireLease(ctx, "srv-1", "job-b", time.Minute)
	if err != nil || got.Token <= a.Token {
		t.Errorf("AcquireLease(job-b) after the release = %+v, %v; want a token above %d", got, err, a.Token)
	}
	if err := e.store.RenewLease(ctx, a); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("RenewLease(job-a) after its release = %v, want ErrLeaseLost", err)
	}
}

// The fencing token rises with each new grant, whoever gets it.
func TestLeaseTokenRises(t *testing.T) {
	t.Parallel()
	e := setupLeases(t)
	ctx := testContext(t)
	var last int64
	for i, owner := range []string{"job-a", "job-b", "job-a", "job-a", "job-c"} {
		l, err := e.store.AcquireLease(ctx, "srv-1", owner, time.Minute)
		if err != nil || l.Token <= last {
			t.Fatalf("grant %d to %s = %+v, %v; want a token above %d", i, owner, l, err, last)
		}
		last = l.Token
		if err := e.store.ReleaseLease(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
}

// A lease not renewed in time expires: its renewal says it is lost, and
// another job can take the server, with a higher token.
func TestLeaseExpires(t *testing.T) {
	t.Parallel()
	e := setupLeases(t)
	ctx := testContext(t)
	const ttl = 200 * time.Millisecond
	a, err := e.store.AcquireLease(ctx, "srv-1", "job-a", ttl)
	if err != nil {
		t.Fatal(err)
	}
	e.elapse(ttl + 100*time.Millisecond)
	if err := e.store.RenewLease(ctx, a); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("RenewLease after expiry = %v, want ErrLeaseLost", err)
	}
	b, err := e.store.AcquireLease(ctx, "srv-1", "job-b", time.Minute)
	if err != nil || b.Token <= a.Token {
		t.Errorf("AcquireLease(job-b) after expiry = %+v, %v; want a token above %d", b, err, a.Token)
	}
}

// A renewed lease outlives its first TTL.
func TestLeaseRenew(t *testing.T) {
	t.Parallel()
	e := setupLeases(t)
	ctx := testContext(t)
	const ttl = 600 * time.Millisecond
	a, err := e.store.AcquireLease(ctx, "srv-1", "job-a", ttl)
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		e.elapse(ttl / 3)
		if err := e.store.RenewLease(ctx, a); err != nil {
			t.Fatalf("RenewLease = %v", err)
		}
	}
	if _, err := e.store.AcquireLease(ctx, "srv-1", "job-b", ttl); !errors.Is(err, store.ErrLeaseHeld) {
		t.Errorf("AcquireLease(job-b) = %v; want the renewed lease still held", err)
	}
}

// A job's wait for its server is announced once.
func TestMarkWaiting(t *testing.T) {
	t.Parallel()
	e := setupLeases(t)
	ctx := testContext(t)
	for i, want := range []bool{true, false, false} {
		if got, err := e.store.MarkWaiting(ctx, "job-a"); err != nil || got != want {
			t.Errorf("MarkWaiting #%d = %t, %v; want %t", i+1, got, err, want)
		}
	}
	if got, err := e.store.MarkWaiting(ctx, "job-b"); err != nil || !got {
		t.Errorf("MarkWaiting(job-b) = %t, %v; want true: another job", got, err)
	}
}

// The jobs waiting for a lease are counted until they are granted one: by
// AcquireLease or by StartJob, each in the same script as the grant.
func TestLeaseWaiters(t *testing.T) {
	t.Parallel()
	e := setupLeases(t)
	ctx := testContext(t)
	count := func(want int64) {
		t.Helper()
		if n, err := e.store.LeaseWaiters(ctx); err != nil || n != want {
			t.Errorf("LeaseWaiters = %d, %v; want %d", n, err, want)
		}
	}
	count(0)
	for _, id := range []string{"job-a", "job-b", "job-a"} {
		if _, err := e.store.MarkWaiting(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	count(2)
	if _, err := e.store.AcquireLease(ctx, "srv-1", "job-a", time.Minute); err != nil {
		t.Fatal(err)
	}
	count(1)
	if _, err := e.store.AcquireLease(ctx, "srv-1", "job-b", time.Minute); !errors.Is(err, store.ErrLeaseHeld) {
		t.Fatalf("AcquireLease(job-b) = %v; want held", err)
	}
	count(1) // still waiting
	if _, err := e.store.StartJob(ctx, "job-b", "srv-2", time.Minute); err == nil {
		t.Fatal("StartJob of a job with no record succeeded")
	}
	count(1) // no record: nothing granted
}

// A grant that expired is lost even when the same job took the server again
// since (a second attempt of the job, say): the new grant has a new token,
// and the old one must neither renew nor release it. Else a holder that was
// cut off carries on beside the current one, which the token is there to
// prevent.
func TestLeaseStaleGrant(t *testing.T) {
	t.Parallel()
	e := setupLeases(t)
	ctx := testContext(t)
	const ttl = 200 * time.Millisecond
	old, err := e.store.AcquireLease(ctx, "srv-1", "job-a", ttl)
	if err != nil {
		t.Fatal(err)
	}
	e.elapse(ttl + 100*time.Millisecond)
	current, err := e.store.AcquireLease(ctx, "srv-1", "job-a", time.Minute)
	if err != nil || current.Token <= old.Token {
		t.Fatalf("AcquireLease after expiry = %+v, %v; want a token above %d", current, err, old.Token)
	}
	if err := e.store.RenewLease(ctx, old); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("RenewLease of the expired grant (token %d, now %d) = %v, want ErrLeaseLost", old.Token, current.Token, err)
	}
	if err := e.store.ReleaseLease(ctx, old); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.AcquireLease(ctx, "srv-1", "job-b", time.Minute); !errors.Is(err, store.ErrLeaseHeld) {
		t.Errorf("after the expired grant's release, AcquireLease(job-b) = %v; want the current grant still held", err)
	}
}
