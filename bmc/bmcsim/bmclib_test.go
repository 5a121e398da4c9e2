package bmcsim_test

import (
	"context"
	"crypto/x509"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	bmclib "github.com/bmc-toolbox/bmclib/v2"
	"github.com/bmc-toolbox/bmclib/v2/bmc"

	"github.com/tinmanhq/tinman/bmc/bmcsim"
)

func TestOpenClose(t *testing.T) {
	t.Parallel()
	b := startBMC(t, bmcsim.Config{})
	user, pass := b.Credentials()
	cl := newClient(t, b, user, pass)
	if err := cl.Open(callCtx(t)); err != nil {
		t.Fatalf("Open: %v", err)
	}
	if got := cl.GetMetadata().SuccessfulOpenConns; !slices.Equal(got, []string{"gofish"}) {
		t.Errorf("SuccessfulOpenConns = %q, want [gofish]", got)
	}
	if n := b.SessionCount(); n != 1 {
		t.Errorf("sessions after Open = %d, want 1", n)
	}
	if err := cl.Close(callCtx(t)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := b.SessionCount(); n != 0 {
		t.Errorf("sessions after Close = %d, want 0 (logout)", n)
	}
}

func TestOpenRejected(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		user, pass string
		authFault  bool
	}{
		{name: "wrong password", user: "admin", pass: "nope"},
		{name: "wrong user", user: "root", pass: "password"},
		{name: "auth failure fault", user: "admin", pass: "password", authFault: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := startBMC(t, bmcsim.Config{})
			b.Faults().SetAuthFailure(tt.authFault)
			cl := newClient(t, b, tt.user, tt.pass)
			err := cl.Open(callCtx(t))
			if err == nil {
				_ = cl.Close(context.Background())
				t.Fatal("Open succeeded, want an authentication error")
			}
			if !strings.Contains(err.Error(), "401") {
				t.Errorf("Open error %q does not mention 401", err)
			}
			if n := b.SessionCount(); n != 0 {
				t.Errorf("sessions = %d, want 0", n)
			}
		})
	}
}

func TestCustomCredentials(t *testing.T) {
	t.Parallel()
	b := startBMC(t, bmcsim.Config{Username: "root", Password: "calvin"})
	if user, pass := b.Credentials(); user != "root" || pass != "calvin" {
		t.Fatalf("Credentials = %q/%q", user, pass)
	}
	cl := openClient(t, b)
	users, err := cl.ReadUsers(callCtx(t))
	if err != nil {
		t.Fatalf("ReadUsers: %v", err)
	}
	if len(users) != 1 || users[0]["Username"] != "root" {
		t.Errorf("ReadUsers = %v, want one user root", users)
	}
}

func TestTLSAndAuthModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		opts     func(b *bmcsim.BMC) []bmclib.Option
		sessions int
	}{
		{name: "insecure default", opts: func(*bmcsim.BMC) []bmclib.Option { return nil }, sessions: 1},
		{name: "verified with RootCAs", opts: func(b *bmcsim.BMC) []bmclib.Option {
			return []bmclib.Option{bmclib.WithSecureTLS(b.RootCAs())}
		}, sessions: 1},
		{name: "basic auth", opts: func(*bmcsim.BMC) []bmclib.Option {
			return []bmclib.Option{bmclib.WithRedfishUseBasicAuth(true)}
		}, sessions: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := startBMC(t, bmcsim.Config{})
			cl := openClient(t, b, tt.opts(b)...)
			if got := mustPowerState(t, cl); got != bmcsim.PowerOn {
				t.Errorf("GetPowerState = %q, want On", got)
			}
			if n := b.SessionCount(); n != tt.sessions {
				t.Errorf("sessions = %d, want %d", n, tt.sessions)
			}
		})
	}
}

