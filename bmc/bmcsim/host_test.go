package bmcsim_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/tinmanhq/tinman/bmc/bmcsim"
)

// fakeHost is a Host that records what it is asked and can refuse.
type fakeHost struct {
	mu     sync.Mutex
	on     bool
	calls  []string
	refuse error
}

func (h *fakeHost) do(call string, next bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, call)
	if h.refuse != nil {
		return h.refuse
	}
	h.on = next
	return nil
}

func (h *fakeHost) PowerOn(_ context.Context, boot string) error { return h.do("on "+boot, true) }
func (h *fakeHost) PowerOff(context.Context) error               { return h.do("off", false) }
func (h *fakeHost) Restart(_ context.Context, boot string) error { return h.do("restart "+boot, true) }
func (h *fakeHost) InsertMedia(_ context.Context, image string) error {
	return h.do("insert "+image, h.Powered())
}
func (h *fakeHost) EjectMedia(context.Context) error { return h.do("eject", h.Powered()) }

func (h *fakeHost) Powered() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.on
}

func (h *fakeHost) Calls() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.calls)
}

func (h *fakeHost) set(on bool, refuse error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.on, h.refuse = on, refuse
}

// TestHost drives a BMC with a Host through real bmclib: each accepted power
// or media command reaches the Host with the boot target of the moment, a
// no-op does not, and the power read is the Host's.
func TestHost(t *testing.T) {
	t.Parallel()
	host := &fakeHost{}
	b := startBMC(t, bmcsim.Config{Host: host, InitialPowerState: bmcsim.PowerOn})
	cl := openClient(t, b)
	if got := mustPowerState(t, cl); got != bmcsim.PowerOff {
		t.Fatalf("power = %q, want the Host's Off (not InitialPowerState)", got)
	}
	steps := []struct {
		name string
		do   func(context.Context) (bool, error)
	}{
		{"pxe once", func(ctx context.Context) (bool, error) { return cl.SetBootDevice(ctx, "pxe", false, false) }},
		{"on", func(ctx context.Context) (bool, error) { return cl.SetPowerState(ctx, "on") }},
		{"on again: nothing sent", func(ctx context.Context) (bool, error) { return cl.SetPowerState(ctx, "on") }},
		{"disk for good", func(ctx context.Context) (bool, error) { return cl.SetBootDevice(ctx, "disk", true, false) }},
		{"cycle", func(ctx context.Context) (bool, error) { return cl.SetPowerState(ctx, "cycle") }},
		{"insert", func(ctx context.Context) (bool, error) {
			return cl.SetVirtualMedia(ctx, "CD", "http://127.0.0.1/x.iso")
		}},
		{"eject", func(ctx context.Context) (bool, error) { return cl.SetVirtualMedia(ctx, "CD", "") }},
		{"off", func(ctx context.Context) (bool, error) { return cl.SetPowerState(ctx, "off") }},
	}
	for _, s := range steps {
		if ok, err := s.do(callCtx(t)); !ok || err != nil {
			t.Fatalf("%s = %v, %v", s.name, ok, err)
		}
	}
	want := []string{"on Pxe", "restart Hdd", "insert http://127.0.0.1/x.iso", "eject", "off"}
	if got := host.Calls(); !slices.Equal(got, want) {
		t.Fatalf("host calls = %q, want %q", got, want)
	}
}

// TestHostPowerIsTheHosts: a guest that powers itself off reads Off, and the
// next "on" reaches the Host again.
func TestHostPowerIsTheHosts(t *testing.T) {
	t.Parallel()
	host := &fakeHost{}
	b := startBMC(t, bmcsim.Config{Host: host})
	cl := openClient(t, b)
	if ok, err := cl.SetPowerState(callCtx(t), "on"); !ok || err != nil {
		t.Fatalf("on = %v, %v", ok, err)
	}
	host.set(false, nil) // the guest halts
	if got := mustPowerState(t, cl); got != bmcsim.PowerOff {
		t.Fatalf("power = %q after the guest halted, want Off", got)
	}
	if ok, err := cl.SetPowerState(callCtx(t), "on"); !ok || err != nil {
		t.Fatalf("on again = %v, %v", ok, err)
	}
	if got, want := host.Calls(), []string{"on ", "on "}; !slices.Equal(got, want) {
		t.Fatalf("host calls = %q, want %q", got, want)
	}
	if b.PowerState() != bmcsim.PowerOn {
		t.Errorf("PowerState = %s, want On", b.PowerState())
	}
}

// TestHostRefusal: a command the Host fails is answered 500, not logged, and
// the power stays the Host's.
func TestHostRefusal(t *testing.T) {
	t.Parallel()
	host := &fakeHost{}
	b := startBMC(t, bmcsim.Config{Host: host})
	cl := openClient(t, b)
	host.set(false, errors.New("qemu would not start"))
	if ok, err := cl.SetPowerState(callCtx(t), "on"); ok || err == nil {
		t.Fatalf("on = %v, %v; want a failure", ok, err)
	}
	if ok, err := cl.SetVirtualMedia(callCtx(t), "CD", "http://127.0.0.1/x.iso"); ok || err == nil {
		t.Fatalf("insert = %v, %v; want a failure", ok, err)
	}
	if got := b.Commands(); len(got) != 0 {
		t.Errorf("commands = %v, want none logged", got)
	}
	if image, inserted := b.VirtualMedia(); inserted {
		t.Errorf("virtual media = %q inserted after the Host refused it", image)
	}
	if got := mustPowerState(t, cl); got != bmcsim.PowerOff {
		t.Errorf("power = %q, want Off", got)
	}
}
