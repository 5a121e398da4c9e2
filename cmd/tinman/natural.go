package main

import "strings"

// naturalCompare orders ids as a person reads them: runs of digits by their
// value, the rest byte by byte, so that sim-2 comes before sim-10. Equal
// values with different leading zeros (1, 01) order the shorter first, and
// strings that still tie compare as plain strings: the order is total.
func naturalCompare(a, b string) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if isDigit(a[i]) && isDigit(b[j]) {
			ra, rb := digitRun(a[i:]), digitRun(b[j:])
			if c := compareNumbers(ra, rb); c != 0 {
				return c
			}
			i, j = i+len(ra), j+len(rb)
			continue
		}
		if a[i] != b[j] {
			return int(a[i]) - int(b[j])
		}
		i, j = i+1, j+1
	}
	if c := (len(a) - i) - (len(b) - j); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// compareNumbers compares two runs of digits by value, then the shorter
// (fewer leading zeros) first.
func compareNumbers(a, b string) int {
	ta, tb := strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(ta) != len(tb) {
		return len(ta) - len(tb)
	}
	if c := strings.Compare(ta, tb); c != 0 {
		return c
	}
	return len(a) - len(b)
}

func digitRun(s string) string {
	n := 0
	for n < len(s) && isDigit(s[n]) {
		n++
	}
	return s[:n]
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
