package qemu_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/bmc/qemu"
	"github.com/tinmanhq/tinman/servicetest"
)

// Bounds on a virtual machine's life under TCG on a loaded 2-core
// machine. Whole provisions through Tinman's boot service are tested in
// cmd/tinman (vm_e2e_test.go), where the real pieces are wired.
const (
	firmwareWait   = time.Minute // power-on to a firmware message
	callTimeout    = time.Minute // one BMC call
	diskSize       = 64 << 20
	consolePoll    = 100 * time.Millisecond
	consoleTailLen = 3000
)

// needQEMU skips the test without QEMU and the iPXE ROM of its e1000 (fails
// it under CI=true) and returns the QEMU program.
func needQEMU(t *testing.T) string {
	t.Helper()
	bin := servicetest.NeedTool(t, qemu.Binary, qemu.Install)
	needFile(t, qemu.Install, "/usr/lib/ipxe/qemu/efi-e1000.rom", "/usr/share/qemu/efi-e1000.rom")
	return bin
}

// needFile skips the test (fails it in CI) unless one of paths exists.
func needFile(t *testing.T, install string, paths ...string) string {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	servicetest.Unavailable(t, "none of %v exists (%s)", paths, install)
	return ""
}

// newMachine makes a virtual machine in a test folder, closed when the test
// ends; bootFile is the DHCP boot file ("" for none). On failure the test
// shows the machine's console.
func newMachine(t *testing.T, bootFile string) *qemu.Machine {
	t.Helper()
	m, err := qemu.New(qemu.Config{Name: "vm-" + strings.ToLower(rand.Text()[:6]), Dir: t.TempDir(),
		Binary: needQEMU(t), BootFile: bootFile, DiskSize: diskSize, MemoryMiB: 256})
	if err != nil {
		t.Fatalf("qemu.New: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if t.Failed() {
			t.Logf("console of %s (end):\n%s", m.Name(), tail(readFile(m.ConsolePath()), consoleTailLen))
		}
	})
	return m
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// console reads a machine's console log from a mark on.
type console struct {
	path string
	mark int
}

// consoleFrom marks the console's end: later waits look at what follows.
func consoleFrom(m *qemu.Machine) console {
	return console{path: m.ConsolePath(), mark: len(readFile(m.ConsolePath()))}
}

// wait returns when text shows on the console after the mark, failing the
// test after timeout.
func (c console) wait(t *testing.T, text string, timeout time.Duration) time.Time {
	t.Helper()
	at, ok := c.await(text, timeout)
	if !ok {
		t.Fatalf("%q not on the console within %s", text, timeout)
	}
	return at
}

// await reports when text shows on the console after the mark, or false
// after timeout.
func (c console) await(text string, timeout time.Duration) (time.Time, bool) {
	deadline := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(c.path)
		if len(b) > c.mark && bytes.Contains(b[c.mark:], []byte(text)) {
			return time.Now(), true
		}
		if time.Now().After(deadline) {
			return time.Time{}, false
		}
		time.Sleep(consolePoll)
	}
}

// callCtx bounds one BMC call.
func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	t.Cleanup(cancel)
	return ctx
}
