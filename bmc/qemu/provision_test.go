package qemu_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/bmc"
	"github.com/tinmanhq/tinman/bmc/bmcsim"
	"github.com/tinmanhq/tinman/bmc/ipmisim"
	"github.com/tinmanhq/tinman/bmc/qemu"
	"github.com/tinmanhq/tinman/jobs"
)

// imageName is the name build-installer.sh writes into disk.img (IMAGE).
const imageName = "tinman-os"

// rig is a virtual machine under a BMC, with the boot service it boots from
// and a session of Tinman's BMC adapter (real bmclib).
type rig struct {
	vm      *qemu.Machine
	boot    *bootServer
	session *bmc.Session
	sha256  string // disk.img's, from disk.img.sha256
}

// newRedfishRig puts a virtual machine under a simulated Redfish BMC.
func newRedfishRig(t *testing.T) *rig {
	t.Helper()
	dir := installer(t)
	boot := startBootServer(t, dir)
	m := newMachine(t, boot.bootFile())
	b := bmcsim.New(bmcsim.Config{Host: m})
	if err := b.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start BMC: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	user, pass := b.Credentials()
	srv := jobs.Server{ID: m.Name(), BMC: jobs.BMC{Address: b.Addr(), Provider: jobs.ProviderRedfish}}
	return finishRig(t, dir, boot, srv, jobs.Credentials{Username: user, Password: pass}, m)
}

// newIPMIRig puts a virtual machine under OpenIPMI's ipmi_sim.
func newIPMIRig(t *testing.T) *rig {
	t.Helper()
	dir := installer(t)
	boot := startBootServer(t, dir)
	m := newMachine(t, boot.bootFile())
	sim := ipmisim.StartVM(t, m)
	user, pass := sim.Credentials()
	srv := jobs.Server{ID: m.Name(), BMC: jobs.BMC{Address: sim.Addr(), Provider: jobs.ProviderIPMI, CipherSuite: ipmisim.CipherSuite}}
	return finishRig(t, dir, boot, srv, jobs.Credentials{Username: user, Password: pass}, m)
}

