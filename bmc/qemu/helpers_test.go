package qemu_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/bmc/qemu"
	"github.com/tinmanhq/tinman/servicetest"
)

// Bounds on the phases of a virtual machine's life under TCG on a loaded
// 2-core machine (measured: about 15 s from power-on to a running init).
const (
	bootTimeout    = 3 * time.Minute // power-on to a report from what booted
	firmwareWait   = time.Minute     // power-on to a firmware message
	callTimeout    = time.Minute     // one BMC call
	diskSize       = 64 << 20
	consolePoll    = 100 * time.Millisecond
	consoleTailLen = 3000
)

// buildDir holds the installer, built once per test binary (TestMain removes it).
var build struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if build.dir != "" {
		_ = os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

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

// installer returns the folder scripts/build-installer.sh built (kernel,
// initrd, disk.img, disk.img.sha256), building it on first use.
func installer(t *testing.T) string {
	t.Helper()
	const install = "apt-get install busybox-static linux-image-amd64 syslinux syslinux-common mtools"
	servicetest.NeedTool(t, "syslinux", install)
	servicetest.NeedTool(t, "mcopy", install)
	needFile(t, install, "/bin/busybox")
	if kernels, _ := filepath.Glob("/boot/vmlinuz-*"); len(kernels) == 0 {
		servicetest.Unavailable(t, "no kernel in /boot (%s)", install)
	}
	build.once.Do(func() {
		build.dir, build.err = os.MkdirTemp("", "tinman-installer-test-")
		if build.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "../../scripts/build-installer.sh", build.dir).CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("build-installer.sh: %w\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.dir
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

// phases times the phases of a virtual machine's life for the test log.
type phases struct {
	name        string
	start, last time.Time
	rows        []string
}

func newPhases(name string) *phases {
	now := time.Now()
	return &phases{name: name, start: now, last: now}
}

// mark records that what happened at at.
func (p *phases) mark(what string, at time.Time) {
	p.rows = append(p.rows, fmt.Sprintf("  %-44s %6.1fs  +%5.1fs", what, at.Sub(p.start).Seconds(), at.Sub(p.last).Seconds()))
	p.last = at
}

// log writes the phases to the test log.
func (p *phases) log(t *testing.T) {
	t.Helper()
	t.Logf("phases of %s (since the first power-on, +since the row before):\n%s", p.name, strings.Join(p.rows, "\n"))
}

// callCtx bounds one BMC call.
func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	t.Cleanup(cancel)
	return ctx
}
