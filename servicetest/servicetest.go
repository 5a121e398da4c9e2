// Package servicetest gives tests the real services they talk to: a NATS
// server with JetStream (embedded 2.15 per test, or TINMAN_TEST_NATS_URL) and
// a Redis database of their own (from TINMAN_TEST_REDIS_URL, else an
// in-process Redis). A test that needs a system tool skips locally and fails
// under CI=true. Never imported by production code.
package servicetest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/natsembed"
)

// InCI reports whether the tests run in CI, where a missing service or tool is a failure.
func InCI() bool { return os.Getenv("CI") == "true" }

// Unavailable skips the test locally and fails it in CI.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("CI=true and %s", msg)
	}
	t.Skip(msg)
}

// NeedTool returns the path of a system tool, or skips (fails in CI) when it is missing.
func NeedTool(t testing.TB, name, install string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Unavailable(t, "%s is not installed (%s)", name, install)
	}
	return p
}

// NATS returns a NATS URL with JetStream for the test: an embedded server of
// its own, or TINMAN_TEST_NATS_URL with the Tinman streams deleted first
// (such runs must not share the server between packages: use -p 1).
func NATS(t testing.TB) string {
	t.Helper()
	if url := os.Getenv("TINMAN_TEST_NATS_URL"); url != "" {
		resetStreams(t, url)
		return url
	}
	return EmbeddedNATS(t, t.TempDir()).URL()
}

// EmbeddedNATS starts a private NATS server storing in dir, stopped at cleanup.
func EmbeddedNATS(t testing.TB, dir string) *natsembed.Server {
	t.Helper()
	s, err := natsembed.Start(natsembed.Config{Port: -1, StoreDir: dir, Name: "test"})
	if err != nil {
		t.Fatalf("embedded NATS: %v", err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

func resetStreams(t testing.TB, url string) {
	t.Helper()
	if err := deleteStreams(url); err != nil {
		Unavailable(t, "%v", err)
	}
}

// deleteStreams deletes the Tinman streams of the NATS at url.
func deleteStreams(url string) error {
	nc, err := nats.Connect(url)
	if err != nil {
		return fmt.Errorf("reach NATS at %s: %w", url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream at %s: %w", url, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, name := range []string{events.RequestsStream, events.EventsStream} {
		if err := js.DeleteStream(ctx, name); err != nil && !strings.Contains(err.Error(), "not found") {
			return fmt.Errorf("delete stream %s: %w", name, err)
		}
	}
	return nil
}

// JetStream connects to url and returns a JetStream context, closed at cleanup.
func JetStream(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, nats.Name(t.Name()))
	if err != nil {
		t.Fatalf("connect NATS %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// Streams returns a JetStream on a NATS of the test's own (see NATS) with
// Tinman's streams created.
func Streams(t testing.TB) jetstream.JetStream {
	t.Helper()
	_, js := JetStream(t, NATS(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := events.EnsureStreams(ctx, js, events.DefaultStreamConfig()); err != nil {
		t.Fatalf("create the streams: %v", err)
	}
	return js
}

// StreamState returns the state of a JetStream stream: its messages,
// sequences and consumers.
func StreamState(t testing.TB, js jetstream.JetStream, stream string) jetstream.StreamState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	return info.State
}

// Redis returns the URL of a Redis database that belongs to the test alone,
// flushed before use, and a client on it closed at cleanup. With
// TINMAN_TEST_REDIS_URL the database is leased from that server (1..15);
// without it, an in-process Redis is started.
func Redis(t testing.TB) (string, *redis.Client) {
	t.Helper()
	base := os.Getenv("TINMAN_TEST_REDIS_URL")
	if base == "" {
		if InCI() {
			t.Fatal("CI=true and TINMAN_TEST_REDIS_URL is not set: CI tests run against the real Redis")
		}
		m := miniredis.RunT(t)
		keepTime(t, m)
		return clientFor(t, "redis://"+m.Addr())
	}
	url := leaseDB(t, base)
	return clientFor(t, url)
}

func clientFor(t testing.TB, url string) (string, *redis.Client) {
	t.Helper()
	c, err := flushed(url)
	if err != nil {
		Unavailable(t, "%v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return url, c
}

// flushed returns a client of the Redis database at url, emptied.
func flushed(url string) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("parse redis url %q: %w", url, err)
	}
	c := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.FlushDB(ctx).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("reach Redis at %s: %w", url, err)
	}
	return c, nil
}

// keepTime makes the in-process Redis expire keys as time passes, as a real
// one does: miniredis only moves its clock when told.
func keepTime(t testing.TB, m *miniredis.Miniredis) {
	t.Cleanup(tick(m))
}

// tick moves m's clock with the wall clock's until the returned stop.
func tick(m *miniredis.Miniredis) (stop func()) {
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		const step = 50 * time.Millisecond
		ticker := time.NewTicker(step)
		defer ticker.Stop()
		for {
			select {
			case <-quit:
				return
			case <-ticker.C:
				m.FastForward(step)
			}
		}
	}()
	return func() { close(quit); <-done }
}

// EachRedis runs fn on an in-process Redis and, with
// TINMAN_TEST_REDIS_URL, on a database of the real one, each in a subtest
// of its own: what a store test proves holds on both (miniredis's Lua,
// types and expiry are another implementation than Redis's). Under CI the
// real one is required.
func EachRedis(t *testing.T, fn func(t *testing.T, url string, rdb *redis.Client)) {
	t.Helper()
	t.Run("in-process", func(t *testing.T) {
		t.Parallel()
		m := miniredis.RunT(t)
		keepTime(t, m)
		url, c := clientFor(t, "redis://"+m.Addr())
		fn(t, url, c)
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		base := os.Getenv("TINMAN_TEST_REDIS_URL")
		if base == "" {
			Unavailable(t, "no real Redis: set TINMAN_TEST_REDIS_URL=redis://127.0.0.1:6379 (the in-process run still ran)")
		}
		url, c := clientFor(t, leaseDB(t, base))
		fn(t, url, c)
	})
}
