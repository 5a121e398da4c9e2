// Package scripts holds the repository's scripts that the tinman binary
// runs itself: build-installer.sh and the installer's files, embedded so
// that `tinman dev --vms N` builds its demo image wherever it runs.
package scripts

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

//go:embed build-installer.sh installer
var installer embed.FS

// InstallerBuild is the path of build-installer.sh within the files
// WriteInstallerBuild writes.
const InstallerBuild = "build-installer.sh"

// WriteInstallerBuild writes build-installer.sh and installer/ into dir,
// as they are in the repository.
func WriteInstallerBuild(dir string) error {
	return fs.WalkDir(installer, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(path))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := installer.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, 0o755); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		return nil
	})
}

// InstallerVersion is a digest of the embedded build and installer files:
// what they build changes only when it does.
func InstallerVersion() string {
	h := sha256.New()
	_ = fs.WalkDir(installer, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, _ := installer.ReadFile(path)
		fmt.Fprintf(h, "%s %d\n", path, len(data))
		h.Write(data)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}
