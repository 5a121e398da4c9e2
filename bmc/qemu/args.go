package qemu

import (
	"fmt"
	"strconv"
)

// Device ids in QEMU's command line, which QMP commands name.
const (
	netID  = "net0"
	diskID = "disk0"
	cdID   = "cd" // the virtual CD's qdev id (QMP blockdev-change-medium, eject)
)

// Command returns the command line (the program, then its arguments) of a
// power-on booting from boot, with the virtual CD as it is now: what PowerOn
// runs, and what package ipmisim's chassis script runs for ipmi_sim.
func (m *Machine) Command(boot string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string{m.cfg.Binary}, m.args(boot, m.media)...)
}

func (m *Machine) args(boot, media string) []string {
	order := bootOrder(boot)
	args := []string{
		"-name", "guest=" + m.cfg.Name + ",process=qemu-" + m.cfg.Name,
		"-machine", "pc,accel=tcg",
		"-m", strconv.Itoa(m.cfg.MemoryMiB),
		"-smp", "1",
		// -nographic tells SeaBIOS to mirror its screen (and iPXE's) on the
		// serial port, which goes to console.log.
		"-nographic", "-nodefaults", "-monitor", "none",
		"-chardev", "file,id=console,append=on,path=" + m.ConsolePath(),
		"-serial", "chardev:console",
		"-qmp", "unix:" + m.QMPPath() + ",server=on,wait=off",
		"-boot", "strict=on",
	}
	netdev := "user,id=" + netID
	if m.cfg.BootFile != "" {
		netdev += ",bootfile=" + m.cfg.BootFile
	}
	args = append(args,
		"-netdev", netdev,
		"-device", "e1000,netdev="+netID+",mac="+m.cfg.MAC+order.index("net"),
		"-drive", "if=none,id="+diskID+",format=raw,file="+m.DiskPath(),
		"-device", "virtio-blk-pci,drive="+diskID+order.index("disk"),
	)
	cd := "if=none,id=" + cdID + "-drive,media=cdrom,readonly=on"
	if media != "" {
		cd += ",format=raw,file=" + media
	}
	return append(args, "-drive", cd, "-device", "ide-cd,id="+cdID+",drive="+cdID+"-drive"+order.index("cd"))
}

// bootOrderOf lists the devices a boot target tries, first to last.
type bootOrderOf []string

// bootOrder is the order of each boot target (see the package comment).
func bootOrder(boot string) bootOrderOf {
	switch boot {
	case BootPxe:
		return bootOrderOf{"net", "disk"}
	case BootHdd:
		return bootOrderOf{"disk"}
	case BootCd:
		return bootOrderOf{"cd", "disk"}
	}
	return bootOrderOf{"disk", "net"}
}

// index is the ",bootindex=N" of device, or "" when it is not in the order
// (with -boot strict=on, the firmware never boots it).
func (o bootOrderOf) index(device string) string {
	for i, d := range o {
		if d == device {
			return fmt.Sprintf(",bootindex=%d", i+1)
		}
	}
	return ""
}
