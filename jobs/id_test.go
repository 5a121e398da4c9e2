package jobs_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/jobs"
)

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

func checkULID(t *testing.T, id string) {
	t.Helper()
	if len(id) != 26 {
		t.Fatalf("id %q has %d characters, want 26", id, len(id))
	}
	if strings.Trim(id, crockford) != "" {
		t.Fatalf("id %q has characters outside the Crockford alphabet", id)
	}
	if id[0] > '7' {
		t.Fatalf("id %q: the first character carries 3 bits, so it is 0-7", id)
	}
	if !jobs.ValidJobID(id) {
		t.Fatalf("id %q is not a valid job id", id)
	}
}

func TestNewID(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 1000 {
		id := jobs.NewID(start.Add(time.Duration(i) * time.Millisecond))
		checkULID(t, id)
		ids = append(ids, id)
	}
	if !slices.IsSorted(ids) {
		t.Error("ids of later milliseconds do not sort after earlier ones")
	}
	if len(slices.Compact(slices.Clone(ids))) != len(ids) {
		t.Error("duplicate ids")
	}
}

func TestNewIDIsRandomWithinAMillisecond(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(1_800_000_000_000)
	a, b := jobs.NewID(now), jobs.NewID(now)
	if a == b {
		t.Errorf("two ids in the same millisecond are equal: %s", a)
	}
	if a[:10] != b[:10] {
		t.Errorf("ids of the same millisecond differ in their time part: %s %s", a, b)
	}
}

func TestDerivedID(t *testing.T) {
	t.Parallel()
	// The time part of the ULID spec's example: 1469918176385 ms is 01ARYZ6S41.
	ts := time.UnixMilli(1469918176385)
	tests := []struct {
		n    uint64
		want string
	}{
		{0, "01ARYZ6S410000000000000000"},
		{1, "01ARYZ6S410000000000000001"},
		{32, "01ARYZ6S410000000000000010"},
		{^uint64(0), "01ARYZ6S41000FZZZZZZZZZZZZ"},
	}
	for _, tt := range tests {
		got := jobs.DerivedID(ts, tt.n)
		checkULID(t, got)
		if got != tt.want {
			t.Errorf("DerivedID(%d) = %s, want %s", tt.n, got, tt.want)
		}
		if again := jobs.DerivedID(ts, tt.n); again != got {
			t.Errorf("DerivedID(%d) is not deterministic: %s then %s", tt.n, got, again)
		}
	}
}

func TestDerivedIDDistinct(t *testing.T) {
	t.Parallel()
	ts := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	seen := map[string]uint64{}
	var ids []string
	for n := range uint64(5000) {
		id := jobs.DerivedID(ts, n)
		if prev, dup := seen[id]; dup {
			t.Fatalf("DerivedID(%d) = DerivedID(%d) = %s", n, prev, id)
		}
		seen[id] = n
		ids = append(ids, id)
	}
	if !slices.IsSorted(ids) {
		t.Error("derived ids of one millisecond do not sort by n")
	}
	if later := jobs.DerivedID(ts.Add(time.Millisecond), 0); later <= ids[len(ids)-1] {
		t.Errorf("a later millisecond sorts first: %s <= %s", later, ids[len(ids)-1])
	}
	if jobs.DerivedID(ts, 1)[:10] != jobs.NewID(ts)[:10] {
		t.Error("DerivedID and NewID encode the same time differently")
	}
}
