package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrLeaseHeld says another job holds the server's lease.
var ErrLeaseHeld = errors.New("server lease held by another job")

// ErrLeaseLost says the lease expired or was taken over: its holder must stop.
var ErrLeaseLost = errors.New("server lease lost")

// Lease is the right to operate one server's BMC: one job at a time. It
// expires unless renewed, so a crashed holder frees the server; its fencing
// token rises with every new grant, so a holder that was cut off can be told
// from the current one. An owner that takes again a lease it still holds
// (a workflow resuming after a wait) keeps its token.
type Lease struct {
	Server string
	Owner  string
	Token  int64
	TTL    time.Duration
}

// A lease's value is "owner token": renewals and releases name both, so a
// grant that expired cannot be renewed, nor release the next grant, even
// when the same owner was granted the server again.

// acquireScript grants the lease to ARGV[1] if it is free or already theirs.
// It returns the fencing token, or the current holder as an error reply.
var acquireScript = redis.NewScript(acquireLua + `
local token, _, holder = acquire(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2])
if not token then return redis.error_reply('HELD ' .. holder) end
return token`)

// renewScript extends the lease if ARGV[1] ("owner token") still holds it.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`)

// releaseScript frees the lease if ARGV[1] ("owner token") still holds it.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])`)

func (l Lease) value() string { return fmt.Sprintf("%s %d", l.Owner, l.Token) }

// AcquireLease takes server's lease for owner (a job id). When another job
// holds it, the error wraps ErrLeaseHeld and names the holder.
func (s *Store) AcquireLease(ctx context.Context, server, owner string, ttl time.Duration) (Lease, error) {
	keys := []string{leaseKey(server), fenceKey(server), leaseWaiters}
	token, err := acquireScript.Run(ctx, s.rdb, keys, owner, ttl.Milliseconds()).Int64()
	if err != nil {
		var holder string
		// Redis may put "ERR " before an error reply, as it does for replies with no code.
		if _, scanErr := fmt.Sscanf(strings.TrimPrefix(err.Error(), "ERR "), "HELD %s", &holder); scanErr == nil {
			return Lease{}, fmt.Errorf("%w: %s", ErrLeaseHeld, holder)
		}
		return Lease{}, fmt.Errorf("acquire lease of %s: %w", server, err)
	}
	return Lease{Server: server, Owner: owner, Token: token, TTL: ttl}, nil
}

// RenewLease extends l by its TTL; ErrLeaseLost when l is no longer held.
func (s *Store) RenewLease(ctx context.Context, l Lease) error {
	ok, err := renewScript.Run(ctx, s.rdb, []string{leaseKey(l.Server)}, l.value(), l.TTL.Milliseconds()).Int64()
	if err != nil {
		return fmt.Errorf("renew lease of %s: %w", l.Server, err)
	}
	if ok == 0 {
		return fmt.Errorf("%w: %s by %s (token %d)", ErrLeaseLost, l.Server, l.Owner, l.Token)
	}
	return nil
}

// ReleaseLease frees l if it is still held by its owner.
func (s *Store) ReleaseLease(ctx context.Context, l Lease) error {
	if err := releaseScript.Run(ctx, s.rdb, []string{leaseKey(l.Server)}, l.value()).Err(); err != nil {
		return fmt.Errorf("release lease of %s: %w", l.Server, err)
	}
	return nil
}

// LeaseHolder returns the owner of server's lease, or "" when it is free.
func (s *Store) LeaseHolder(ctx context.Context, server string) (string, error) {
	held, err := s.rdb.Get(ctx, leaseKey(server)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read lease of %s: %w", server, err)
	}
	owner, _, _ := strings.Cut(held, " ")
	return owner, nil
}

// MarkWaiting records that a job waits for its server; it reports whether
// this is the first time, so that the wait is announced once.
func (s *Store) MarkWaiting(ctx context.Context, jobID string) (bool, error) {
	var first *redis.BoolCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		first = p.SetNX(ctx, waitingKey(jobID), 1, s.cfg.JobTTL)
		p.ZAdd(ctx, leaseWaiters, redis.Z{Score: float64(time.Now().UnixMilli()), Member: jobID})
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("mark job %s waiting: %w", jobID, err)
	}
	return first.Val(), nil
}

// LeaseWaitWindow is how long a job counts as waiting for its server's
// lease after it last found the lease held: a waiting job looks again
// within a second or so, and one that ended while waiting (canceled) drops
// out of the count this long after.
const LeaseWaitWindow = time.Minute

// LeaseWaiters counts the jobs waiting for their server's lease: those
// that found it held within LeaseWaitWindow and have not been granted it
// since. It forgets the older ones.
func (s *Store) LeaseWaiters(ctx context.Context) (int64, error) {
	since := time.Now().Add(-LeaseWaitWindow).UnixMilli()
	var n *redis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRemRangeByScore(ctx, leaseWaiters, "-inf", fmt.Sprintf("(%d", since))
		n = p.ZCard(ctx, leaseWaiters)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count jobs waiting for a lease: %w", err)
	}
	return n.Val(), nil
}
