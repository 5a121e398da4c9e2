package bmcsim_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	bmclib "github.com/bmc-toolbox/bmclib/v2"

	"github.com/tinmanhq/tinman/bmc/bmcsim"
)

func TestFaultLatency(t *testing.T) {
	t.Parallel()
	const latency = 300 * time.Millisecond
	b := startBMC(t, bmcsim.Config{})
	cl := openClient(t, b)
	b.Faults().SetLatency(latency)
	if got := b.Faults().Latency(); got != latency {
		t.Fatalf("Latency = %v, want %v", got, latency)
	}
	start := time.Now()
	mustPowerState(t, cl)
	// GetPowerState is two requests (Systems, Systems/1): a lower bound only.
	if took := time.Since(start); took < 2*latency {
		t.Errorf("GetPowerState took %v with %v latency per request, want >= %v", took, latency, 2*latency)
	}
}

func TestFaultErrorRate(t *testing.T) {
	t.Parallel()
	b := startBMC(t, bmcsim.Config{})
	cl := openClient(t, b)
	b.Faults().SetErrorRate(1)
	if _, err := cl.GetPowerState(callCtx(t)); err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("GetPowerState with error rate 1 = %v, want a 500 error", err)
	}
	if ok, err := cl.SetPowerState(callCtx(t), "off"); ok || err == nil {
		t.Fatalf("SetPowerState with error rate 1 = %v, %v; want failure", ok, err)
	}
	// Login is exempt, so a new client can still open a session.
	user, pass := b.Credentials()
	status, _, _ := do(t, rawClient(b), b, rawRequest{method: http.MethodPost, path: "/redfish/v1/SessionService/Sessions",
		body: map[string]string{"UserName": user, "Password": pass}})
	if status != http.StatusCreated {
		t.Errorf("login with error rate 1 = %d, want 201", status)
	}
	b.Faults().SetErrorRate(0)
	if got := mustPowerState(t, cl); got != bmcsim.PowerOn {
		t.Errorf("GetPowerState after clearing = %q", got)
	}
	wantCommands(t, b)
}

func TestFaultErrorRateClamped(t *testing.T) {
	t.Parallel()
	f := bmcsim.New(bmcsim.Config{}).Faults()
	for in, want := range map[float64]float64{-1: 0, 0.25: 0.25, 7: 1} {
		f.SetErrorRate(in)
		if got := f.ErrorRate(); got != want {
			t.Errorf("SetErrorRate(%v) -> %v, want %v", in, got, want)
		}
	}
}

// TestFaultHangRawContext: a hung request ends when the client's request
// context is done, and the BMC answers again once the hang is lifted.
func TestFaultHangRawContext(t *testing.T) {
	t.Parallel()
	b := startBMC(t, bmcsim.Config{})
	c := rawClient(b)
	b.Faults().SetHang(true)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	resp, err := send(ctx, c, b, rawRequest{method: http.MethodGet, path: "/redfish/v1/"})
	if err == nil {
		resp.Body.Close()
		t.Fatalf("hung request answered %d", resp.StatusCode)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hung request error = %v, want deadline exceeded", err)
	}
	b.Faults().SetHang(false)
	authedGet(t, c, b, "/redfish/v1/Systems/1")
}

// TestFaultHangBMCLib: bmclib's redfish provider ignores the per-call context;
// its HTTP timeout is fixed at Open, from the Open context's deadline or the
// per-provider timeout, whichever is shorter. A hung BMC thus fails a call
// after that timeout, whatever the call's own deadline.
func TestFaultHangBMCLib(t *testing.T) {
	t.Parallel()
	const bound = 3 * time.Second
	tests := []struct {
		name        string
		openTimeout time.Duration
		opts        []bmclib.Option
	}{
		{name: "open context deadline", openTimeout: bound},
		{name: "per-provider timeout", openTimeout: openTimeout, opts: []bmclib.Option{bmclib.WithPerProviderTimeout(bound)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := startBMC(t, bmcsim.Config{})
			cl := openClientTimeout(t, b, tt.openTimeout, tt.opts...)
			b.Faults().SetHang(true)
			start := time.Now()
			if _, err := cl.GetPowerState(callCtx(t)); err == nil {
				t.Fatal("GetPowerState against a hung BMC succeeded")
			}
			if took := time.Since(start); took >= callTimeout {
				t.Errorf("GetPowerState took %v, want bounded by %v", took, bound)
			}
			b.Faults().SetHang(false)
			if got := mustPowerState(t, cl); got != bmcsim.PowerOn {
				t.Errorf("GetPowerState after hang = %q", got)
			}
		})
	}
}

