package ipmisim

import "syscall"

// sysProcAttr kills the simulator when the test process dies, so that a
// crashed or killed test run leaves no ipmi_sim behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
