// Package qemu runs an x86_64 QEMU virtual machine (TCG: no KVM needed) as
// the host behind a simulated BMC: bmcsim's Redfish BMCs drive a Machine
// through bmcsim.Host, and package ipmisim's chassis script starts the same
// command line for ipmi_sim.
//
// A Machine lives in a folder of its own (Config.Dir):
//
//	disk.raw     its disk (virtio-blk, raw, sparse; kept across power cycles)
//	console.log  its serial console, appended across boots: SeaBIOS (through
//	             its serial console), iPXE, the kernel and whatever runs
//	qemu.log     QEMU's own output
//	qmp.sock     QEMU's QMP socket while it runs
//	media.iso    the virtual CD, once an image is inserted
//
// Its NIC is an e1000 on QEMU's user network with Config.MAC; the network's
// DHCP hands out Config.BootFile, which iPXE (Debian's ipxe-qemu ROM) chains
// to. The guest reaches the host's loopback as 10.0.2.2. Each power-on
// starts a new QEMU process with the boot order of its boot target:
//
//	BootPxe  network, then disk (so an iPXE "exit" boots the disk)
//	BootHdd  disk only
//	BootCd   CD, then disk
//	""       disk, then network (the default order of a server's firmware)
//
// Powering off stops the process (SIGTERM, then SIGKILL to its process
// group): the power is cut, as a BMC's ForceOff does. A restart is a power
// off and on with the new boot target. A guest that powers itself off ends
// its process, and the machine reads off. QEMU dies with the process that
// started it (Linux: parent-death signal), and Close stops it.
package qemu

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/internal/confcheck"
)

// Binary is the QEMU program a Machine runs, looked up on PATH.
const Binary = "qemu-system-x86_64"

// Install says how to get what a Machine needs on Debian.
const Install = "apt-get install qemu-system-x86 ipxe-qemu"

// ErrNoQEMU says qemu-system-x86_64 is not installed.
var ErrNoQEMU = errors.New(Binary + " not found (" + Install + ")")

// Boot targets, named as Redfish's BootSourceOverrideTarget names them.
const (
	BootPxe = "Pxe"
	BootHdd = "Hdd"
	BootCd  = "Cd"
)

// Bounds on starting and stopping QEMU.
const (
	startTimeout = 15 * time.Second // until QMP answers
	termTimeout  = 5 * time.Second  // after SIGTERM, before SIGKILL
	killTimeout  = 3 * time.Second  // after SIGKILL
)

// Config describes one virtual machine.
type Config struct {
	// Name names the machine in QEMU's process list and in logs.
	Name string
	// Dir is the machine's folder (created if missing). Its path must not
	// hold a comma, which QEMU's options cannot carry.
	Dir string
	// Binary is qemu-system-x86_64's path (default: found on PATH).
	Binary string
	// MAC is the NIC's address, e.g. "52:54:00:a0:33:c4". Empty: the one
	// kept in the folder's "mac" file, or a new random one kept there, so a
	// machine keeps its address across runs as hardware does.
	MAC string
	// BootFile is what the user network's DHCP hands out as the boot file:
	// the boot service's chain script, "http://10.0.2.2:<port>/boot/chain.ipxe".
	// Empty: none, and a network boot finds nothing to boot.
	BootFile string
	// DiskSize is the size of disk.raw when it is made (0: 1 GiB; sparse);
	// an existing disk is kept as it is.
	DiskSize int64
	// MemoryMiB is the guest's memory (0: 384).
	MemoryMiB int
	// Logger receives power and media changes.
	Logger zerolog.Logger
}

// Machine is one virtual machine. Its methods are safe for concurrent use;
// power and media changes run one at a time.
type Machine struct {
	cfg Config
	log zerolog.Logger

	mu    sync.Mutex // serialises power and media changes
	media string     // the virtual CD's file, "" when empty

	proc   atomic.Pointer[process] // the QEMU last started, nil before
	closed atomic.Bool
}

// process is one run of QEMU.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once reaped
	err    error         // set before exited is closed
}

