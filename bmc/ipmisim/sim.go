// Package ipmisim runs real IPMI 2.0 (lanplus) BMCs for tests: OpenIPMI's
// ipmi_sim processes on 127.0.0.1 UDP ports, each driving a simulated chassis
// whose power and boot device are files a test can read behind the client's
// back. Only tests use it.
//
// Each simulator gets a state folder of its own under t.TempDir(), holding the
// emulator command file (bmc.emu), the LAN configuration (lan.conf), the
// chassis-control script, the chassis state (power, boot), the chassis event
// log (events.log) and ipmi_sim's own output (sim.log). Every file is embedded
// in the package: nothing outside the repository is read at run time.
//
// The simulators accept user admin / password (admin privilege) with cipher
// suite 3 only: ipmitool needs -C 3, bmclib bmclib.WithIpmitoolCipherSuite("3").
// ipmi_sim implements power on, off, soft, cycle (off, then on about a second
// later) and reset, boot device overrides and a cold BMC reset; it answers a
// warm BMC reset with "Invalid command".
//
// StartVM gives a simulator a QEMU virtual machine (package qemu) as its
// chassis instead of files: the chassis script's host.sh (vmhost.sh) starts
// QEMU on power on, booting from the device last set over IPMI, and stops it
// on power off; the state folder then also holds host.sh, vm.env, one
// qemu-<boot>.args per boot device, qemu.pid and qemu.log.
package ipmisim

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/servicetest"
)

// The credentials every simulator accepts, at admin privilege.
const (
	Username = "admin"
	Password = "password"
)

// CipherSuite is the only IPMI cipher suite ipmi_sim negotiates here.
const CipherSuite = 3

// Bounds on starting and stopping one simulator.
const (
	startAttempts = 3                // fresh ports tried when a port is taken
	bindTimeout   = 10 * time.Second // until ipmi_sim has bound its port
	probeTimeout  = 10 * time.Second // until the BMC answers ipmitool
	termTimeout   = 5 * time.Second  // after SIGTERM, before SIGKILL
	killTimeout   = 2 * time.Second  // after SIGKILL
)

// Sim is one running ipmi_sim process. Its methods are safe for concurrent use.
type Sim struct {
	name     string
	dir      string
	port     int
	ipmitool string

	vm       bool // the chassis is a QEMU virtual machine (StartVM)
	cmd      *exec.Cmd
	exited   chan struct{} // closed when the process has been reaped
	waitErr  error         // set before exited is closed
	stopOnce sync.Once
}

// Start starts n simulators, each on its own free 127.0.0.1 UDP port, and
// returns once every one of them answers ipmitool. They are stopped when the
// test ends. Without ipmi_sim or ipmitool on PATH the test is skipped, or
// fails under CI=true.
func Start(t testing.TB, n int) []*Sim {
	t.Helper()
	tools := RequireTools(t)
	sims := make([]*Sim, 0, n)
	for i := range n {
		sims = append(sims, tools.start(t, fmt.Sprintf("bmc%02d", i+1), fileChassis))
	}
	return sims
}

// Tools are the paths of the programs a simulator needs.
type Tools struct {
	IpmiSim  string
	Ipmitool string
}

// RequireTools finds ipmi_sim and ipmitool, or skips the test (fails it under
// CI=true) when one is missing.
func RequireTools(t testing.TB) Tools {
	t.Helper()
	return Tools{
		IpmiSim:  servicetest.NeedTool(t, "ipmi_sim", "apt-get install openipmi"),
		Ipmitool: servicetest.NeedTool(t, "ipmitool", "apt-get install ipmitool"),
	}
}

// Addr returns the simulator's address, "127.0.0.1:PORT".
func (s *Sim) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Port returns the simulator's UDP port.
func (s *Sim) Port() int { return s.port }

// Dir returns the simulator's state folder.
func (s *Sim) Dir() string { return s.dir }

// Credentials returns the username and password the simulator accepts.
func (s *Sim) Credentials() (user, pass string) { return Username, Password }

