package qemu_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tinmanhq/tinman/bmc/qemu"
)

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name string
		cfg  qemu.Config
		want string
	}{
		{"no folder", qemu.Config{Binary: "/bin/true"}, `qemu.Config.Dir "": must be set`},
		{"comma in the folder", qemu.Config{Dir: dir + "/a,b", Binary: "/bin/true"}, "qemu.Config.Dir " + dir + "/a,b: must not hold a comma"},
		{"comma in the boot file", qemu.Config{Dir: dir, Binary: "/bin/true", BootFile: "http://x/a,b"}, "qemu.Config.BootFile http://x/a,b: must not hold a comma"},
		{"bad MAC", qemu.Config{Dir: dir, MAC: "nope", Binary: "/bin/true"}, "qemu.Config.MAC nope: must be a MAC address"},
		{"negative disk", qemu.Config{Dir: dir, Binary: "/bin/true", DiskSize: -1}, "qemu.Config.DiskSize -1: must be 0 or more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := qemu.New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestNewWithoutQEMU(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := qemu.New(qemu.Config{Dir: t.TempDir(), MAC: "02:00:00:00:00:01"})
	if !errors.Is(err, qemu.ErrNoQEMU) {
		t.Fatalf("New = %v, want ErrNoQEMU", err)
	}
}

// TestCommandBootOrder: each boot target gives its devices boot indexes in
// its order, and leaves the others out (strict boot order).
func TestCommandBootOrder(t *testing.T) {
	t.Parallel()
	m, err := qemu.New(qemu.Config{Dir: t.TempDir(), MAC: "02:00:00:00:00:01", Binary: "/bin/true",
		BootFile: "http://10.0.2.2:1/boot/chain.ipxe"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		boot string
		want map[string]string // device -> its bootindex ("" none)
	}{
		{qemu.BootPxe, map[string]string{"e1000": "1", "virtio-blk-pci": "2", "ide-cd": ""}},
		{qemu.BootHdd, map[string]string{"e1000": "", "virtio-blk-pci": "1", "ide-cd": ""}},
		{qemu.BootCd, map[string]string{"e1000": "", "virtio-blk-pci": "2", "ide-cd": "1"}},
		{"", map[string]string{"e1000": "2", "virtio-blk-pci": "1", "ide-cd": ""}},
		{"BiosSetup", map[string]string{"e1000": "2", "virtio-blk-pci": "1", "ide-cd": ""}},
	}
	for _, tt := range tests {
		cmd := m.Command(tt.boot)
		if cmd[0] != "/bin/true" {
			t.Errorf("program = %q", cmd[0])
		}
		if !slices.Contains(cmd, "user,id=net0,bootfile=http://10.0.2.2:1/boot/chain.ipxe") {
			t.Errorf("%q: no user network with the boot file in %q", tt.boot, cmd)
		}
		for device, index := range tt.want {
			if got := bootIndex(cmd, device); got != index {
				t.Errorf("boot %q: %s bootindex %q, want %q", tt.boot, device, got, index)
			}
		}
	}
}

// bootIndex returns the bootindex of the -device whose driver is device.
func bootIndex(cmd []string, device string) string {
	for i, a := range cmd {
		if a == "-device" && i+1 < len(cmd) && strings.HasPrefix(cmd[i+1], device+",") {
			_, after, _ := strings.Cut(cmd[i+1], "bootindex=")
			return after
		}
	}
	return "missing"
}

// TestMachinePower: a machine powers on into its firmware, which finds an
// empty disk unbootable; a restart boots the network (iPXE), and off ends
// the process.
func TestMachinePower(t *testing.T) {
	m := newMachine(t, "")
	c := consoleFrom(m)
	if err := m.PowerOn(callCtx(t), qemu.BootHdd); err != nil {
		t.Fatalf("PowerOn: %v", err)
	}
	if !m.Powered() {
		t.Fatal("not powered after PowerOn")
	}
	c.wait(t, "No bootable device", firmwareWait)
	if err := m.PowerOn(callCtx(t), qemu.BootPxe); err != nil { // on already: nothing
		t.Fatalf("PowerOn again: %v", err)
	}
	c = consoleFrom(m)
	if err := m.Restart(callCtx(t), qemu.BootPxe); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	c.wait(t, "iPXE", firmwareWait)
	if err := m.PowerOff(callCtx(t)); err != nil {
		t.Fatalf("PowerOff: %v", err)
	}
	if m.Powered() {
		t.Fatal("powered after PowerOff")
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := m.PowerOn(callCtx(t), ""); !errors.Is(err, qemu.ErrClosed) {
		t.Fatalf("PowerOn after Close = %v, want ErrClosed", err)
	}
}

// TestMachineMedia: an image downloaded while the machine is off is in its
// CD at power-on; ejected and inserted again while it runs, QEMU sees it.
func TestMachineMedia(t *testing.T) {
	iso := filepath.Join(t.TempDir(), "x.iso")
	if err := os.WriteFile(iso, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Dir(iso))))
	t.Cleanup(srv.Close)
	m := newMachine(t, "")
	if err := m.InsertMedia(callCtx(t), srv.URL+"/x.iso"); err != nil {
		t.Fatalf("InsertMedia (off): %v", err)
	}
	if got := m.Media(); got != filepath.Join(m.Dir(), "media.iso") {
		t.Fatalf("Media = %q, want the downloaded media.iso", got)
	}
	if err := m.PowerOn(callCtx(t), qemu.BootCd); err != nil {
		t.Fatalf("PowerOn: %v", err)
	}
	if got := cdFile(t, m); got != m.Media() {
		t.Fatalf("CD holds %q, want %q", got, m.Media())
	}
	if err := m.EjectMedia(callCtx(t)); err != nil {
		t.Fatalf("EjectMedia: %v", err)
	}
	if got := cdFile(t, m); got != "" {
		t.Fatalf("CD holds %q after eject", got)
	}
	if err := m.InsertMedia(callCtx(t), iso); err != nil {
		t.Fatalf("InsertMedia (on): %v", err)
	}
	if got := cdFile(t, m); got != iso {
		t.Fatalf("CD holds %q, want %q", got, iso)
	}
}

// cdFile asks QEMU which file the virtual CD holds ("" none).
func cdFile(t *testing.T, m *qemu.Machine) string {
	t.Helper()
	raw, err := m.QMP(callCtx(t), "query-block", nil)
	if err != nil {
		t.Fatalf("query-block: %v", err)
	}
	var devices []struct {
		QDev     string `json:"qdev"`
		Inserted *struct {
			File string `json:"file"`
		} `json:"inserted"`
	}
	if err := json.Unmarshal(raw, &devices); err != nil {
		t.Fatalf("query-block: %v", err)
	}
	for _, d := range devices {
		if strings.Contains(d.QDev, "cd") {
			if d.Inserted == nil {
				return ""
			}
			return d.Inserted.File
		}
	}
	t.Fatalf("no CD in %s", raw)
	return ""
}

// TestMACIsKept: a machine without a MAC gets one of QEMU's and keeps it in
// its folder; a chosen one wins.
func TestMACIsKept(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first, err := qemu.New(qemu.Config{Dir: dir, Binary: "/bin/true"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := qemu.New(qemu.Config{Dir: dir, Binary: "/bin/true"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first.MAC(), "52:54:00:") || again.MAC() != first.MAC() {
		t.Fatalf("MACs %q then %q, want one 52:54:00:... kept", first.MAC(), again.MAC())
	}
	chosen, err := qemu.New(qemu.Config{Dir: dir, Binary: "/bin/true", MAC: "02:00:00:00:00:09"})
	if err != nil {
		t.Fatal(err)
	}
	if chosen.MAC() != "02:00:00:00:00:09" || !slices.Contains(chosen.Command(""), "e1000,netdev=net0,mac=02:00:00:00:00:09,bootindex=2") {
		t.Fatalf("chosen MAC %q, command %q", chosen.MAC(), chosen.Command(""))
	}
}
