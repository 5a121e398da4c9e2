package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/bmc/ipmisim"
	"github.com/tinmanhq/tinman/bmc/qemu"
	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
	"github.com/tinmanhq/tinman/workers"
)

// vmJobTimeout bounds a VM's provision or wipe under TCG: a guard against
// a hang, not a speed (measured: about a minute for a provision on an idle
// 2-core machine, up to 6 minutes with three VMs and other tests beside).
const vmJobTimeout = 15 * time.Minute

// needVMs skips the test without QEMU, its iPXE ROM and what
// build-installer.sh needs (fails it under CI=true).
func needVMs(t *testing.T) {
	t.Helper()
	servicetest.NeedTool(t, qemu.Binary, qemu.Install)
	for _, tool := range []string{"syslinux", "mcopy", "busybox"} {
		servicetest.NeedTool(t, tool, "apt-get install "+demoBuildNeeds)
	}
	roms, _ := filepath.Glob("/usr/lib/ipxe/qemu/efi-e1000.rom")
	kernels, _ := filepath.Glob("/boot/vmlinuz-*")
	if len(roms) == 0 || len(kernels) == 0 {
		servicetest.Unavailable(t, "no iPXE ROM for QEMU's e1000 or no kernel in /boot (%s; apt-get install %s)", qemu.Install, demoBuildNeeds)
	}
}

// startVMDev is tinman dev with vms virtual machines and no simulated
// BMC, on real Redis. Its demo image is the real one, built on first use:
// by dev itself when it has VMs, else by the test, given as --images-dir.
func startVMDev(t *testing.T, vms int) *system {
	t.Helper()
	needVMs(t)
	redisURL, _ := servicetest.Redis(t)
	images := ""
	if vms == 0 {
		dir, err := demoImagesDir()
		if err == nil {
			err = buildDemo(t.Context(), dir, testWriter{t})
		}
		if err != nil {
			t.Fatal(err)
		}
		images = dir
	}
	return startDevWith(t, redisURL, 0, func(c *devConfig) {
		c.VMs, c.Boot.ImagesDir = vms, images
		c.Worker.WaitPoll = time.Second
	})
}

// runJob publishes a request and returns its events to the end, failing
// the test unless it ends as want.
func runJob(t *testing.T, s *system, id, typ, server, params string, want events.Type) []events.Event {
	t.Helper()
	s.publish(t, typ, id, fmt.Sprintf(`{"id":%q,"type":%q,"server":%q,"params":%s}`, id, typ, server, params))
	evs := s.collect(t, events.Filter{Job: id, Type: "job"}, vmJobTimeout, terminal)
	if last := evs[len(evs)-1]; last.Type != want {
		t.Fatalf("%s %s ended %s, want %s: %s", typ, id, last.Type, want, typesOf(evs))
	}
	return evs
}

// logPhases writes when each step of a job ended, since its first.
func logPhases(t *testing.T, what string, evs []events.Event) {
	t.Helper()
	var rows []string
	start, last := evs[0].Time, evs[0].Time
	for _, ev := range evs {
		d, _ := ev.JobData()
		name := strings.TrimPrefix(string(ev.Type), "tinman.")
		if d.Step != "" {
			name += " " + d.Step
		}
		rows = append(rows, fmt.Sprintf("  %-34s %6.1fs  +%5.1fs", name, ev.Time.Sub(start).Seconds(), ev.Time.Sub(last).Seconds()))
		last = ev.Time
	}
	t.Logf("phases of %s (since queued, +since the row before):\n%s", what, strings.Join(rows, "\n"))
}

// checkProvisioned: the job's result names the image the OS on the disk
// reported (read from its own disk), the server is active with it, and
// the OS said so on the console.
func checkProvisioned(t *testing.T, s *system, jobID, server string, vm *qemu.Machine) {
	t.Helper()
	ctx := context.Background()
	job, err := s.dev.backend.store.Job(ctx, jobID)
	if err != nil {
		t.Fatal(err)
	}
	var res workers.ProvisionResult
	if err := json.Unmarshal(job.Result, &res); err != nil || res.BootedImage != demoImage || res.Image != demoImage {
		t.Errorf("provision result %s (%v), want image and booted_image %s", job.Result, err, demoImage)
	}
	if srv, _ := s.dev.backend.store.Server(ctx, server); srv.State != jobs.ServerActive || srv.Image != demoImage {
		t.Errorf("%s %s with image %q, want active with %s", server, srv.State, srv.Image, demoImage)
	}
	if console, _ := os.ReadFile(vm.ConsolePath()); !bytes.Contains(console, []byte("tinman-os: image "+demoImage)) {
		t.Errorf("the OS on the disk did not name %s on the console", demoImage)
	}
}