// String identifies the simulator in test failures.
func (s *Sim) String() string { return fmt.Sprintf("ipmisim(%s %s)", s.name, s.Addr()) }

// Power reports whether the simulated chassis is powered on, as the chassis
// state file says, or for a virtual machine (StartVM) whether its QEMU runs.
// A new simulator is off.
func (s *Sim) Power() (on bool) {
	if s.vm {
		return s.qemuPID() > 0
	}
	return s.readState("power", "0") == "1"
}

// SetPower sets the chassis power behind the BMC's back, for test setup. It
// is not an IPMI command and does not appear in Events. A virtual machine's
// power is its QEMU process: SetPower does not start or stop it.
func (s *Sim) SetPower(on bool) error {
	v := "0"
	if on {
		v = "1"
	}
	if err := os.WriteFile(filepath.Join(s.dir, "power"), []byte(v+"\n"), 0o644); err != nil {
		return fmt.Errorf("ipmisim: set power: %w", err)
	}
	return nil
}

// Boot returns the chassis boot device override as ipmi_sim set it: "none",
// "pxe", "default" (the hard disk), "cdrom" or "bios". A new simulator says
// "default".
func (s *Sim) Boot() string { return s.readState("boot", "default") }

func (s *Sim) readState(file, def string) string {
	b, err := os.ReadFile(filepath.Join(s.dir, file))
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return def
	}
	return string(bytes.TrimSpace(b))
}

// Event is one chassis command ipmi_sim carried out, as the chassis script
// logged it.
type Event struct {
	// Time is when the chassis script ran.
	Time time.Time
	// Command is the parameter and its value: "power 1", "power 0",
	// "reset 1", "shutdown 1", "boot pxe", "identify 15 0".
	Command string
}

// String formats the event as the chassis script logged it.
func (e Event) String() string {
	return fmt.Sprintf("%d.%09d %s", e.Time.Unix(), e.Time.Nanosecond(), e.Command)
}

// Events returns the chassis commands carried out so far, oldest first.
// Power reads are not logged.
func (s *Sim) Events() []Event {
	b, err := os.ReadFile(filepath.Join(s.dir, "events.log"))
	if err != nil {
		return nil
	}
	var events []Event
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if e, ok := parseEvent(sc.Text()); ok {
			events = append(events, e)
		}
	}
	return events
}

// parseEvent reads one "<seconds>.<nanoseconds> <command>" line.
func parseEvent(line string) (Event, bool) {
	stamp, command, ok := strings.Cut(strings.TrimSpace(line), " ")
	if !ok {
		return Event{}, false
	}
	secs, nanos, _ := strings.Cut(stamp, ".")
	sec, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return Event{}, false
	}
	nsec, _ := strconv.ParseInt((nanos + "000000000")[:9], 10, 64)
	return Event{Time: time.Unix(sec, nsec), Command: command}, true
}

// Log returns ipmi_sim's own output, for test failure messages.
func (s *Sim) Log() string {
	b, err := os.ReadFile(filepath.Join(s.dir, "sim.log"))
	if err != nil {
		return fmt.Sprintf("(no sim.log: %v)", err)
	}
	return string(b)
}

// Stop terminates the simulator: SIGTERM, then SIGKILL if it has not exited
// within a few seconds; a virtual machine's QEMU the same way after it. It returns once the process is gone, or gives up
// after the bounded waits. Stop is idempotent and runs at test cleanup.
func (s *Sim) Stop() {
	s.stopOnce.Do(func() {
		if s.vm {
			defer s.stopQEMU()
		}
		if s.signal(syscall.SIGTERM) && s.waitExit(termTimeout) {
			return
		}
		if s.signal(syscall.SIGKILL) {
			s.waitExit(killTimeout)
		}
	})
}

// signal sends sig to the simulator unless it has already been reaped.
func (s *Sim) signal(sig syscall.Signal) bool {
	select {
	case <-s.exited:
		return false
	default:
	}
	return s.cmd.Process.Signal(sig) == nil
}

// waitExit reports whether the process exited within d.
func (s *Sim) waitExit(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-s.exited:
		return true
	case <-timer.C:
		return false
	}
}
