package jobs

import (
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Image is an entry of the image catalogue: the disk image a provision
// writes, with its checksum, and what a machine boots to write it: the
// installer's kernel and initrd over the network, or an ISO through the
// BMC's virtual media. Provision and deploy requests name an image.
//
// Each URL is either absolute (http or https) or a path relative to the
// boot service's files (--images-dir), served as
// <boot-url>/boot/files/<path>.
type Image struct {
	Name string `json:"name"`
	// KernelURL and InitrdURL boot the installer (and the wiper).
	KernelURL string `json:"kernel_url"`
	InitrdURL string `json:"initrd_url"`
	// ISOURL is a bootable ISO for --boot virtual-media ("": none).
	ISOURL string `json:"iso_url,omitempty"`
	// ImageURL is the disk image the installer writes; SHA256 its checksum,
	// which the installer verifies before it writes.
	ImageURL  string    `json:"image_url"`
	SHA256    string    `json:"sha256"`
	CreatedAt time.Time `json:"created_at"`
}

var (
	imageNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}$`)
	// relativeURL is a path under the boot service's files: segments that
	// start with a letter or digit, so none is "." or "..".
	relativeURL = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*(/[A-Za-z0-9][A-Za-z0-9._+-]*)*$`)
	sha256Hex   = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ValidImageName reports whether name can name a catalogue image.
func ValidImageName(name string) bool { return imageNamePattern.MatchString(name) }

// Validate checks an image: its name, its URLs and its checksum. Fields
// are named as the API spells them.
func (img Image) Validate() error {
	if !ValidImageName(img.Name) {
		return Invalid("name", "must match "+imageNamePattern.String())
	}
	for _, u := range []struct{ field, value string }{
		{"kernel_url", img.KernelURL}, {"initrd_url", img.InitrdURL}, {"image_url", img.ImageURL},
	} {
		if u.value == "" {
			return Invalid(u.field, "is required")
		}
		if err := validImageURL(u.field, u.value); err != nil {
			return err
		}
	}
	if img.ISOURL != "" {
		if err := validImageURL("iso_url", img.ISOURL); err != nil {
			return err
		}
	}
	if !sha256Hex.MatchString(img.SHA256) {
		return Invalid("sha256", "must be the image's SHA-256: 64 hexadecimal digits in lower case")
	}
	return nil
}

// validImageURL checks one URL of an image: http or https with a host and
// no credentials in it, or a relative path under the boot service's files.
func validImageURL(field, raw string) error {
	if len(raw) > 2048 {
		return Invalid(field, "must be at most 2048 characters")
	}
	if relativeURL.MatchString(raw) {
		return nil
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return Invalid(field, "must be an http:// or https:// URL, or a path under the boot service's files (ubuntu/vmlinuz)")
	case u.User != nil:
		return Invalid(field, "must not hold credentials: they would reach every machine that boots it")
	case u.Fragment != "" || strings.ContainsAny(raw, " \t\r\n"):
		return Invalid(field, "must have no fragment and no white space")
	}
	return nil
}

// FilesPath is the boot service's path prefix of the files it serves.
const FilesPath = "/boot/files/"

// RelativeURL reports whether raw, one of an image's URLs, is a path
// under the boot service's files.
func RelativeURL(raw string) bool { return relativeURL.MatchString(raw) }

// ResolveURL returns raw, one of an image's URLs, as an absolute URL: a
// relative path becomes bootURL + FilesPath + path; an absolute URL is
// returned as it is.
func ResolveURL(bootURL, raw string) string {
	if !RelativeURL(raw) {
		return raw
	}
	return strings.TrimRight(bootURL, "/") + FilesPath + raw
}

// BootMethod is how a provision boots the server into its installer.
type BootMethod string

// The boot methods.
const (
	// BootNetwork is a one-time PXE boot: the firmware's PXE (or iPXE)
	// chains to the boot service, which answers by the server's boot MAC.
	BootNetwork BootMethod = "pxe"
	// BootVirtualMedia inserts the image's ISO through the BMC (Redfish)
	// and boots once from the virtual CD.
	BootVirtualMedia BootMethod = "virtual-media"
)

// BootMethods lists every boot method.
func BootMethods() []BootMethod { return []BootMethod{BootNetwork, BootVirtualMedia} }

// OrDefault returns m, or BootNetwork when m is empty.
func (m BootMethod) OrDefault() BootMethod {
	if m == "" {
		return BootNetwork
	}
	return m
}
