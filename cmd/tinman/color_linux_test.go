package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal and returns its terminal end: a real
// terminal for isatty, with no process behind it.
func openPTY(t *testing.T) *os.File {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("name the pseudo-terminal: %v", err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open the pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return tty
}

// Colour on a terminal only, and never with --no-color or NO_COLOR: on
// every command of the tree. Not parallel: it sets NO_COLOR.
func TestColourOnlyOnATerminal(t *testing.T) {
	tty := openPTY(t)
	tests := []struct {
		name    string
		out     io.Writer
		flags   []string
		noColor string
		want    bool
	}{
		{"a terminal", tty, nil, "", true},
		{"--no-color", tty, []string{"--no-color"}, "", false},
		{"NO_COLOR", tty, nil, "1", false},
		{"a pipe", &bytes.Buffer{}, nil, "", false},
	}
	for _, tt := range tests {
		t.Setenv("NO_COLOR", tt.noColor)
		for _, cmd := range commandTree(newRoot(nil, tt.out, tt.out)) {
			if err := cmd.ParseFlags(tt.flags); err != nil {
				t.Fatalf("%s %v: %v", cmd.CommandPath(), tt.flags, err)
			}
			if got := useColor(cmd, cmd.OutOrStdout()); got != tt.want {
				t.Errorf("%s: %s colours %v, want %v", tt.name, cmd.CommandPath(), got, tt.want)
			}
		}
	}
}
