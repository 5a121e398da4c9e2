package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/servicetest"
)

func TestCheckVMs(t *testing.T) {
	tests := []struct {
		n    int
		path string // PATH; "" keeps it
		want string // "" for no error
	}{
		{n: 0, path: t.TempDir()},
		{n: -1, want: "between 0 and 4"},
		{n: 5, want: "between 0 and 4"},
		{n: 1, path: t.TempDir(), want: "apt-get install qemu-system-x86 ipxe-qemu"},
	}
	for _, tt := range tests {
		if tt.path != "" {
			t.Setenv("PATH", tt.path)
		}
		err := checkVMs(tt.n)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("checkVMs(%d) = %v", tt.n, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || exitCode(err) != exitUsage):
			t.Errorf("checkVMs(%d) = %v (exit %d), want exit 2 with %q", tt.n, err, exitCode(err), tt.want)
		}
	}
}

func TestVMBootFile(t *testing.T) {
	t.Parallel()
	for url, want := range map[string]string{
		"":                       "",
		"http://10.0.2.2:8081":   "http://10.0.2.2:8081/boot/chain.ipxe",
		"http://10.0.2.2:8081/":  "http://10.0.2.2:8081/boot/chain.ipxe",
		"http://10.0.2.2/tinman": "http://10.0.2.2/tinman/boot/chain.ipxe",
	} {
		if got := vmBootFile(url); got != want {
			t.Errorf("vmBootFile(%q) = %q, want %q", url, got, want)
		}
	}
}

// TestDevVMs: `tinman dev --vms 1` enrols vm-01 beside the simulated fleet,
// and a power job starts and stops its QEMU through its Redfish BMC.
func TestDevVMs(t *testing.T) {
	t.Parallel()
	needVMs(t) // dev builds the real demo image for its VMs
	redisURL, _ := servicetest.Redis(t)
	s := startDevWith(t, redisURL, 1, func(c *devConfig) { c.VMs = 1 })
	srv, err := s.dev.backend.store.Server(t.Context(), "vm-01")
	if err != nil {
		t.Fatalf("vm-01: %v", err)
	}
	if srv.Labels["fleet"] != "vm" || srv.BMC.Address != s.dev.fleet.BMCs()[1].Addr() {
		t.Fatalf("vm-01 enrolled as %+v, want fleet=vm behind the second BMC", srv)
	}
	vm := s.dev.vms[0]
	for _, action := range []string{"on", "off"} {
		id := "dev-vm-" + action
		s.publish(t, "power", id, `{"id":"`+id+`","type":"power","server":"vm-01","params":{"action":"`+action+`"}}`)
		evs := s.collect(t, events.Filter{Job: id}, 60*time.Second, terminal)
		checkSequence(t, evs, events.JobQueued, events.JobStarted, events.JobSucceeded)
		if vm.Powered() != (action == "on") {
			t.Fatalf("after power %s the VM's QEMU runs: %v", action, vm.Powered())
		}
		if action == "on" {
			waitConsole(t, vm.ConsolePath(), "SeaBIOS", time.Minute)
		}
	}
}

// waitConsole fails the test unless text shows in the console log within d.
func waitConsole(t *testing.T, path, text string, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(100 * time.Millisecond) {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), text) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q not on the console within %s: %q", text, d, b)
		}
	}
}