func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// New checks cfg, finds QEMU, makes the folder and the disk, and returns the
// machine, powered off.
func New(cfg Config) (*Machine, error) {
	cfg, err := withDefaults(cfg)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("qemu: make %s: %w", cfg.Dir, err)
	}
	m := &Machine{cfg: cfg, log: cfg.Logger.With().Str("component", "qemu").Str("vm", cfg.Name).Logger()}
	if err := m.keepMAC(); err != nil {
		return nil, err
	}
	if err := m.makeDisk(); err != nil {
		return nil, err
	}
	return m, nil
}

// keepMAC gives the machine the address kept in its folder, or a new one
// kept there, unless Config.MAC chose it.
func (m *Machine) keepMAC() error {
	if m.cfg.MAC != "" {
		return nil
	}
	path := filepath.Join(m.cfg.Dir, "mac")
	if b, err := os.ReadFile(path); err == nil {
		mac, err := net.ParseMAC(strings.TrimSpace(string(b)))
		if err != nil {
			return fmt.Errorf("qemu: %s: %w", path, err)
		}
		m.cfg.MAC = mac.String()
		return nil
	}
	// QEMU's prefix 52:54:00, a locally administered address.
	var r [3]byte
	_, _ = rand.Read(r[:]) // never fails (crypto/rand)
	m.cfg.MAC = net.HardwareAddr{0x52, 0x54, 0x00, r[0], r[1], r[2]}.String()
	if err := os.WriteFile(path, []byte(m.cfg.MAC+"\n"), 0o644); err != nil {
		return fmt.Errorf("qemu: keep the MAC: %w", err)
	}
	return nil
}

// withDefaults refuses what cannot work, naming the field
// (internal/confcheck), and fills cfg's defaults.
func withDefaults(cfg Config) (Config, error) {
	v := confcheck.For("qemu.Config")
	v.Require(cfg.Dir != "", "Dir", `""`, "must be set")
	const comma = "must not hold a comma: QEMU's options cannot carry one"
	v.Require(!strings.Contains(cfg.Dir, ","), "Dir", cfg.Dir, comma)
	v.Require(!strings.Contains(cfg.BootFile, ","), "BootFile", cfg.BootFile, comma)
	_, macErr := net.ParseMAC(cfg.MAC)
	v.Require(cfg.MAC == "" || macErr == nil, "MAC", cfg.MAC, "must be a MAC address such as 52:54:00:a0:33:c4")
	confcheck.NotNegative(v, "DiskSize", cfg.DiskSize)
	confcheck.NotNegative(v, "MemoryMiB", cfg.MemoryMiB)
	if err := v.Err(); err != nil {
		return cfg, fmt.Errorf("qemu machine: %w", err)
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return cfg, fmt.Errorf("qemu: Config.Dir %q: %w", cfg.Dir, err)
	}
	cfg.Dir = dir
	if cfg.Binary == "" {
		if cfg.Binary, err = exec.LookPath(Binary); err != nil {
			return cfg, ErrNoQEMU
		}
	}
	if cfg.Name == "" {
		cfg.Name = filepath.Base(dir)
	}
	if cfg.DiskSize == 0 {
		cfg.DiskSize = 1 << 30
	}
	if cfg.MemoryMiB == 0 {
		cfg.MemoryMiB = 384
	}
	return cfg, nil
}

func (m *Machine) makeDisk() error {
	f, err := os.OpenFile(m.DiskPath(), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("qemu: make disk: %w", err)
	}
	err = f.Truncate(m.cfg.DiskSize)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("qemu: size disk: %w", err)
	}
	return nil
}

// Name returns the machine's name.
func (m *Machine) Name() string { return m.cfg.Name }

// MAC returns the address of the machine's NIC, e.g. "52:54:00:a0:33:c4".
func (m *Machine) MAC() string { return m.cfg.MAC }

// Dir returns the machine's folder.
func (m *Machine) Dir() string { return m.cfg.Dir }

// DiskPath returns the path of the machine's disk (raw).
func (m *Machine) DiskPath() string { return filepath.Join(m.cfg.Dir, "disk.raw") }

// ConsolePath returns the path of the serial console's log.
func (m *Machine) ConsolePath() string { return filepath.Join(m.cfg.Dir, "console.log") }