func TestCloseReleasesHungRequests(t *testing.T) {
	t.Parallel()
	b := bmcsim.New(bmcsim.Config{})
	if err := b.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	b.Faults().SetHang(true)
	errc := make(chan error, 1)
	go func() {
		resp, err := send(context.Background(), rawClient(b), b, rawRequest{method: http.MethodGet, path: "/redfish/v1/"})
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond) // usually lets the request reach the handler; either way it must end
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-errc: // answered 503 or cut off: either way released
	case <-time.After(callTimeout):
		t.Fatal("hung request not released by Close")
	}
}

func TestFaultAuthFailure(t *testing.T) {
	t.Parallel()
	b := startBMC(t, bmcsim.Config{})
	cl := openClient(t, b)
	b.Faults().SetAuthFailure(true)
	if _, err := cl.GetPowerState(callCtx(t)); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("GetPowerState with auth failure = %v, want 401", err)
	}
	// The service root stays public.
	status, _, _ := do(t, rawClient(b), b, rawRequest{method: http.MethodGet, path: "/redfish/v1/"})
	if status != http.StatusOK {
		t.Errorf("service root with auth failure = %d, want 200", status)
	}
	b.Faults().SetAuthFailure(false)
	if got := mustPowerState(t, cl); got != bmcsim.PowerOn {
		t.Errorf("GetPowerState after clearing = %q", got)
	}
}

// TestFaultLying: commands are answered with success and logged as ignored,
// and nothing changes.
func TestFaultLying(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func(ctx context.Context, t *testing.T, b *bmcsim.BMC) (bool, error)
		want string
	}{
		{name: "off", want: "power:ForceOff", run: func(ctx context.Context, t *testing.T, b *bmcsim.BMC) (bool, error) {
			return openClient(t, b).SetPowerState(ctx, "off")
		}},
		{name: "reset", want: "power:PowerCycle", run: func(ctx context.Context, t *testing.T, b *bmcsim.BMC) (bool, error) {
			return openClient(t, b).SetPowerState(ctx, "reset")
		}},
		{name: "boot pxe", want: "boot:Pxe", run: func(ctx context.Context, t *testing.T, b *bmcsim.BMC) (bool, error) {
			return openClient(t, b).SetBootDevice(ctx, "pxe", false, true)
		}},
		{name: "bmc reset", want: "manager-reset:GracefulRestart", run: func(ctx context.Context, t *testing.T, b *bmcsim.BMC) (bool, error) {
			return openClient(t, b).ResetBMC(ctx, "GracefulRestart")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := startBMC(t, bmcsim.Config{})
			b.Faults().SetLying(true)
			target, enabled := b.BootOverride()
			if ok, err := tt.run(callCtx(t), t, b); !ok || err != nil {
				t.Fatalf("%s while lying = %v, %v; want reported success", tt.name, ok, err)
			}
			cmds := wantCommands(t, b, tt.want)
			if cmds[0].Detail != bmcsim.DetailIgnored {
				t.Errorf("detail = %q, want %q", cmds[0].Detail, bmcsim.DetailIgnored)
			}
			if got := b.PowerState(); got != bmcsim.PowerOn {
				t.Errorf("PowerState = %q, want On (unchanged)", got)
			}
			if gotT, gotE := b.BootOverride(); gotT != target || gotE != enabled {
				t.Errorf("BootOverride = %q/%q, want unchanged %q/%q", gotT, gotE, target, enabled)
			}
		})
	}
}

// TestFaultOffline: connections are refused while offline and the BMC comes
// back on the same port with its sessions intact.
func TestFaultOffline(t *testing.T) {
	t.Parallel()
	b := startBMC(t, bmcsim.Config{})
	cl := openClient(t, b)
	addr := b.Addr()

	b.Faults().SetOffline(true)
	if !b.Faults().Offline() {
		t.Fatal("Offline() = false after SetOffline(true)")
	}
	if conn, err := net.DialTimeout("tcp", addr, 5*time.Second); err == nil {
		conn.Close()
		t.Fatalf("dial %s succeeded while offline", addr)
	}
	if _, err := cl.GetPowerState(callCtx(t)); err == nil {
		t.Fatal("GetPowerState succeeded while offline")
	}

	b.Faults().SetOffline(false)
	if b.Faults().Offline() {
		t.Fatal("Offline() = true after SetOffline(false)")
	}
	if got := b.Addr(); got != addr {
		t.Fatalf("Addr after coming back = %s, want %s", got, addr)
	}
	if got := mustPowerState(t, cl); got != bmcsim.PowerOn {
		t.Errorf("GetPowerState after coming back = %q", got)
	}
}

func TestFaultOfflineBeforeStart(t *testing.T) {
	t.Parallel()
	b := bmcsim.New(bmcsim.Config{})
	b.Faults().SetOffline(true)
	if err := b.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	if conn, err := net.DialTimeout("tcp", b.Addr(), 5*time.Second); err == nil {
		conn.Close()
		t.Fatal("dial succeeded for a BMC started offline")
	}
	b.Faults().SetOffline(false)
	authedGet(t, rawClient(b), b, "/redfish/v1/Systems/1")
}
