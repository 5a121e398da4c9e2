package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tinmanhq/tinman/api"
	"github.com/tinmanhq/tinman/client"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
)

// The image catalogue through the CLI: add (the checksum given or computed
// from a local copy), list, show, remove; bad input is exit 2 naming the
// flag, before the API is called; a name in use is exit 2.
func TestImagesAddListShowRemove(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	o := operator{t, startDev(t, redisURL, 1)}
	disk := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(disk, []byte("an OS"), 0o644); err != nil {
		t.Fatal(err)
	}
	const sum = "a4a9c2f3c2c5e8a1b2c6c39d1ec5c4c01f3d1bd65bb7b98ddaed6c4e2f1cf4e9" // not the file's
	add := []string{"images", "add", "lab-os", "--kernel-url", "lab/vmlinuz", "--initrd-url", "lab/initrd.img",
		"--iso-url", "https://images.example.com/lab.iso", "--image-url", "lab/disk.img"}
	out := o.ok(append(add, "--sha256-of", disk)...)
	want, _ := fileSHA256(disk)
	for _, s := range []string{"Name:", "lab-os", "SHA256:", want, "ISO:"} {
		if !strings.Contains(out, s) {
			t.Errorf("images add lacks %q:\n%s", s, out)
		}
	}
	o.check([]exitCase{
		{"a name in use", append(add, "--sha256", sum), exitUsage, "name"},
		{"both checksums", append(add, "--sha256", sum, "--sha256-of", disk), exitUsage, "not both"},
		{"a bad checksum", []string{"images", "add", "x", "--kernel-url", "k", "--initrd-url", "i", "--image-url", "d", "--sha256", "abc"}, exitUsage, "--sha256"},
		{"no kernel", []string{"images", "add", "x", "--initrd-url", "i", "--image-url", "d", "--sha256", sum}, exitUsage, "--kernel-url"},
		{"a URL that climbs", []string{"images", "add", "x", "--kernel-url", "../k", "--initrd-url", "i", "--image-url", "d", "--sha256", sum}, exitUsage, "--kernel-url"},
		{"show an unknown image", []string{"images", "show", "nope"}, exitUsage, "not in the catalogue"},
		{"no name", []string{"images", "show"}, exitUsage, "one image ID"},
	})
	list := decodeOutput[api.ImageList](t, o, "images", "list")
	var names []string
	for _, img := range list.Images {
		names = append(names, img.Name)
	}
	if got := strings.Join(names, ","); got != "debian-13,lab-os,tinman-demo,ubuntu-24.04" {
		t.Errorf("images list -o json: %s", got)
	}
	if out := o.ok("images", "list"); !strings.Contains(out, "lab-os") || !strings.Contains(out, "netboot, iso") {
		t.Errorf("images list:\n%s", out)
	}
	shown := decodeOutput[jobs.Image](t, o, "images", "show", "lab-os")
	if shown.SHA256 != want || shown.ImageURL != "lab/disk.img" {
		t.Errorf("images show -o json: %+v", shown)
	}
	if out := o.ok("images", "remove", "lab-os"); !strings.Contains(out, "image lab-os removed") {
		t.Errorf("images remove: %q", out)
	}
	o.check([]exitCase{{"remove twice", []string{"images", "remove", "lab-os"}, exitUsage, "not in the catalogue"}})

	// The demo image, as the README says, through virtual media.
	o.check([]exitCase{{"a bad boot", []string{"publish", "provision", "--server", "sim-01", "--image", "tinman-demo", "--boot", "usb"},
		exitUsage, `unknown boot method (--boot) "usb"`}})
	o.ok("publish", "provision", "--server", "sim-01", "--image", "tinman-demo", "--boot", "virtual-media", "--wait", "--wait-timeout", "2m")
}

// A server's boot MAC through the CLI: given at enrolment, shown, changed,
// refused when another server has it (exit 2 naming --boot-mac), cleared.
func TestServersBootMAC(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	o := operator{t, startDev(t, redisURL, 1)}
	out := o.ok("servers", "add", "mac-01", "--bmc-address", "127.0.0.1:9", "--provider", "redfish", "--username", "u",
		"--password", "p", "--boot-mac", "52-54-00-AA-BB-01")
	if !strings.Contains(out, "Boot MAC:") || !strings.Contains(out, "52:54:00:aa:bb:01") {
		t.Errorf("servers add --boot-mac:\n%s", out)
	}
	o.check([]exitCase{
		{"the MAC of sim-01", []string{"servers", "update", "mac-01", "--boot-mac", simMAC(0)}, exitUsage, "--boot-mac"},
		{"not a MAC", []string{"servers", "update", "mac-01", "--boot-mac", "nope"}, exitUsage, "--boot-mac"},
		{"set and clear", []string{"servers", "update", "mac-01", "--boot-mac", "52:54:00:aa:bb:02", "--clear-boot-mac"}, exitUsage, "not both"},
	})
	o.ok("servers", "update", "mac-01", "--boot-mac", "52:54:00:aa:bb:02")
	if srv := decodeOutput[client.Server](t, o, "servers", "show", "mac-01"); srv.BootMAC != "52:54:00:aa:bb:02" {
		t.Errorf("boot MAC after update: %q", srv.BootMAC)
	}
	o.ok("servers", "update", "mac-01", "--clear-boot-mac")
	if srv := decodeOutput[client.Server](t, o, "servers", "show", "mac-01"); srv.BootMAC != "" {
		t.Errorf("boot MAC after --clear-boot-mac: %q", srv.BootMAC)
	}
}