// QMPPath returns the path of QEMU's QMP socket (present while it runs).
func (m *Machine) QMPPath() string { return filepath.Join(m.cfg.Dir, "qmp.sock") }

func (m *Machine) logPath() string { return filepath.Join(m.cfg.Dir, "qemu.log") }

// Powered reports whether QEMU runs. It never waits.
func (m *Machine) Powered() bool {
	p := m.proc.Load()
	return p != nil && p.running()
}

// PowerOn starts the machine booting from boot (BootPxe, BootHdd, BootCd or
// "" for the default order; other targets take the default order too). It
// does nothing if the machine runs already. It returns once QEMU answers on
// QMP, or fails with what QEMU said.
func (m *Machine) PowerOn(ctx context.Context, boot string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Powered() {
		return nil
	}
	return m.start(ctx, boot)
}

// PowerOff cuts the power: QEMU is stopped. It does nothing if it is off.
func (m *Machine) PowerOff(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stop(ctx)
}

// Restart powers the machine off, if it runs, and on again booting from boot.
func (m *Machine) Restart(ctx context.Context, boot string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.stop(ctx); err != nil {
		return err
	}
	return m.start(ctx, boot)
}

// Close powers the machine off for good. It is idempotent.
func (m *Machine) Close() error {
	m.closed.Store(true)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stop(context.Background())
}

// ErrClosed says the machine was closed.
var ErrClosed = errors.New("qemu: machine closed")

// start runs QEMU and waits for its QMP socket. Caller holds m.mu.
func (m *Machine) start(ctx context.Context, boot string) error {
	if m.closed.Load() {
		return ErrClosed
	}
	_ = os.Remove(m.QMPPath())
	logFile, err := os.OpenFile(m.logPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("qemu: open qemu.log: %w", err)
	}
	defer logFile.Close() // QEMU holds its own descriptor
	cmd := exec.Command(m.cfg.Binary, m.args(boot, m.media)...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = m.cfg.Dir, logFile, logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("qemu: start %s: %w", m.cfg.Name, err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() { // ends when QEMU exits: stop and Close make sure it does
		p.err = cmd.Wait()
		close(p.exited)
	}()
	m.proc.Store(p)
	if err := m.awaitQMP(ctx, p); err != nil {
		_ = m.stop(context.WithoutCancel(ctx))
		return fmt.Errorf("qemu: start %s: %w; qemu.log: %s", m.cfg.Name, err, m.logTail())
	}
	m.log.Info().Str("boot", bootName(boot)).Int("pid", cmd.Process.Pid).Msg("powered on")
	return nil
}

// awaitQMP waits until QEMU accepts a connection on its QMP socket.
func (m *Machine) awaitQMP(ctx context.Context, p *process) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "unix", m.QMPPath())
		if err == nil {
			return c.Close()
		}
		select {
		case <-p.exited:
			return fmt.Errorf("QEMU exited: %v", p.err)
		case <-ctx.Done():
			return fmt.Errorf("no QMP socket: %w", context.Cause(ctx))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop ends the running QEMU, if any: SIGTERM, then SIGKILL to its process
// group. Caller holds m.mu.
func (m *Machine) stop(ctx context.Context) error {
	p := m.proc.Load()
	if p == nil || !p.running() {
		return nil
	}
	pid := p.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	if waitExit(ctx, p, termTimeout) {
		m.log.Info().Msg("powered off")
		return nil
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	if waitExit(context.WithoutCancel(ctx), p, killTimeout) {
		m.log.Info().Msg("powered off (killed)")
		return nil
	}
	return fmt.Errorf("qemu: %s (pid %d) still runs %s after SIGKILL", m.cfg.Name, pid, killTimeout)
}

// waitExit reports whether p exited within d (or before ctx ended).
func waitExit(ctx context.Context, p *process, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.exited:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return !p.running()
}

// logTail returns the end of qemu.log, for errors.
func (m *Machine) logTail() string {
	b, err := os.ReadFile(m.logPath())
	if err != nil {
		return fmt.Sprintf("(unreadable: %v)", err)
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

func bootName(boot string) string {
	if boot == "" {
		return "default"
	}
	return boot
}
