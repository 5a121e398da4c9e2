package ipmisim

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/bmc/qemu"
)

//go:embed vmhost.sh
var vmHostScript []byte

// ipmiBoot maps each boot device ipmi_sim hands its chassis to the boot
// target of a QEMU power-on: "default" is IPMI's forced boot from the hard
// disk; "none" and "bios" boot in the machine's default order.
var ipmiBoot = map[string]string{
	"none": "", "pxe": qemu.BootPxe, "default": qemu.BootHdd, "cdrom": qemu.BootCd, "bios": "",
}

// StartVM starts one simulator whose chassis is the virtual machine m: a
// chassis power on starts m's QEMU booting from the device last set over
// IPMI, power off stops it, reset restarts it, and the power reads on while
// QEMU runs (chassiscontrol.sh with vmhost.sh as its host.sh). The simulator and the machine stop when the test
// ends, and QEMU within a second of the test process's death. Without
// ipmi_sim or ipmitool the test is skipped, or fails under CI=true.
func StartVM(t testing.TB, m *qemu.Machine) *Sim {
	t.Helper()
	return RequireTools(t).start(t, "vm-"+m.Name(), chassis{setup: vmSetup(m), vm: true})
}

// vmSetup writes host.sh, vm.env and one qemu-<boot>.args per IPMI boot
// device.
func vmSetup(m *qemu.Machine) func(dir string) error {
	return func(dir string) error {
		if err := os.WriteFile(filepath.Join(dir, "host.sh"), vmHostScript, 0o644); err != nil {
			return fmt.Errorf("write host.sh: %w", err)
		}
		for device, target := range ipmiBoot {
			command := m.Command(target)
			if err := writeArgs(filepath.Join(dir, "qemu-"+device+".args"), command[1:]); err != nil {
				return err
			}
			if device == "none" {
				if err := writeVMEnv(dir, command[0]); err != nil {
					return err
				}
			}
		}
		return nil
	}
}

// writeVMEnv writes what vmhost.sh sources: the QEMU program and the pid
// whose end stops the machine.
func writeVMEnv(dir, program string) error {
	if strings.ContainsAny(program, "'\n") {
		return fmt.Errorf("QEMU path %q holds a quote or a newline", program)
	}
	env := fmt.Sprintf("QEMU='%s'\nOWNER=%d\n", program, os.Getpid())
	if err := os.WriteFile(filepath.Join(dir, "vm.env"), []byte(env), 0o644); err != nil {
		return fmt.Errorf("write vm.env: %w", err)
	}
	return nil
}

// writeArgs writes args one a line, as vmhost.sh reads them.
func writeArgs(path string, args []string) error {
	for _, a := range args {
		if strings.Contains(a, "\n") {
			return fmt.Errorf("QEMU argument %q holds a newline", a)
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(args, "\n")+"\n"), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}

// qemuPID returns the pid of the running QEMU, or 0.
func (s *Sim) qemuPID() int {
	pid, err := strconv.Atoi(s.readState("qemu.pid", "0"))
	if err != nil || pid <= 0 || !alive(pid) {
		return 0
	}
	return pid
}

// alive reports whether pid exists and is not a zombie (vmhost.sh starts
// QEMU in the background: nobody here reaps it).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return errors.Is(err, os.ErrPermission)
	}
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || !strings.HasPrefix(string(b[i:]), ") Z")
}

// stopQEMU ends the virtual machine: SIGTERM, then SIGKILL.
func (s *Sim) stopQEMU() {
	pid := s.qemuPID()
	if pid == 0 {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for deadline := time.Now().Add(termTimeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if !alive(pid) {
			return
		}
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}
