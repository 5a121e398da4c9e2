package qemu

import "syscall"

// sysProcAttr puts QEMU in a process group of its own, which stop signals
// whole, and kills it when the process that started it dies, so a crashed
// test or dev run leaves no virtual machine behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
