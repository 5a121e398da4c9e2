package jobs_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tinmanhq/tinman/jobs"
)

func TestCompareIDs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"sim-2", "sim-10", -1},
		{"sim-10", "sim-2", 1},
		{"sim-10", "sim-10", 0},
		{"sim-02", "sim-2", -1}, // equal as numbers: byte order decides
		{"sim-2", "sim-02", 1},
		{"rack1-srv9", "rack1-srv10", -1},
		{"rack2-srv1", "rack10-srv1", -1},
		{"sim-9", "sim-9a", -1},
		{"sim-a", "sim-1", 1}, // '1' < 'a' as bytes
		{"sim", "sim-1", -1},
		{"sim-99999999999999999999999", "sim-100000000000000000000000", -1}, // longer than any integer
	}
	for _, tt := range tests {
		if got := jobs.CompareIDs(tt.a, tt.b); got != tt.want {
			t.Errorf("CompareIDs(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// Sorted with CompareIDs, ids come out in the order people count them.
func TestCompareIDsSorts(t *testing.T) {
	t.Parallel()
	ids := []string{"sim-10", "sim-1", "vm-01", "sim-100", "sim-02", "sim-2", "sim-9", "db-3"}
	slices.SortFunc(ids, jobs.CompareIDs)
	want := []string{"db-3", "sim-1", "sim-02", "sim-2", "sim-9", "sim-10", "sim-100", "vm-01"}
	if !slices.Equal(ids, want) {
		t.Errorf("sorted %q, want %q", ids, want)
	}
}

// Sorting a fleet's 10,000 ids, shuffled, naturally and by bytes.
func BenchmarkSortIDs(b *testing.B) {
	ids := make([]string, 10000)
	for i := range ids {
		ids[i] = fmt.Sprintf("sim-%d", (i*7919)%10000+1)
	}
	for _, bb := range []struct {
		name string
		cmp  func(a, b string) int
	}{{"natural", jobs.CompareIDs}, {"bytes", strings.Compare}} {
		b.Run(bb.name, func(b *testing.B) {
			for b.Loop() {
				slices.SortFunc(slices.Clone(ids), bb.cmp)
			}
		})
	}
}
