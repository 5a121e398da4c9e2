package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// unknownValue is the usage error of a value that is none of options:
// `unknown job type "provison": did you mean "provision"?`, or the list of
// options when none is close.
func unknownValue(what, value string, options []string) error {
	if best := closest(value, options); best != "" {
		return usageErr("unknown %s %q: did you mean %q?", what, value, best)
	}
	return usageErr("unknown %s %q: must be one of %s", what, value, strings.Join(options, ", "))
}

// checkValue accepts value when it is one of options, else is unknownValue.
func checkValue(what, value string, options []string) error {
	for _, o := range options {
		if o == value {
			return nil
		}
	}
	return unknownValue(what, value, options)
}

// closest is the option nearest value: one that starts with it, or the one
// fewest edits away when that is at most a third of its length (at least
// 1, at most 3); "" when none is that close.
func closest(value string, options []string) string {
	best, bestDist := "", min(max(len(value)/3, 1), 3)+1
	for _, o := range options {
		if value != "" && strings.HasPrefix(o, value) {
			return o
		}
		if d := editDistance(value, o); d < bestDist {
			best, bestDist = o, d
		}
	}
	return best
}

// editDistance is the number of edits from a to b, by bytes: insertions,
// deletions, substitutions and swaps of two neighbours (the optimal string
// alignment distance: "cycel" is one edit from "cycle").
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// unknownCommand is the usage error of a command that has no subcommand
// name, with cobra's suggestions: `unknown command "lsit" for "tinman
// servers": did you mean "list"?`.
func unknownCommand(cmd *cobra.Command, name string) error {
	where := fmt.Sprintf("unknown command %q for %q", name, cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, which SuggestionsFor does not set
	}
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		return usageErr("%s: did you mean %q?", where, s[0])
	}
	return usageErr("%s (see %s --help)", where, cmd.CommandPath())
}

// enumNames turns a list of named strings into strings.
func enumNames[T ~string](values []T) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}
