package main

import (
	"slices"
	"testing"
)

func TestNaturalCompare(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int // the sign
	}{
		{"sim-2", "sim-10", -1},
		{"sim-10", "sim-2", 1},
		{"sim-02", "sim-10", -1},
		{"sim-1", "sim-01", -1}, // same value: fewer leading zeros first
		{"sim-007", "sim-7", 1},
		{"sim-0", "sim-00", -1},
		{"a", "a", 0},
		{"", "a", -1},
		{"rack2-node10", "rack2-node9", 1},
		{"rack10-node1", "rack9-node2", 1},
		{"srv", "srv-1", -1},
		{"web-1", "db-1", 1},
		{"x9y", "x9z", -1},
		{"1a", "a1", -1}, // '1' < 'a' as bytes
		{"node-18446744073709551616", "node-18446744073709551615", 1}, // past uint64
		{"v1.10.2", "v1.9.12", 1},
	}
	for _, tt := range tests {
		if got := sign(naturalCompare(tt.a, tt.b)); got != tt.want {
			t.Errorf("naturalCompare(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestNaturalSortOfAFleet(t *testing.T) {
	t.Parallel()
	ids := []string{"sim-10", "sim-1", "sim-02", "web-1", "sim-2", "sim-01", "sim-100"}
	slices.SortFunc(ids, naturalCompare)
	want := []string{"sim-1", "sim-01", "sim-2", "sim-02", "sim-10", "sim-100", "web-1"}
	if !slices.Equal(ids, want) {
		t.Errorf("sorted %v, want %v", ids, want)
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