// diskZero reports whether the n bytes at off of the VM's disk are zero.
func diskZero(t *testing.T, vm *qemu.Machine, off, n int64) bool {
	t.Helper()
	f, err := os.Open(vm.DiskPath())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if off < 0 {
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		off += st.Size()
	}
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, off); err != nil {
		t.Fatal(err)
	}
	return len(bytes.Trim(buf, "\x00")) == 0
}

// showConsoleOnFailure logs the end of the VM's console if the test fails.
func showConsoleOnFailure(t *testing.T, vm *qemu.Machine) {
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(vm.ConsolePath())
			t.Logf("console of %s (end):\n%s", vm.Name(), b[max(0, len(b)-3000):])
		}
	})
}

// TestEndToEndVMProvisionAndWipe: tinman dev's vm-01, a QEMU machine
// behind the Redfish simulator driven by real bmclib, is provisioned with
// the real demo image through Tinman's own boot service (iPXE by MAC, the
// metadata, the files, the callbacks) and workflows, then deprovisioned:
// available, its disk's ends zero, and a boot from it finds nothing.
func TestEndToEndVMProvisionAndWipe(t *testing.T) {
	t.Parallel()
	s := startVMDev(t, 1)
	vm := s.dev.vms[0]
	showConsoleOnFailure(t, vm)
	evs := runJob(t, s, "vm-prov", "provision", "vm-01", `{"image":"tinman-demo"}`, events.JobSucceeded)
	logPhases(t, "a Redfish VM's provision", evs)
	checkProvisioned(t, s, "vm-prov", "vm-01", vm)

	evs = runJob(t, s, "vm-wipe", "deprovision", "vm-01", `{}`, events.JobSucceeded)
	logPhases(t, "its deprovision", evs)
	checkWiped(t, s, "vm-01", vm)
	mark := len(readConsole(vm))
	runJob(t, s, "vm-on", "power", "vm-01", `{"action":"on"}`, events.JobSucceeded)
	waitConsoleAfter(t, vm, mark, "No bootable device", 2*time.Minute)
}

// TestEndToEndVMProvisionThroughVirtualMedia: the same Redfish VM is
// provisioned with --boot virtual-media: the worker inserts the demo
// image's ISO (iPXE on a CD, from Debian's ipxe package) through real
// bmclib, the machine boots the CD once, and iPXE on it chains to the boot
// service, which serves the installer by MAC; at the end the CD is ejected.
func TestEndToEndVMProvisionThroughVirtualMedia(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/usr/lib/ipxe/ipxe.iso"); err != nil {
		servicetest.Unavailable(t, "no iPXE ISO for the virtual CD (apt-get install ipxe): %v", err)
	}
	s := startVMDev(t, 1)
	vm := s.dev.vms[0]
	showConsoleOnFailure(t, vm)
	if s.dev.demo == nil || s.dev.demo.ISOURL == "" {
		t.Fatalf("the demo image %+v has no iso_url: build-installer.sh made no installer.iso", s.dev.demo)
	}
	evs := runJob(t, s, "vm-media", "provision", "vm-01", `{"image":"tinman-demo","boot":"virtual-media"}`, events.JobSucceeded)
	logPhases(t, "a Redfish VM's provision through virtual media", evs)
	var steps []string
	for _, ev := range evs {
		if d, _ := ev.JobData(); d.Step != "" {
			steps = append(steps, d.Step)
		}
	}
	for _, want := range []string{"media-once", "eject-media"} {
		if !slices.Contains(steps, want) {
			t.Errorf("steps %v, want %s among them", steps, want)
		}
	}
	checkProvisioned(t, s, "vm-media", "vm-01", vm)
	if m := vm.Media(); m != "" {
		t.Errorf("the virtual CD holds %s after the provision, want it ejected", m)
	}
}

// checkWiped: after a deprovision the server is available, its machine
// off, and the first and last MiB of its disk zero.
func checkWiped(t *testing.T, s *system, server string, vm *qemu.Machine) {
	t.Helper()
	if srv, _ := s.dev.backend.store.Server(context.Background(), server); srv.State != jobs.ServerAvailable {
		t.Errorf("%s %s after the deprovision, want available", server, srv.State)
	}
	if vm.Powered() {
		t.Errorf("%s runs after the deprovision, want it off", server)
	}
	for _, off := range []int64{0, -1 << 20} {
		if !diskZero(t, vm, off, 1<<20) {
			t.Errorf("the MiB at %d of %s's wiped disk holds data", off, server)
		}
	}
}

