package servicetest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Snapshot is every key of a Redis database with its type and value,
// written out, so that a test can tell whether anything changed.
type Snapshot map[string]string

// RedisSnapshot reads every key of rdb's database. TTLs are left out: they
// tick.
func RedisSnapshot(t testing.TB, rdb redis.UniversalClient) Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	snap := Snapshot{}
	iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		v, err := keyValue(ctx, rdb, key)
		if err != nil {
			t.Fatalf("snapshot %s: %v", key, err)
		}
		snap[key] = v
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("snapshot: scan: %v", err)
	}
	return snap
}

// keyValue writes out the value of key, by its type.
func keyValue(ctx context.Context, rdb redis.UniversalClient, key string) (string, error) {
	typ, err := rdb.Type(ctx, key).Result()
	if err != nil {
		return "", err
	}
	var v any
	switch typ {
	case "none":
		return "", nil // gone between the scan and now
	case "string":
		v, err = rdb.Get(ctx, key).Result()
	case "hash":
		v, err = rdb.HGetAll(ctx, key).Result()
	case "set":
		var members []string
		members, err = rdb.SMembers(ctx, key).Result()
		slices.Sort(members)
		v = members
	case "zset":
		v, err = rdb.ZRangeWithScores(ctx, key, 0, -1).Result()
	case "list":
		v, err = rdb.LRange(ctx, key, 0, -1).Result()
	default:
		return "", fmt.Errorf("type %s is not snapshotted", typ)
	}
	return fmt.Sprintf("%s %v", typ, v), err
}

// Unchanged fails the test when rdb's database is not as s saw it.
func (s Snapshot) Unchanged(t testing.TB, rdb redis.UniversalClient) {
	t.Helper()
	if diff := s.Diff(RedisSnapshot(t, rdb)); len(diff) > 0 {
		t.Errorf("Redis changed:\n%s", strings.Join(diff, "\n"))
	}
}

// Diff lists what changed from s to after: keys added, removed or changed.
func (s Snapshot) Diff(after Snapshot) []string {
	var out []string
	for _, key := range slices.Sorted(maps.Keys(after)) {
		before, ok := s[key]
		switch {
		case !ok:
			out = append(out, "added "+key+": "+clip(after[key]))
		case before != after[key]:
			out = append(out, "changed "+key+": "+clip(before)+" -> "+clip(after[key]))
		}
	}
	for _, key := range slices.Sorted(maps.Keys(s)) {
		if _, ok := after[key]; !ok {
			out = append(out, "removed "+key)
		}
	}
	return out
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
