package bmctest

import (
	"strings"
	"testing"

	"github.com/tinmanhq/tinman/bmc/bmcsim"
	"github.com/tinmanhq/tinman/bmc/ipmisim"
	"github.com/tinmanhq/tinman/jobs"
)

// Redfish is the Target of the in-process Redfish simulator, bmcsim, driven
// through bmclib's redfish (gofish) provider.
func Redfish() Target {
	return Target{
		Name:  "redfish",
		Start: startRedfish,
		Lacks: map[Capability]string{
			CapPromptCancel: "bmclib's redfish provider connects with gofish.Connect, without the context, " +
				"and ignores it in later requests: a canceled call runs on until the HTTP client timeout " +
				"Open derived from CallTimeout",
		},
	}
}

func startRedfish(t *testing.T) Peer {
	t.Helper()
	b := bmcsim.New(bmcsim.Config{})
	if err := b.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("start Redfish simulator: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close %s: %v", b, err)
		}
	})
	user, pass := b.Credentials()
	return Peer{
		Server:      jobs.Server{ID: "sim-redfish", BMC: jobs.BMC{Address: b.Addr(), Provider: jobs.ProviderRedfish}},
		Credentials: jobs.Credentials{Username: user, Password: pass},
		Truth:       redfishTruth{b},
	}
}

// redfishTruth reads a bmcsim BMC.
type redfishTruth struct{ b *bmcsim.BMC }

func (r redfishTruth) Power() jobs.PowerState { return powerState(r.b.PowerState() == bmcsim.PowerOn) }

func (r redfishTruth) SetPower(_ testing.TB, on bool) {
	r.b.SetPowerState(map[bool]string{true: bmcsim.PowerOn, false: bmcsim.PowerOff}[on])
}

func (r redfishTruth) BootDevice() jobs.BootDeviceName {
	target, enabled := r.b.BootOverride()
	if enabled == "Disabled" {
		return ""
	}
	return redfishBootDevice(target)
}

func redfishBootDevice(target string) jobs.BootDeviceName {
	return map[string]jobs.BootDeviceName{
		"Pxe": jobs.BootPXE, "Hdd": jobs.BootDisk, "Cd": jobs.BootCDROM, "BiosSetup": jobs.BootBIOS,
	}[target]
}

func (r redfishTruth) Commands() []Command {
	var cmds []Command
	for _, c := range r.b.Commands() {
		cmd := Command{Time: c.Time, Op: OpOther, Native: strings.TrimSpace(c.Op + " " + c.Value + " " + c.Detail)}
		switch c.Op {
		case bmcsim.OpPower:
			cmd.Op = redfishResetOp(c.Value)
		case bmcsim.OpBoot:
			cmd.Op, cmd.Value = OpBoot, string(redfishBootDevice(c.Value))
		case bmcsim.OpManagerReset:
			cmd.Op = OpBMCReset
			cmd.Value = map[string]string{"ForceRestart": "cold", "GracefulRestart": "warm"}[c.Value]
		}
		cmds = append(cmds, cmd)
	}
	return cmds
}

// redfishResetOp names a ComputerSystem.Reset type in the suite's words.
func redfishResetOp(resetType string) Op {
	switch resetType {
	case "On", "ForceOn":
		return OpPowerOn
	case "ForceOff", "GracefulShutdown":
		return OpPowerOff
	case "PowerCycle":
		return OpPowerCycle
	case "ForceRestart", "GracefulRestart":
		return OpPowerReset
	}
	return OpOther
}

func (r redfishTruth) Disconnect(testing.TB) { r.b.Faults().SetOffline(true) }

// IPMI is the Target of OpenIPMI's ipmi_sim (bmc/ipmisim), driven through
// bmclib's ipmitool provider with cipher suite 3. Where ipmi_sim or ipmitool
// is missing, its cases skip (fail under CI=true).
func IPMI() Target {
	return Target{
		Name:  "ipmi",
		Start: startIPMI,
		Lacks: map[Capability]string{
			CapInventory:     "bmclib's ipmitool provider implements no inventory (no InventoryGetter)",
			CapWarmBMCReset:  "ipmi_sim does not implement a warm BMC reset: it answers mc reset warm with Invalid command",
			CapBMCResetTruth: "ipmi_sim carries out mc reset itself: the chassis script, the only truth, never sees it",
			CapVirtualMedia:  "bmclib's ipmitool provider has no virtual media (no VirtualMediaSetter)",
		},
	}
}

func startIPMI(t *testing.T) Peer {
	t.Helper()
	s := ipmisim.Start(t, 1)[0]
	user, pass := s.Credentials()
	return Peer{
		Server: jobs.Server{ID: "sim-ipmi", BMC: jobs.BMC{
			Address: s.Addr(), Provider: jobs.ProviderIPMI, CipherSuite: ipmisim.CipherSuite,
		}},
		Credentials: jobs.Credentials{Username: user, Password: pass},
		Truth:       ipmiTruth{s},
	}
}

// ipmiTruth reads an ipmi_sim's chassis files.
type ipmiTruth struct{ s *ipmisim.Sim }

func (i ipmiTruth) Power() jobs.PowerState { return powerState(i.s.Power()) }

func (i ipmiTruth) SetPower(t testing.TB, on bool) {
	t.Helper()
	if err := i.s.SetPower(on); err != nil {
		t.Fatal(err)
	}
}

func (i ipmiTruth) BootDevice() jobs.BootDeviceName { return ipmiBootDevice(i.s.Boot()) }

// ipmiBootDevice names ipmi_sim's boot selector; "default" is the hard disk.
func ipmiBootDevice(boot string) jobs.BootDeviceName {
	return map[string]jobs.BootDeviceName{
		"pxe": jobs.BootPXE, "default": jobs.BootDisk, "cdrom": jobs.BootCDROM, "bios": jobs.BootBIOS,
	}[boot]
}

func (i ipmiTruth) Commands() []Command {
	var cmds []Command
	for _, e := range i.s.Events() {
		cmd := Command{Time: e.Time, Op: OpOther, Native: e.Command}
		parm, value, _ := strings.Cut(e.Command, " ")
		switch {
		case parm == "power" && value == "1":
			cmd.Op = OpPowerOn
		case parm == "power" && value == "0", parm == "shutdown":
			cmd.Op = OpPowerOff
		case parm == "reset":
			cmd.Op = OpPowerReset
		case parm == "boot":
			cmd.Op, cmd.Value = OpBoot, string(ipmiBootDevice(value))
		}
		cmds = append(cmds, cmd)
	}
	return cmds
}

func (i ipmiTruth) Disconnect(testing.TB) { i.s.Stop() }

func powerState(on bool) jobs.PowerState {
	if on {
		return jobs.PowerStateOn
	}
	return jobs.PowerStateOff
}
