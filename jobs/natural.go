package jobs

import (
	"cmp"
	"strings"
)

// CompareIDs orders ids naturally: runs of digits compare as numbers, so
// sim-2 comes before sim-10. Ids that are equal that way (sim-02, sim-2)
// fall back to byte order, so the order is total and a sorted list pages
// the same way every time.
func CompareIDs(a, b string) int {
	// The common prefix, cut back to the start of a run of digits it ends
	// in, is equal either way: compare from there.
	k := 0
	for k < len(a) && k < len(b) && a[k] == b[k] {
		k++
	}
	for k > 0 && isDigit(a[k-1]) {
		k--
	}
	if c := compareNatural(a[k:], b[k:]); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// compareNatural compares a and b token by token: runs of digits by value,
// other bytes as bytes; 0 when they are equal that way.
func compareNatural(a, b string) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if isDigit(a[i]) && isDigit(b[j]) {
			ei, ej := digitsEnd(a, i), digitsEnd(b, j)
			if c := compareNumbers(a[i:ei], b[j:ej]); c != 0 {
				return c
			}
			i, j = ei, ej
			continue
		}
		if a[i] != b[j] {
			return cmp.Compare(a[i], b[j])
		}
		i, j = i+1, j+1
	}
	return cmp.Compare(len(a)-i, len(b)-j)
}

// compareNumbers compares two runs of digits by value, of any length.
func compareNumbers(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// digitsEnd is the index after the run of digits that starts at i.
func digitsEnd(s string, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}
