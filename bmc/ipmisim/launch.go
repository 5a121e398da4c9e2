package ipmisim

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"
)

var (
	//go:embed bmc.emu
	emulatorCommands []byte
	//go:embed chassiscontrol.sh
	chassisScript []byte
	//go:embed lan.conf.tmpl
	lanConfText string

	lanConf = template.Must(template.New("lan.conf").Parse(lanConfText))
)

// lanConfig fills lan.conf.tmpl.
type lanConfig struct {
	Name, Dir, Chassis string
	Port               int
	GUID               string
	Username, Password string
}

// chassis is what a simulator's chassiscontrol.sh needs in the state folder
// besides itself: nothing for the chassis backed by files, a host.sh and
// its files for a virtual machine.
type chassis struct {
	setup func(dir string) error // nil: nothing more
	vm    bool                   // the host is a QEMU process the script starts
}

// fileChassis is the chassis backed by files.
var fileChassis = chassis{}

// start starts one simulator in a fresh state folder, trying a new port when
// the chosen one turns out to be taken.
func (tl Tools) start(t testing.TB, name string, ch chassis) *Sim {
	t.Helper()
	dir := t.TempDir()
	if strings.ContainsAny(dir, " \t\n\"'\\") {
		t.Fatalf("ipmisim: state folder %q holds characters ipmi_sim's config cannot quote", dir)
	}
	if err := writeStatic(dir, ch); err != nil {
		t.Fatalf("ipmisim: %v", err)
	}
	var errs []error
	for range startAttempts {
		s, err := tl.launch(dir, name, ch.vm)
		if err == nil {
			err = s.waitReady()
			if err == nil {
				t.Cleanup(s.Stop)
				return s
			}
			s.Stop()
			err = fmt.Errorf("%s: %w; sim.log:\n%s", s, err, s.Log())
		}
		errs = append(errs, err)
	}
	t.Fatalf("ipmisim: start %s: %v", name, errors.Join(errs...))
	return nil
}

// writeStatic writes the files that do not depend on the port.
func writeStatic(dir string, ch chassis) error {
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{"bmc.emu", emulatorCommands, 0o644},
		{"chassiscontrol.sh", chassisScript, 0o755},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return fmt.Errorf("write %s: %w", f.name, err)
		}
	}
	if ch.setup == nil {
		return nil
	}
	return ch.setup(dir)
}

// launch writes a lan.conf for a free port, resets the chassis and the
// persistent state, and starts ipmi_sim.
func (tl Tools) launch(dir, name string, vm bool) (*Sim, error) {
	port, err := freeUDPPort()
	if err != nil {
		return nil, err
	}
	if err := resetState(dir); err != nil {
		return nil, err
	}
	if err := writeLANConf(dir, name, port); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "sim.log"))
	if err != nil {
		return nil, fmt.Errorf("create sim.log: %w", err)
	}
	defer logFile.Close() // the child holds its own descriptor
	cmd := exec.Command(tl.IpmiSim, "-n", "-c", "lan.conf", "-f", "bmc.emu", "-s", "state")
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, logFile, logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start ipmi_sim: %w", err)
	}
	s := &Sim{name: name, dir: dir, port: port, ipmitool: tl.Ipmitool, cmd: cmd, exited: make(chan struct{}), vm: vm}
	go func() { // ends when the process exits: Stop makes sure it does
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	return s, nil
}

// resetState gives the simulator a fresh chassis (power off, boot default,
// no events) and fresh persistent state (SEL, users).
func resetState(dir string) error {
	for _, f := range []string{"state", "power", "boot", "events.log"} {
		if err := os.RemoveAll(filepath.Join(dir, f)); err != nil {
			return fmt.Errorf("reset %s: %w", f, err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "state"), 0o755); err != nil {
		return fmt.Errorf("create state folder: %w", err)
	}
	return nil
}

func writeLANConf(dir, name string, port int) error {
	var buf bytes.Buffer
	err := lanConf.Execute(&buf, lanConfig{
		Name: name, Dir: dir, Chassis: filepath.Join(dir, "chassiscontrol.sh"),
		Port: port, GUID: fmt.Sprintf("%028x%04x", time.Now().UnixNano()&(1<<62-1), port),
		Username: Username, Password: Password,
	})
	if err != nil {
		return fmt.Errorf("render lan.conf: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "lan.conf"), buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write lan.conf: %w", err)
	}
	return nil
}

// freeUDPPort asks the kernel for a free 127.0.0.1 UDP port. Another process
// may take it before ipmi_sim binds it: start then tries another.
func freeUDPPort() (int, error) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free UDP port: %w", err)
	}
	port := pc.LocalAddr().(*net.UDPAddr).Port
	if err := pc.Close(); err != nil {
		return 0, fmt.Errorf("release UDP port %d: %w", port, err)
	}
	return port, nil
}

// waitReady waits, boundedly, until ipmi_sim has bound its port and answers
// a power status over lanplus with the simulator's credentials.
func (s *Sim) waitReady() error {
	if err := s.waitBound(); err != nil {
		return err
	}
	deadline := time.Now().Add(probeTimeout)
	for {
		err := s.probe()
		if err == nil {
			return nil
		}
		if s.hasExited() {
			return fmt.Errorf("ipmi_sim exited: %v", s.waitErr)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer to ipmitool within %s: %w", probeTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitBound polls the kernel's UDP socket table until the port is bound.
// Where there is no /proc/net/udp, the ipmitool probe alone decides.
func (s *Sim) waitBound() error {
	deadline := time.Now().Add(bindTimeout)
	for {
		bound, err := udpPortBound(s.port)
		switch {
		case err != nil || bound:
			return nil
		case s.hasExited():
			return fmt.Errorf("ipmi_sim exited before binding port %d: %v", s.port, s.waitErr)
		case time.Now().After(deadline):
			return fmt.Errorf("port %d not bound within %s", s.port, bindTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// udpPortBound reports whether any IPv4 UDP socket is bound to port.
func udpPortBound(port int) (bool, error) {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return false, fmt.Errorf("read UDP socket table: %w", err)
	}
	want := fmt.Sprintf(":%04X ", port)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		fields := strings.Fields(line)
		if len(fields) > 1 && strings.HasSuffix(fields[1]+" ", want) {
			return true, nil
		}
	}
	return false, nil
}

// probe runs one short ipmitool power status against the simulator.
func (s *Sim) probe() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.ipmitool, "-I", "lanplus", "-H", "127.0.0.1", "-p", strconv.Itoa(s.port),
		"-U", Username, "-E", "-C", strconv.Itoa(CipherSuite), "-N", "1", "-R", "2", "chassis", "power", "status")
	cmd.Env = []string{"IPMITOOL_PASSWORD=" + Password}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("ipmitool: %w: %s", err, bytes.TrimSpace(out))
	}
	if !bytes.Contains(out, []byte("Chassis Power is")) {
		return fmt.Errorf("ipmitool: unexpected answer %q", bytes.TrimSpace(out))
	}
	return nil
}

func (s *Sim) hasExited() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}
