package hostiletest

import (
	"maps"
	"slices"
	"testing"
)

// edges are the packages whose hostile suites walk a catalogue.
var edges = []string{"api", "dispatch", "callback", "webhook"}

// TestCensus: the catalogues hold at least 150 cases in all, every class
// has one, and each edge's catalogue loads. It logs the count per edge.
func TestCensus(t *testing.T) {
	t.Parallel()
	total, byClass := 0, map[Class]int{}
	for _, pkg := range edges {
		for _, cat := range Load(t, "../"+pkg+"/testdata/hostile") {
			total += len(cat.Cases)
			t.Logf("%s: %d %s cases", pkg, len(cat.Cases), cat.Edge)
			for _, c := range cat.Cases {
				byClass[c.Class]++
			}
		}
	}
	if total < 150 {
		t.Errorf("%d hostile cases in all, want at least 150", total)
	}
	for _, class := range slices.Sorted(maps.Keys(Classes)) {
		if byClass[class] == 0 {
			t.Errorf("no case of class %s (%s)", class, Classes[class])
		}
	}
	t.Logf("%d cases in all", total)
}
