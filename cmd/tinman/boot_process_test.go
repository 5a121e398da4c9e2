package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestProcessAPIServesTheBootService: `tinman api --boot-addr` serves the
// boot service on its own listener, with no token, as the built binary:
// the chain script on --boot-url, a script by MAC, the files of
// --images-dir, and the installer's callbacks.
func TestProcessAPIServesTheBootService(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	dir := t.TempDir()
	if err := writeDemoFiles(filepath.Join(dir, demoImage)); err != nil {
		t.Fatal(err)
	}
	addr, bootAddr := freeLoopbackAddr(t), freeLoopbackAddr(t)
	const bootURL = "http://10.0.2.2:8081"
	c.role(t, "api", "--http-addr", addr, "--insecure-no-auth", "--boot-addr", bootAddr, "--boot-url", bootURL, "--images-dir", dir)
	boot := apiCaller{base: "http://" + bootAddr, client: &http.Client{Timeout: 10 * time.Second}}
	waitAPIStatus(t, boot, "/boot/chain.ipxe", http.StatusOK)
	if _, body := boot.call(t, "GET", "/boot/chain.ipxe", ""); body != "#!ipxe\nchain "+bootURL+"/boot/ipxe?mac=${net0/mac}\n" {
		t.Errorf("chain.ipxe %q: want it built on --boot-url", body)
	}
	if _, body := boot.call(t, "GET", "/boot/ipxe?mac="+simMAC(0), ""); body != "#!ipxe\nexit\n" {
		t.Errorf("the script of srv-1, available = %q, want exit", body)
	}
	if st, body := boot.call(t, "GET", "/boot/files/tinman-demo/disk.img", ""); st != http.StatusOK || !strings.Contains(body, "disk image") {
		t.Errorf("a file of --images-dir: %d %q", st, body)
	}
	if st, _ := boot.call(t, "POST", "/boot/callbacks/srv-1", `{"job_id":"x","token":"y","event":"installed"}`); st != http.StatusUnauthorized {
		t.Errorf("a callback with no boot pending: %d, want 401", st)
	}
	if st, _ := (apiCaller{base: "http://" + bootAddr}).call(t, "GET", "/v1/servers", ""); st != http.StatusNotFound {
		t.Errorf("the API on the boot listener: %d, want 404: the boot listener serves the boot routes only", st)
	}
}

// Boot settings that cannot work are refused at once (exit 2) naming the
// flag, before NATS or Redis is awaited.
func TestAPIRefusesBootSettings(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"--boot-addr", "nowhere"}, "--boot-addr"},
		{[]string{"--boot-addr", "127.0.0.1:0", "--images-dir", filepath.Join(os.TempDir(), "no-such-images-dir")}, "--images-dir"},
		{[]string{"--boot-addr", "127.0.0.1:0", "--boot-url", "ftp://10.0.2.2"}, "--boot-url"},
	} {
		args := append([]string{"api", "--insecure-no-auth", "--http-addr", "127.0.0.1:0", "--nats-url", "nats://127.0.0.1:1"}, c.args...)
		code, _, errOut := tinman(t, 10*time.Second, args...)
		if code != exitUsage || !strings.Contains(errOut, c.says) {
			t.Errorf("tinman %s: exit %d, stderr %q; want 2 naming %s", strings.Join(args, " "), code, errOut, c.says)
		}
	}
}
