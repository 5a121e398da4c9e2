package jobs_test

import (
	"strings"
	"testing"

	"github.com/tinmanhq/tinman/jobs"
)

func TestParseMAC(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"52:54:00:12:34:56", "52:54:00:12:34:56"},
		{"52-54-00-AB-CD-EF", "52:54:00:ab:cd:ef"},
		{" 52:54:00:Ab:cD:eF ", "52:54:00:ab:cd:ef"},
		{"5254.0012.3456", ""},          // Cisco dots: not a form iPXE or Redfish write
		{"52:54:00:12:34", ""},          // five bytes
		{"02:00:5e:10:00:00:00:01", ""}, // EUI-64
		{"52:54:00:12:34:5g", ""},       // not hex
		{"", ""},
	}
	for _, tt := range tests {
		got, err := jobs.ParseMAC("boot_mac", tt.in)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("ParseMAC(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
		if err != nil && jobs.AsError(err).Field != "boot_mac" {
			t.Errorf("ParseMAC(%q) error %+v, want it to name boot_mac", tt.in, err)
		}
	}
}

func TestServerBootMACIsStoredCanonical(t *testing.T) {
	t.Parallel()
	srv := jobs.Server{ID: "srv-1", BMC: jobs.BMC{Address: "10.0.0.1", Provider: jobs.ProviderRedfish}}
	for mac, ok := range map[string]bool{"": true, "52:54:00:ab:cd:ef": true, "52:54:00:AB:CD:EF": false, "52-54-00-ab-cd-ef": false} {
		srv.BootMAC = mac
		if err := srv.Validate(); (err == nil) != ok {
			t.Errorf("boot MAC %q: Validate = %v, want ok %v", mac, err, ok)
		}
	}
}

func TestImageValidate(t *testing.T) {
	t.Parallel()
	good := jobs.Image{Name: "ubuntu-24.04", KernelURL: "https://images.example.com/u/vmlinuz", InitrdURL: "u/initrd.img",
		ImageURL: "http://10.0.0.5:8081/boot/files/u/disk.img", SHA256: strings.Repeat("ab", 32)}
	tests := []struct {
		name  string
		edit  func(*jobs.Image)
		field string // "" valid
	}{
		{"good", func(*jobs.Image) {}, ""},
		{"with an ISO", func(i *jobs.Image) { i.ISOURL = "u/installer.iso" }, ""},
		{"a name with a tag", func(i *jobs.Image) { i.Name = "demo:v1.2.3" }, ""},
		{"no name", func(i *jobs.Image) { i.Name = "" }, "name"},
		{"a name with a slash", func(i *jobs.Image) { i.Name = "os/ubuntu" }, "name"},
		{"no kernel", func(i *jobs.Image) { i.KernelURL = "" }, "kernel_url"},
		{"no initrd", func(i *jobs.Image) { i.InitrdURL = "" }, "initrd_url"},
		{"no image", func(i *jobs.Image) { i.ImageURL = "" }, "image_url"},
		{"ftp", func(i *jobs.Image) { i.KernelURL = "ftp://example.com/vmlinuz" }, "kernel_url"},
		{"credentials in the URL", func(i *jobs.Image) { i.ImageURL = "https://u:p@example.com/disk.img" }, "image_url"},
		{"a path that climbs", func(i *jobs.Image) { i.InitrdURL = "u/../../etc/passwd" }, "initrd_url"},
		{"an absolute path", func(i *jobs.Image) { i.InitrdURL = "/etc/passwd" }, "initrd_url"},
		{"a hidden file", func(i *jobs.Image) { i.ISOURL = "u/.secret" }, "iso_url"},
		{"short checksum", func(i *jobs.Image) { i.SHA256 = "abc" }, "sha256"},
		{"checksum in capitals", func(i *jobs.Image) { i.SHA256 = strings.Repeat("AB", 32) }, "sha256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			img := good
			tt.edit(&img)
			err := img.Validate()
			switch {
			case tt.field == "" && err != nil:
				t.Errorf("Validate = %v, want valid", err)
			case tt.field != "" && (err == nil || jobs.AsError(err).Field != tt.field):
				t.Errorf("Validate = %v, want an error naming %s", err, tt.field)
			}
		})
	}
}

func TestResolveURL(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"u/vmlinuz":                     "http://10.0.2.2:8081/boot/files/u/vmlinuz",
		"https://example.com/u/vmlinuz": "https://example.com/u/vmlinuz",
		"":                              "",
	} {
		if got := jobs.ResolveURL("http://10.0.2.2:8081/", raw); got != want {
			t.Errorf("ResolveURL(%q) = %q, want %q", raw, got, want)
		}
	}
}