func finishRig(t *testing.T, dir string, boot *bootServer, srv jobs.Server, creds jobs.Credentials, vm *qemu.Machine) *rig {
	t.Helper()
	cfg := bmc.DefaultConfig()
	cfg.CallTimeout = callTimeout
	d, err := bmc.NewDialer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := d.Open(callCtx(t), srv, creds)
	if err != nil {
		t.Fatalf("open %s: %v", srv.BMC.Provider, err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	sum, err := os.ReadFile(filepath.Join(dir, "disk.img.sha256"))
	if err != nil {
		t.Fatal(err)
	}
	return &rig{vm: vm, boot: boot, session: s, sha256: strings.Fields(string(sum))[0]}
}

// power sends a power action through the BMC.
func (r *rig) power(t *testing.T, action jobs.PowerAction) time.Time {
	t.Helper()
	if err := r.session.SetPower(callCtx(t), action); err != nil {
		t.Fatalf("power %s: %v", action, err)
	}
	return time.Now()
}

// bootFrom sets the next boot device through the BMC.
func (r *rig) bootFrom(t *testing.T, device jobs.BootDeviceName, persistent bool) {
	t.Helper()
	if err := r.session.SetBootDevice(callCtx(t), jobs.BootDeviceParams{Device: device, Persistent: persistent}); err != nil {
		t.Fatalf("boot device %s: %v", device, err)
	}
}

// netboot gives the machine a job, sets a one-time PXE boot and powers it
// on (cycles it when it runs), as Tinman's workflows do. It marks the
// phases up to the installer's first words.
func (r *rig) netboot(t *testing.T, p *phases, job bootJob, action jobs.PowerAction) bootJob {
	t.Helper()
	job = r.boot.set(r.vm.MAC(), job)
	r.bootFrom(t, jobs.BootPXE, false)
	c := consoleFrom(r.vm)
	on := r.power(t, action)
	ipxe := c.wait(t, "iPXE", firmwareWait)
	running := c.wait(t, "tinman-installer:", bootTimeout)
	p.mark("power "+string(action)+" (PXE once) answered", on)
	p.mark("iPXE on the console", ipxe)
	if chain, ok := r.boot.hitAfter("/boot/chain.ipxe", on); ok {
		p.mark("chain.ipxe fetched (DHCP boot file)", chain.end)
	}
	if kernel, ok := r.boot.hitAfter("/boot/files/kernel", on); ok {
		p.mark("kernel download started", kernel.start)
	}
	if initrd, ok := r.boot.hitAfter("/boot/files/initrd", on); ok {
		p.mark("initrd downloaded", initrd.end)
	}
	p.mark("installer running (kernel booted)", running)
	return job
}

// install provisions the machine with disk.img: netboot into the installer,
// "installed", disk for good, power cycle, "booted" with the image's name.
func (r *rig) install(t *testing.T, p *phases, action jobs.PowerAction) {
	t.Helper()
	job := r.netboot(t, p, bootJob{JobID: "job-install", Server: "vm", Purpose: "install", Image: imageName,
		File: "disk.img", SHA256: r.sha256}, action)
	rep := r.boot.await(t, "installed", bootTimeout)
	p.mark("installed reported (download, sha256, write)", rep.at)
	r.bootFrom(t, jobs.BootDisk, true)
	c := consoleFrom(r.vm)
	p.mark("power cycle (disk) answered", r.power(t, jobs.PowerCycle))
	p.mark("OS running from disk", c.wait(t, "tinman-os: image", bootTimeout))
	rep = r.boot.await(t, "booted", bootTimeout)
	p.mark("booted reported", rep.at)
	if rep.Image != imageName || rep.JobID != job.JobID {
		t.Fatalf("booted report %+v, want image %q of job %s", rep, imageName, job.JobID)
	}
}

// wipe deprovisions the machine: netboot into the wiper, "wiped", power off;
// then the disk's ends hold nothing, and a boot from it finds nothing.
func (r *rig) wipe(t *testing.T, p *phases, action jobs.PowerAction) {
	t.Helper()
	r.netboot(t, p, bootJob{JobID: "job-wipe", Server: "vm", Purpose: "wipe"}, action)
	p.mark("wiped reported", r.boot.await(t, "wiped", bootTimeout).at)
	r.power(t, jobs.PowerOff)
	disk := readFile(r.vm.DiskPath())
	for _, at := range []int{0, 1 << 20, len(disk) - 1<<20} {
		if !allZero([]byte(disk[at : at+1<<20])) {
			t.Errorf("the MiB at %d of the wiped disk holds data", at)
		}
	}
	r.bootFrom(t, jobs.BootDisk, true)
	c := consoleFrom(r.vm)
	r.power(t, jobs.PowerOn)
	p.mark("disk boot: the firmware finds nothing", c.wait(t, "No bootable device", firmwareWait))
	if rep, err := r.boot.next(0); err == nil {
		t.Errorf("a report after the wipe: %+v", rep)
	}
	if !strings.Contains(readFile(r.vm.ConsolePath())[c.mark:], "not a bootable disk") {
		t.Errorf("the firmware did not find the disk unbootable")
	}
	r.power(t, jobs.PowerOff)
}

func allZero(b []byte) bool { return len(bytes.Trim(b, "\x00")) == 0 }

// TestRedfishVMProvisionAndWipe provisions a QEMU machine under a simulated
// Redfish BMC, driven by real bmclib, then deprovisions it.
func TestRedfishVMProvisionAndWipe(t *testing.T) {
	r := newRedfishRig(t)
	p := newPhases("a Redfish VM")
	r.install(t, p, jobs.PowerOn)
	r.wipe(t, p, jobs.PowerCycle)
	p.log(t)
}

// TestIPMIVMProvision provisions a QEMU machine under OpenIPMI's ipmi_sim,
// driven by bmclib's ipmitool provider.
func TestIPMIVMProvision(t *testing.T) {
	r := newIPMIRig(t)
	p := newPhases("an IPMI VM")
	r.install(t, p, jobs.PowerOn)
	p.log(t)
}

// TestVMCorruptImage: an image whose sha256 is not the catalogue's is
// reported checksum_mismatch, and nothing reaches the disk.
func TestVMCorruptImage(t *testing.T) {
	r := newRedfishRig(t)
	img, err := os.ReadFile(filepath.Join(r.boot.files, "disk.img"))
	if err != nil {
		t.Fatal(err)
	}
	img[len(img)/2] ^= 0xff
	if err := os.WriteFile(filepath.Join(r.boot.files, "corrupt.img"), img, 0o644); err != nil {
		t.Fatal(err)
	}
	p := newPhases("a corrupt image")
	r.netboot(t, p, bootJob{JobID: "job-corrupt", Server: "vm", Purpose: "install", Image: imageName,
		File: "corrupt.img", SHA256: r.sha256}, jobs.PowerOn)
	rep := r.boot.await(t, "failed", bootTimeout)
	p.mark("failed reported", rep.at)
	p.log(t)
	if rep.Code != "checksum_mismatch" || !strings.Contains(rep.Message, r.sha256) {
		t.Fatalf("report %+v, want checksum_mismatch naming %s", rep, r.sha256)
	}
	r.power(t, jobs.PowerOff)
	if !allZero([]byte(readFile(r.vm.DiskPath()))) {
		t.Fatal("the disk holds data after a checksum mismatch")
	}
}