func TestSecureTLSRejectsUntrustedCert(t *testing.T) {
	t.Parallel()
	b := startBMC(t, bmcsim.Config{})
	user, pass := b.Credentials()
	cl := newClient(t, b, user, pass, bmclib.WithSecureTLS(x509.NewCertPool()))
	if err := cl.Open(callCtx(t)); err == nil {
		_ = cl.Close(context.Background())
		t.Fatal("Open with an empty root pool succeeded, want a certificate error")
	}
}

func TestGetPowerState(t *testing.T) {
	t.Parallel()
	for _, state := range []string{bmcsim.PowerOn, bmcsim.PowerOff} {
		t.Run(state, func(t *testing.T) {
			t.Parallel()
			b := startBMC(t, bmcsim.Config{InitialPowerState: state})
			cl := openClient(t, b)
			if got := mustPowerState(t, cl); got != state {
				t.Errorf("GetPowerState = %q, want %q", got, state)
			}
			wantCommands(t, b)
		})
	}
}

// TestSetPowerState drives every bmclib power action from both states and
// checks the reply, the resulting state and the exact commands sent.
func TestSetPowerState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		initial   string
		action    string
		wantOK    bool
		wantErr   bool
		wantState string
		wantCmds  []string
	}{
		{name: "on from off", initial: "Off", action: "on", wantOK: true, wantState: "On", wantCmds: []string{"power:On"}},
		{name: "on when on sends nothing", initial: "On", action: "on", wantOK: true, wantState: "On"},
		{name: "off from on", initial: "On", action: "off", wantOK: true, wantState: "Off", wantCmds: []string{"power:ForceOff"}},
		{name: "off when off sends nothing", initial: "Off", action: "off", wantOK: true, wantState: "Off"},
		{name: "cycle from on", initial: "On", action: "cycle", wantOK: true, wantState: "On", wantCmds: []string{"power:ForceRestart"}},
		// bmclib refuses to cycle a host that is off, without asking the BMC.
		{name: "cycle from off refused by bmclib", initial: "Off", action: "cycle", wantErr: true, wantState: "Off"},
		{name: "reset from on", initial: "On", action: "reset", wantOK: true, wantState: "On", wantCmds: []string{"power:PowerCycle"}},
		{name: "reset from off powers on", initial: "Off", action: "reset", wantOK: true, wantState: "On", wantCmds: []string{"power:PowerCycle"}},
		// bmclib quirk: SystemPowerOff returns (false, nil) after a successful
		// GracefulShutdown, so the client reports failure although the BMC
		// accepted the command and the host does go Off.
		{name: "soft from on reports failure (bmclib quirk)", initial: "On", action: "soft", wantErr: true, wantState: "Off", wantCmds: []string{"power:GracefulShutdown"}},
		{name: "soft when off", initial: "Off", action: "soft", wantOK: true, wantState: "Off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := startBMC(t, bmcsim.Config{InitialPowerState: tt.initial})
			cl := openClient(t, b)
			ok, err := cl.SetPowerState(callCtx(t), tt.action)
			if (err != nil) != tt.wantErr || ok != tt.wantOK {
				t.Fatalf("SetPowerState(%q) = %v, %v; want ok=%v err=%v", tt.action, ok, err, tt.wantOK, tt.wantErr)
			}
			if got := mustPowerState(t, cl); got != tt.wantState {
				t.Errorf("GetPowerState = %q, want %q", got, tt.wantState)
			}
			wantCommands(t, b, tt.wantCmds...)
		})
	}
}

// TestCommandExactlyOnce proves one bmclib request yields exactly one command,
// stamped while the call was in flight.
func TestCommandExactlyOnce(t *testing.T) {
	t.Parallel()
	b := startBMC(t, bmcsim.Config{})
	cl := openClient(t, b)
	before := time.Now()
	if ok, err := cl.SetPowerState(callCtx(t), "reset"); !ok || err != nil {
		t.Fatalf("SetPowerState(reset) = %v, %v", ok, err)
	}
	after := time.Now()
	cmds := wantCommands(t, b, "power:PowerCycle")
	if at := cmds[0].Time; at.Before(before) || at.After(after) {
		t.Errorf("command time %v outside the call [%v, %v]", at, before, after)
	}
	if got := mustPowerState(t, cl); got != bmcsim.PowerOn {
		t.Errorf("GetPowerState = %q, want On", got)
	}
	wantCommands(t, b, "power:PowerCycle") // reads add nothing
}

