package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tinmanhq/tinman/jobs"
)

// BreakerSetter marks the maintenance that the circuit breaker sets, so that
// only the breaker clears it again.
const BreakerSetter = "tinman:breaker"

// BMCFailed counts one more consecutive bmc_unreachable of server's BMC,
// within window. It opens the breaker at threshold failures: the server goes
// into maintenance with reason, set by the breaker. It reports whether this
// call opened it.
func (s *Store) BMCFailed(ctx context.Context, server, reason string, threshold int, window time.Duration) (bool, error) {
	pipe := s.rdb.TxPipeline()
	n := pipe.Incr(ctx, breakerKey(server))
	pipe.Expire(ctx, breakerKey(server), window)
	if _, err := pipe.Exec(ctx); err != nil {
		return false, fmt.Errorf("count BMC failure of %s: %w", server, err)
	}
	if n.Val() != int64(threshold) {
		return false, nil
	}
	m := &jobs.Maintenance{Reason: reason, SetBy: BreakerSetter, Since: time.Now().UTC()}
	err := s.updateServer(ctx, server, func(rec *serverRecord) error {
		if rec.Maintenance == nil {
			rec.Maintenance = m
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	return true, s.rdb.SAdd(ctx, breakersOpen, server).Err()
}

// BMCAnswered resets server's failure count and, when the breaker had put
// the server in maintenance, clears it. It reports whether it closed the breaker.
func (s *Store) BMCAnswered(ctx context.Context, server string) (bool, error) {
	pipe := s.rdb.Pipeline() // one round trip: this runs once per job
	n := pipe.Del(ctx, breakerKey(server))
	removed := pipe.SRem(ctx, breakersOpen, server)
	if _, err := pipe.Exec(ctx); err != nil {
		return false, fmt.Errorf("reset BMC failures of %s: %w", server, err)
	}
	if n.Val() == 0 && removed.Val() == 0 {
		return false, nil
	}
	var closed bool
	err := s.updateServer(ctx, server, func(rec *serverRecord) error {
		if rec.Maintenance != nil && rec.Maintenance.SetBy == BreakerSetter {
			rec.Maintenance, closed = nil, true
		}
		return nil
	})
	return closed, err
}

// OpenBreakers lists the servers whose breaker is open.
func (s *Store) OpenBreakers(ctx context.Context) ([]string, error) {
	ids, err := s.rdb.SMembers(ctx, breakersOpen).Result()
	if err != nil {
		return nil, fmt.Errorf("list open breakers: %w", err)
	}
	return ids, nil
}

// ClaimProbe gives one caller in the whole system, per interval, the right
// to probe server's BMC.
func (s *Store) ClaimProbe(ctx context.Context, server string, interval time.Duration) (bool, error) {
	ok, err := s.rdb.SetNX(ctx, probeKey(server), 1, interval).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("claim probe of %s: %w", server, err)
	}
	return ok, nil
}

// SetLastCall remembers when server's BMC was last called, for interval:
// the next holder of its lease waits out the rest of it.
func (s *Store) SetLastCall(ctx context.Context, server string, at time.Time, interval time.Duration) error {
	if err := s.rdb.Set(ctx, paceKey(server), at.UnixNano(), interval).Err(); err != nil {
		return fmt.Errorf("remember last BMC call of %s: %w", server, err)
	}
	return nil
}

// LastCall returns when server's BMC was last called, if within the
// interval given to SetLastCall; the zero time otherwise.
func (s *Store) LastCall(ctx context.Context, server string) (time.Time, error) {
	n, err := s.rdb.Get(ctx, paceKey(server)).Int64()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("read last BMC call of %s: %w", server, err)
	}
	return time.Unix(0, n), nil
}

// ClaimRound gives one caller in the whole system, per interval, the right
// to run the periodic task name (the watchdog's sweep).
func (s *Store) ClaimRound(ctx context.Context, name string, interval time.Duration) (bool, error) {
	ok, err := s.rdb.SetNX(ctx, roundKey(name), 1, interval).Result()
	if err != nil {
		return false, fmt.Errorf("claim %s round: %w", name, err)
	}
	return ok, nil
}