// TestEndToEndIPMIVMProvision: a QEMU machine behind OpenIPMI's ipmi_sim,
// driven by bmclib's ipmitool provider, enrolled in tinman dev with its
// boot MAC, is provisioned through Tinman's boot service, then
// deprovisioned: available, off, its disk's ends zero.
func TestEndToEndIPMIVMProvision(t *testing.T) {
	t.Parallel()
	s := startVMDev(t, 0)
	vm, err := qemu.New(qemu.Config{Name: "vm-ipmi", Dir: t.TempDir(), BootFile: vmBootFile(vmBootURL(s.dev.bootURL)), MemoryMiB: 256})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = vm.Close() })
	showConsoleOnFailure(t, vm)
	sim := ipmisim.StartVM(t, vm)
	user, pass := sim.Credentials()
	srv := jobs.Server{ID: "vm-ipmi", BMC: jobs.BMC{Address: sim.Addr(), Provider: jobs.ProviderIPMI, CipherSuite: ipmisim.CipherSuite},
		BootMAC: strings.ToLower(vm.MAC()), State: jobs.ServerAvailable, PowerState: jobs.PowerStateOff}
	if err := s.dev.backend.store.PutServer(context.Background(), srv, jobs.Credentials{Username: user, Password: pass}); err != nil {
		t.Fatal(err)
	}
	evs := runJob(t, s, "ipmi-prov", "provision", "vm-ipmi", `{"image":"tinman-demo"}`, events.JobSucceeded)
	logPhases(t, "an IPMI VM's provision", evs)
	checkProvisioned(t, s, "ipmi-prov", "vm-ipmi", vm)

	evs = runJob(t, s, "ipmi-wipe", "deprovision", "vm-ipmi", `{}`, events.JobSucceeded)
	logPhases(t, "its deprovision", evs)
	checkWiped(t, s, "vm-ipmi", vm)
}

// TestEndToEndVMChecksumMismatch: an image whose disk image does not have
// the catalogue's SHA-256 is refused by the real installer before a byte
// reaches the disk; the provision fails checksum_mismatch and leaves the
// server error, powered off, with no boot configuration.
func TestEndToEndVMChecksumMismatch(t *testing.T) {
	t.Parallel()
	s := startVMDev(t, 1)
	vm := s.dev.vms[0]
	showConsoleOnFailure(t, vm)
	ctx := context.Background()
	img := *s.dev.demo
	img.Name, img.SHA256 = "tinman-corrupt", strings.Repeat("0", 64)
	if _, err := s.dev.backend.store.AddImage(ctx, img); err != nil {
		t.Fatal(err)
	}
	runJob(t, s, "vm-corrupt", "provision", "vm-01", `{"image":"tinman-corrupt"}`, events.JobFailed)
	job, _ := s.dev.backend.store.Job(ctx, "vm-corrupt")
	if job.Error == nil || job.Error.Code != jobs.CodeChecksumMismatch || !strings.Contains(job.Error.Message, img.SHA256) {
		t.Errorf("provision error %+v, want checksum_mismatch naming the catalogue's sum", job.Error)
	}
	if srv, _ := s.dev.backend.store.Server(ctx, "vm-01"); srv.State != jobs.ServerError {
		t.Errorf("vm-01 %s, want error", srv.State)
	}
	if vm.Powered() {
		t.Error("vm-01 runs after the failure, want it off")
	}
	if _, err := s.dev.backend.store.BootConfig(ctx, "vm-01"); jobs.CodeOf(err) != jobs.CodeNotFound {
		t.Errorf("boot configuration after the failure: %v, want none", err)
	}
	if !diskZero(t, vm, 0, 16<<20) {
		t.Error("the disk holds data after a checksum mismatch")
	}
}

func readConsole(vm *qemu.Machine) []byte {
	b, _ := os.ReadFile(vm.ConsolePath())
	return b
}

// waitConsoleAfter fails the test unless text shows on the VM's console
// after its first mark bytes within d.
func waitConsoleAfter(t *testing.T, vm *qemu.Machine, mark int, text string, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(200 * time.Millisecond) {
		if b := readConsole(vm); len(b) > mark && bytes.Contains(b[mark:], []byte(text)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q not on %s's console within %s", text, vm.Name(), d)
		}
	}
}