func TestSendNMI(t *testing.T) {
	t.Parallel()
	b := startBMC(t, bmcsim.Config{})
	cl := openClient(t, b)
	if err := cl.SendNMI(callCtx(t)); err != nil {
		t.Fatalf("SendNMI: %v", err)
	}
	wantCommands(t, b, "power:Nmi")
	if got := b.PowerState(); got != bmcsim.PowerOn {
		t.Errorf("PowerState = %q, want On", got)
	}
}

func TestSetBootDevice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		persistent    bool
		efi           bool
		wantEnabled   string
		wantAfterBoot string
		wantMode      string
	}{
		{name: "pxe once is consumed on power on", wantEnabled: "Once", wantAfterBoot: "Disabled", efi: true, wantMode: "UEFI"},
		{name: "pxe once legacy", wantEnabled: "Once", wantAfterBoot: "Disabled", wantMode: "Legacy"},
		{name: "pxe continuous is kept", persistent: true, efi: true, wantEnabled: "Continuous", wantAfterBoot: "Continuous", wantMode: "UEFI"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := startBMC(t, bmcsim.Config{InitialPowerState: bmcsim.PowerOff})
			cl := openClient(t, b)
			if ok, err := cl.SetBootDevice(callCtx(t), "pxe", tt.persistent, tt.efi); !ok || err != nil {
				t.Fatalf("SetBootDevice = %v, %v", ok, err)
			}
			if target, enabled := b.BootOverride(); target != "Pxe" || enabled != tt.wantEnabled {
				t.Fatalf("BootOverride = %q, %q; want Pxe, %s", target, enabled, tt.wantEnabled)
			}
			cmds := wantCommands(t, b, "boot:Pxe")
			if want := "enabled=" + tt.wantEnabled + " mode=" + tt.wantMode; cmds[0].Detail != want {
				t.Errorf("boot command detail = %q, want %q", cmds[0].Detail, want)
			}
			override, err := cl.GetBootDeviceOverride(callCtx(t))
			if err != nil {
				t.Fatalf("GetBootDeviceOverride: %v", err)
			}
			want := bmc.BootDeviceOverride{IsPersistent: tt.persistent, IsEFIBoot: tt.efi, Device: bmc.BootDeviceTypePXE}
			if override != want {
				t.Errorf("GetBootDeviceOverride = %+v, want %+v", override, want)
			}

			if ok, err := cl.SetPowerState(callCtx(t), "on"); !ok || err != nil {
				t.Fatalf("SetPowerState(on) = %v, %v", ok, err)
			}
			cmds = wantCommands(t, b, "boot:Pxe", "power:On")
			if cmds[1].Boot != "Pxe" {
				t.Errorf("power on booted from %q, want Pxe", cmds[1].Boot)
			}
			if target, enabled := b.BootOverride(); target != "Pxe" || enabled != tt.wantAfterBoot {
				t.Errorf("BootOverride after boot = %q, %q; want Pxe, %s", target, enabled, tt.wantAfterBoot)
			}

			// The next reboot boots through the override only if it is kept.
			if ok, err := cl.SetPowerState(callCtx(t), "reset"); !ok || err != nil {
				t.Fatalf("SetPowerState(reset) = %v, %v", ok, err)
			}
			wantBoot := ""
			if tt.persistent {
				wantBoot = "Pxe"
			}
			if got := b.Commands()[2].Boot; got != wantBoot {
				t.Errorf("second boot from %q, want %q", got, wantBoot)
			}
		})
	}
}

