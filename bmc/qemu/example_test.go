package qemu_test

import (
	"context"
	"fmt"
	"os"

	"github.com/tinmanhq/tinman/bmc/bmcsim"
	"github.com/tinmanhq/tinman/bmc/qemu"
)

// A virtual machine behind a simulated Redfish BMC: power it on through the
// BMC and bmclib (here, directly), and it boots its network as the boot
// service tells it. (Not run: it needs QEMU.)
func Example() {
	dir, _ := os.MkdirTemp("", "vm-")
	defer os.RemoveAll(dir)
	m, err := qemu.New(qemu.Config{Name: "vm-01", Dir: dir, BootFile: "http://10.0.2.2:8081/boot/chain.ipxe"})
	if err != nil {
		fmt.Println(err) // qemu-system-x86_64 not found (apt-get install qemu-system-x86 ipxe-qemu)
		return
	}
	defer m.Close()
	b := bmcsim.New(bmcsim.Config{Host: m})
	if err := b.Start("127.0.0.1:0"); err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close()
	// A Redfish client now powers the machine on from the network, as
	// Tinman's provision does: one-time PXE boot, then ComputerSystem.Reset.
	if err := m.PowerOn(context.Background(), qemu.BootPxe); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("console:", m.ConsolePath())
}
