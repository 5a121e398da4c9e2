package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/tinmanhq/tinman/scripts"
)

// demoBuildEstimate is how long the first build of the real demo image
// takes (build-installer.sh: 8 s on this machine's 2 loaded cores).
const demoBuildEstimate = "about 10 s"

// demoBuildNeeds are the Debian packages build-installer.sh reads.
const demoBuildNeeds = "busybox-static linux-image-amd64 syslinux syslinux-common mtools cpio"

// demoImagesDir is where `tinman dev --vms N` keeps the real demo image it
// builds: <user cache dir>/tinman/images-<version of the embedded build
// scripts>, so that a change to the installer builds it anew.
func demoImagesDir() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("the demo image's cache folder: %w (give --images-dir)", err)
	}
	return filepath.Join(cache, "tinman", "images-"+scripts.InstallerVersion()), nil
}

// buildDemo makes sure dir/tinman-demo holds a real demo image: vmlinuz
// and initrd.img (the installer), disk.img (a bootable OS that reports
// its name, tinman-demo). When it is missing it runs the embedded
// build-installer.sh, saying so on out, into a folder of its own that is
// then renamed into place (a concurrent build's result is kept).
func buildDemo(ctx context.Context, dir string, out io.Writer) error {
	final := filepath.Join(dir, demoImage)
	if _, err := os.Stat(filepath.Join(final, "disk.img")); err == nil {
		return nil
	}
	fmt.Fprintf(out, "Building the demo image %s into %s with scripts/build-installer.sh (first use only, %s)...\n", demoImage, final, demoBuildEstimate)
	start := time.Now()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("build the demo image: %w", err)
	}
	work, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return fmt.Errorf("build the demo image: %w", err)
	}
	defer os.RemoveAll(work)
	built := filepath.Join(work, demoImage)
	if err := runInstallerBuild(ctx, work, built); err != nil {
		return err
	}
	if err := os.Rename(built, final); err != nil && !exists(filepath.Join(final, "disk.img")) {
		return fmt.Errorf("build the demo image: %w", err)
	}
	fmt.Fprintf(out, "Built the demo image in %.0f s.\n", time.Since(start).Seconds())
	return nil
}

// runInstallerBuild runs the embedded build-installer.sh into built and
// names its files as the demo image's (vmlinuz, initrd.img).
func runInstallerBuild(ctx context.Context, work, built string) error {
	src := filepath.Join(work, "src")
	if err := scripts.WriteInstallerBuild(src); err != nil {
		return fmt.Errorf("build the demo image: %w", err)
	}
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(src, scripts.InstallerBuild), built, demoImage)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build the demo image (needs %s; docs/INSTALLER.md): %w\n%s", demoBuildNeeds, err, msg)
	}
	for from, to := range map[string]string{"kernel": "vmlinuz", "initrd": "initrd.img"} {
		if err := os.Rename(filepath.Join(built, from), filepath.Join(built, to)); err != nil {
			return fmt.Errorf("build the demo image: %w", err)
		}
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}