func TestResetBMC(t *testing.T) {
	t.Parallel()
	tests := []struct {
		resetType string
		wantOK    bool
		wantCmds  []string
	}{
		{resetType: "GracefulRestart", wantOK: true, wantCmds: []string{"manager-reset:GracefulRestart"}},
		{resetType: "ForceRestart", wantOK: true, wantCmds: []string{"manager-reset:ForceRestart"}},
		// gofish checks the advertised AllowableValues and never sends it.
		{resetType: "PowerCycle"},
	}
	for _, tt := range tests {
		t.Run(tt.resetType, func(t *testing.T) {
			t.Parallel()
			b := startBMC(t, bmcsim.Config{})
			cl := openClient(t, b)
			ok, err := cl.ResetBMC(callCtx(t), tt.resetType)
			if ok != tt.wantOK || (err == nil) != tt.wantOK {
				t.Fatalf("ResetBMC(%s) = %v, %v; want ok=%v", tt.resetType, ok, err, tt.wantOK)
			}
			wantCommands(t, b, tt.wantCmds...)
			if got := mustPowerState(t, cl); got != bmcsim.PowerOn {
				t.Errorf("host power = %q after BMC reset, want On", got)
			}
		})
	}
}

func TestSetVirtualMedia(t *testing.T) {
	t.Parallel()
	b := startBMC(t, bmcsim.Config{})
	cl := openClient(t, b)
	const first, second = "http://127.0.0.1/a.iso", "http://127.0.0.1/b.iso"
	if ok, err := cl.SetVirtualMedia(callCtx(t), "CD", first); !ok || err != nil {
		t.Fatalf("SetVirtualMedia(first) = %v, %v", ok, err)
	}
	if image, inserted := b.VirtualMedia(); image != first || !inserted {
		t.Fatalf("VirtualMedia = %q, %v", image, inserted)
	}
	// A second insert ejects the first image.
	if ok, err := cl.SetVirtualMedia(callCtx(t), "CD", second); !ok || err != nil {
		t.Fatalf("SetVirtualMedia(second) = %v, %v", ok, err)
	}
	cmds := wantCommands(t, b, "virtual-media:InsertMedia", "virtual-media:EjectMedia", "virtual-media:InsertMedia")
	if cmds[2].Detail != second {
		t.Errorf("insert detail = %q, want %q", cmds[2].Detail, second)
	}
	if ok, err := cl.SetVirtualMedia(callCtx(t), "CD", ""); !ok || err != nil {
		t.Fatalf("SetVirtualMedia(eject) = %v, %v", ok, err)
	}
	if image, inserted := b.VirtualMedia(); image != "" || inserted {
		t.Errorf("after eject VirtualMedia = %q, %v", image, inserted)
	}
}

func TestInventory(t *testing.T) {
	t.Parallel()
	b := startBMC(t, bmcsim.Config{})
	cl := openClient(t, b)
	dev, err := cl.Inventory(callCtx(t))
	if err != nil {
		t.Fatalf("Inventory: %v", err)
	}
	id := b.Identity()
	if dev.Vendor != "Contoso" || dev.Model != "3500" || dev.Serial != id.SerialNumber {
		t.Errorf("vendor/model/serial = %q/%q/%q, want Contoso/3500/%s", dev.Vendor, dev.Model, dev.Serial, id.SerialNumber)
	}
	if len(dev.CPUs) != 2 || len(dev.Memory) != 4 || len(dev.NICs) != 1 {
		t.Fatalf("CPUs=%d Memory=%d NICs=%d, want 2, 4, 1", len(dev.CPUs), len(dev.Memory), len(dev.NICs))
	}
	if ports := dev.NICs[0].NICPorts; len(ports) != 1 || ports[0].MacAddress != id.MACAddress {
		t.Errorf("NIC ports = %+v, want one with MAC %s", ports, id.MACAddress)
	}
	if dev.BMC == nil || dev.BIOS == nil {
		t.Errorf("BMC=%v BIOS=%v, want both set", dev.BMC, dev.BIOS)
	}
	bios, err := cl.GetBiosConfiguration(callCtx(t))
	if err != nil || len(bios) == 0 {
		t.Errorf("GetBiosConfiguration = %d attrs, %v", len(bios), err)
	}
	sel, err := cl.GetSystemEventLog(callCtx(t))
	if err != nil || len(sel) != 1 {
		t.Errorf("GetSystemEventLog = %v, %v; want 1 entry", sel, err)
	}
	wantCommands(t, b)
}

