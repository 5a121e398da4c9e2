package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mattn/go-isatty"
	"github.com/spf13/cobra"
)

// table writes rows in aligned columns. With colour, the cells of a
// coloured column all carry escapes of the same length, so that the
// escapes do not disturb the alignment.
type table struct {
	tw    *tabwriter.Writer
	color bool
}

// newTable starts a table on w; its first row is the header, in which the
// header of a coloured column is written t.head(NAME).
func newTable(w io.Writer, color bool) *table {
	return &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0), color: color}
}

// row adds a row; an empty cell shows as "-".
func (t *table) row(cells ...string) {
	for i, c := range cells {
		if c == "" {
			c = "-"
		}
		cells[i] = printable(strings.NewReplacer("\t", " ", "\n", " ").Replace(c))
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

// flush writes the table out.
func (t *table) flush() error { return t.tw.Flush() }

// paint colours a cell by its state word, when the table has colour. Every
// colour (default included) is an escape of the same length.
func (t *table) paint(state string) string {
	if state == "" {
		state = "-"
	}
	if !t.color {
		return state
	}
	return stateColor(state) + state + colorReset
}

// head is the header of a column whose cells are painted: it carries an
// escape as long as theirs.
func (t *table) head(name string) string {
	if !t.color {
		return name
	}
	return colorDefault + name + colorReset
}

// colorDefault is the terminal's own colour, as long an escape as the others.
const colorDefault = "\x1b[39m"

// stateColor is the colour of a job, server or power state.
func stateColor(state string) string {
	switch state {
	case "succeeded", "active", "available", "on":
		return colorGreen
	case "failed", "error", "rejected":
		return colorRed
	case "retrying", "canceled", "unknown", "inspecting", "provisioning", "deprovisioning":
		return colorYellow
	case "running", "queued", "submitted", "enrolled":
		return colorCyan
	}
	return colorDefault
}

// useColor is the one decision of colour, for tables, events and log
// lines alike: w is a terminal, --no-color is not given and NO_COLOR is
// unset or empty (https://no-color.org).
func useColor(cmd *cobra.Command, w io.Writer) bool {
	if off, _ := cmd.Flags().GetBool("no-color"); off || os.Getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// formatLabels writes labels as k=v,k2=v2, sorted by key, as a selector takes them.
func formatLabels(labels map[string]string) string {
	parts := make([]string, 0, len(labels))
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ",")
}

// age says how long ago t was, as "15s ago", "3m ago", "2h ago", "4d ago".
func age(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd ago", int(d/(24*time.Hour)))
}

// timestamp writes t in local time with its age: "2026-11-27 10:00:00 (3m ago)".
func timestamp(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2006-01-02 15:04:05") + " (" + age(t, now) + ")"
}

// truncate cuts s to n runes, marking the cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// details writes "Key:  value" lines aligned, skipping empty values.
type details struct {
	tw *tabwriter.Writer
}

func newDetails(w io.Writer) *details {
	return &details{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
}

// add writes one line, unless value is empty.
func (d *details) add(key, value string) {
	if value == "" {
		return
	}
	fmt.Fprintf(d.tw, "%s:\t%s\n", key, printable(strings.ReplaceAll(value, "\t", " ")))
}

func (d *details) flush() error { return d.tw.Flush() }

// sgr is a colour sequence, the one escape printed text may keep.
var sgr = regexp.MustCompile(`^\x1b\[[0-9;]*m`)

// printable escapes the control characters of text that came from a request
// (requested_by, reasons, labels, messages) so that it cannot move the
// cursor, retitle the terminal or hide a line: "\x1b]0;pwned\a" prints as
// \x1b]0;pwned\a. Colour sequences (ours) stay.
func printable(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if m := sgr.FindString(s[i:]); m != "" {
			b.WriteString(m)
			i += len(m)
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
