package scripts_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tinmanhq/tinman/scripts"
)

// The files written are the repository's, byte for byte, and the version
// is a stable 12-digit digest.
func TestWriteInstallerBuild(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := scripts.WriteInstallerBuild(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{scripts.InstallerBuild, "installer/lib.sh", "installer/installer-init", "installer/os-init", "installer/udhcpc.script"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s not written: %v", name, err)
		}
		want, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s differs from the repository's", name)
		}
	}
	if v := scripts.InstallerVersion(); len(v) != 12 || v != scripts.InstallerVersion() {
		t.Errorf("InstallerVersion() = %q, want 12 stable hex digits", v)
	}
}