func TestIdentity(t *testing.T) {
	t.Parallel()
	fixed := bmcsim.Identity{SerialNumber: "SN1", UUID: "00000000-0000-4000-8000-000000000001", MACAddress: "02:00:00:00:00:01"}
	if got := bmcsim.New(bmcsim.Config{Identity: fixed}).Identity(); got != fixed {
		t.Errorf("Identity = %+v, want %+v", got, fixed)
	}
	a, b := bmcsim.New(bmcsim.Config{}).Identity(), bmcsim.New(bmcsim.Config{}).Identity()
	if a.SerialNumber == b.SerialNumber || a.UUID == b.UUID || a.MACAddress == b.MACAddress {
		t.Errorf("two random identities share a field: %+v, %+v", a, b)
	}
	if _, err := net.ParseMAC(a.MACAddress); err != nil {
		t.Errorf("MAC %q: %v", a.MACAddress, err)
	}
}

func TestOnCommandHook(t *testing.T) {
	t.Parallel()
	got := make(chan bmcsim.Command, 16)
	b := startBMC(t, bmcsim.Config{OnCommand: func(c bmcsim.Command) { got <- c }})
	cl := openClient(t, b)
	for _, action := range []string{"off", "on"} {
		if ok, err := cl.SetPowerState(callCtx(t), action); !ok || err != nil {
			t.Fatalf("SetPowerState(%s) = %v, %v", action, ok, err)
		}
	}
	for _, want := range []string{"ForceOff", "On"} {
		select {
		case c := <-got:
			if c.Op != bmcsim.OpPower || c.Value != want {
				t.Errorf("hook got %s:%s, want power:%s", c.Op, c.Value, want)
			}
		case <-time.After(callTimeout):
			t.Fatalf("hook never received %s", want)
		}
	}
}

// TestPowerTransition checks that a power change shows only after the delay.
// Assertions are one-sided so they cannot flake on a slow machine: a reading
// taken entirely within the delay must show the old state, and the new state
// must never show before the delay has elapsed.
func TestPowerTransition(t *testing.T) {
	t.Parallel()
	const delay = 2 * time.Second
	tests := []struct {
		action, during, after, value string
	}{
		{action: "off", during: "On", after: "Off", value: "ForceOff"},
		{action: "reset", during: "Off", after: "On", value: "PowerCycle"},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			t.Parallel()
			b := startBMC(t, bmcsim.Config{PowerTransition: delay})
			cl := openClient(t, b)
			if ok, err := cl.SetPowerState(callCtx(t), tt.action); !ok || err != nil {
				t.Fatalf("SetPowerState(%s) = %v, %v", tt.action, ok, err)
			}
			accepted := wantCommands(t, b, "power:"+tt.value)[0].Time
			state := mustPowerState(t, cl)
			switch {
			case !time.Now().Before(accepted.Add(delay)):
				t.Logf("first reading came after the delay (slow machine); within-delay check skipped")
			case state != tt.during:
				t.Errorf("within the delay GetPowerState = %q, want %q", state, tt.during)
			}
			waitFor(t, "power "+tt.after, func() bool { return mustPowerState(t, cl) == tt.after })
			if seen := time.Now(); seen.Before(accepted.Add(delay)) {
				t.Errorf("%s seen %v after acceptance, before the %v delay", tt.after, seen.Sub(accepted), delay)
			}
		})
	}
}
