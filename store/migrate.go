package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tinmanhq/tinman/jobs"
)

// layoutVersion is the key layout this code reads and writes (keys.go).
// Version 1, before it, kept the outbox's pending set and the open circuit
// breakers under names that ids could reach:
//
//	tinman:outbox:pending        -> tinman:outbox-pending
//	tinman:outbox:<job id>       -> tinman:outbox:job:<job id>
//	tinman:outbox:server.<id>    -> tinman:outbox:server:<id>
//	tinman:breaker:open          -> tinman:breakers-open
//	tinman:breaker:probe:<id>    -> tinman:probe:<id> (claims of 30 s: dropped)
//
// Every other key kept its name.
const layoutVersion = 2

// migrateLock lets one process migrate while the others wait.
const migrateLock = "tinman:layout-lock"

// Old names of the version 1 layout.
const (
	v1OutboxPending = "tinman:outbox:pending"
	v1OutboxPrefix  = "tinman:outbox:"
	v1BreakersOpen  = "tinman:breaker:open"
	v1ProbePattern  = "tinman:breaker:probe:*"
)

// ErrNewerLayout says Redis was written by a newer Tinman.
var ErrNewerLayout = errors.New("Redis holds a newer key layout")

// Migrate brings the keys of an older layout to this one, in place, once per
// Redis database; every role calls it at start. One process migrates while
// the others wait for it (bounded by ctx). It returns how many keys it moved.
// Roles of the older version must be stopped first: what they write after
// the migration is not seen.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	for {
		v, err := s.layout(ctx)
		switch {
		case err != nil:
			return 0, err
		case v == layoutVersion:
			return 0, nil
		case v > layoutVersion:
			return 0, fmt.Errorf("%w: version %d, this tinman knows %d: run a newer tinman", ErrNewerLayout, v, layoutVersion)
		}
		got, err := s.rdb.SetNX(ctx, migrateLock, "1", time.Minute).Result()
		if err != nil {
			return 0, fmt.Errorf("lock the key layout: %w", err)
		}
		if got {
			n, err := s.migrateV1(ctx)
			s.rdb.Del(context.WithoutCancel(ctx), migrateLock)
			return n, err
		}
		select { // another process migrates: wait for it
		case <-ctx.Done():
			return 0, fmt.Errorf("wait for another process to migrate the key layout: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// layout returns the version of the keys in Redis: 1 when unmarked (an
// empty database too: migrating it finds nothing, and marks it).
func (s *Store) layout(ctx context.Context) (int, error) {
	v, err := s.rdb.Get(ctx, layoutKey).Result()
	if err == nil {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, fmt.Errorf("key layout %q in %s: not a version", v, layoutKey)
		}
		return n, nil
	}
	if !errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("read the key layout: %w", err)
	}
	return 1, nil
}

// moveListScript moves the entries of the list KEYS[1] before those of
// KEYS[2], adds ARGV[1] to the set KEYS[3], and deletes KEYS[1]; it leaves
// a key that is not a list alone.
var moveListScript = redis.NewScript(`
if redis.call('TYPE', KEYS[1])['ok'] ~= 'list' then return 0 end
local items = redis.call('LRANGE', KEYS[1], 0, -1)
for i = #items, 1, -1 do redis.call('LPUSH', KEYS[2], items[i]) end
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[1])
return 1`)

// migrateV1 moves the version 1 keys and marks the layout.
func (s *Store) migrateV1(ctx context.Context) (int, error) {
	moved := 0
	var lists []string
	iter := s.rdb.Scan(ctx, 0, v1OutboxPrefix+"*", 512).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		if k != v1OutboxPending && !strings.HasPrefix(k, outboxJobPrefix) && !strings.HasPrefix(k, outboxServerPrefix) {
			lists = append(lists, k)
		}
	}
	if err := iter.Err(); err != nil {
		return moved, fmt.Errorf("scan the old outbox: %w", err)
	}
	for _, old := range lists {
		stream := v1Stream(strings.TrimPrefix(old, v1OutboxPrefix))
		n, err := moveListScript.Run(ctx, s.rdb, []string{old, stream.listKey(), outboxPending}, string(stream)).Int()
		if err != nil {
			return moved, fmt.Errorf("move outbox list %s: %w", old, err)
		}
		moved += n
	}
	if t, err := s.rdb.Type(ctx, v1BreakersOpen).Result(); err != nil {
		return moved, fmt.Errorf("read %s: %w", v1BreakersOpen, err)
	} else if t == "set" { // a string there is the failure count of a server named "open": it stays
		pipe := s.rdb.TxPipeline()
		pipe.SUnionStore(ctx, breakersOpen, breakersOpen, v1BreakersOpen)
		pipe.Del(ctx, v1BreakersOpen)
		if _, err := pipe.Exec(ctx); err != nil {
			return moved, fmt.Errorf("move the open breakers: %w", err)
		}
		moved++
	}
	probes := s.rdb.Scan(ctx, 0, v1ProbePattern, 512).Iterator()
	for probes.Next(ctx) {
		if err := s.rdb.Del(ctx, probes.Val()).Err(); err != nil {
			return moved, fmt.Errorf("drop probe claim %s: %w", probes.Val(), err)
		}
	}
	if err := probes.Err(); err != nil {
		return moved, fmt.Errorf("scan probe claims: %w", err)
	}
	pipe := s.rdb.TxPipeline()
	pipe.Del(ctx, v1OutboxPending) // every member's list has moved
	pipe.Set(ctx, layoutKey, layoutVersion, 0)
	if _, err := pipe.Exec(ctx); err != nil {
		return moved, fmt.Errorf("mark the key layout: %w", err)
	}
	return moved, nil
}

// v1Stream is the stream a version 1 outbox list belonged to: "server.<id>"
// for a server's state changes, else a job id.
func v1Stream(name string) outboxStream {
	if id, ok := strings.CutPrefix(name, "server."); ok && jobs.ValidServerID(id) {
		return serverStream(id)
	}
	return jobStream(name)
}
