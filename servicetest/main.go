package servicetest

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/alicebob/miniredis/v2"

	"github.com/tinmanhq/tinman/natsembed"
)

// Services are the NATS and Redis of a whole test binary, started in
// TestMain for what cannot take a *testing.T, such as an Example that runs
// against a live system. The same rules hold as for one test's: an
// embedded NATS or TINMAN_TEST_NATS_URL, a Redis database leased from
// TINMAN_TEST_REDIS_URL or an in-process Redis (never under CI=true).
type Services struct {
	// NATSURL is a NATS server with JetStream and no Tinman streams yet.
	NATSURL string
	// RedisURL is an empty Redis database of the binary's own.
	RedisURL string
	// closers stop what Start started, in order.
	closers []func()
}

// Start starts the services of the test binary name. Close them after
// m.Run.
func Start(name string) (*Services, error) {
	s := &Services{}
	if err := s.startNATS(); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.startRedis(name); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close stops the services, the last started first.
func (s *Services) Close() {
	for _, stop := range slices.Backward(s.closers) {
		stop()
	}
	s.closers = nil
}

func (s *Services) startNATS() error {
	if url := os.Getenv("TINMAN_TEST_NATS_URL"); url != "" {
		s.NATSURL = url
		return deleteStreams(url)
	}
	dir, err := os.MkdirTemp("", "servicetest-nats-")
	if err != nil {
		return fmt.Errorf("embedded NATS: %w", err)
	}
	s.closers = append(s.closers, func() { _ = os.RemoveAll(dir) })
	ns, err := natsembed.Start(natsembed.Config{Port: -1, StoreDir: dir, Name: "test"})
	if err != nil {
		return fmt.Errorf("embedded NATS: %w", err)
	}
	s.closers = append(s.closers, ns.Shutdown)
	s.NATSURL = ns.URL()
	return nil
}

func (s *Services) startRedis(name string) error {
	base := os.Getenv("TINMAN_TEST_REDIS_URL")
	switch {
	case base == "" && InCI():
		return errors.New("CI=true and TINMAN_TEST_REDIS_URL is not set: CI tests run against the real Redis")
	case base == "":
		m := miniredis.NewMiniRedis()
		if err := m.Start(); err != nil {
			return fmt.Errorf("in-process Redis: %w", err)
		}
		s.closers = append(s.closers, m.Close, tick(m))
		s.RedisURL = "redis://" + m.Addr()
		return nil
	}
	url, release, err := lease(base, fmt.Sprintf("%d/%s", os.Getpid(), name))
	if err != nil {
		return err
	}
	s.closers = append(s.closers, release)
	c, err := flushed(url)
	if err != nil {
		return err
	}
	s.RedisURL = url
	return c.Close()
}
