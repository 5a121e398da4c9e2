package bmcsim

import (
	"fmt"
	"time"
)

// Redfish BootSourceOverrideEnabled values.
const (
	bootDisabled   = "Disabled"
	bootOnce       = "Once"
	bootContinuous = "Continuous"
)

// systemResetTypes lists the ComputerSystem.Reset types the simulator accepts
// and advertises in ResetType@Redfish.AllowableValues. PowerCycle must be
// listed: without it bmclib's "reset" falls back to GracefulShutdown plus a
// 9 s off-poll.
func systemResetTypes() []string {
	return []string{
		"On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart",
		"Nmi", "ForceOn", "PushPowerButton", "PowerCycle",
	}
}

// managerResetTypes lists the Manager.Reset types accepted (as the mockup).
func managerResetTypes() []string { return []string{"ForceRestart", "GracefulRestart"} }

// bootTargets lists the accepted BootSourceOverrideTarget values: the mockup's
// list plus every target bmclib can map a boot device to.
func bootTargets() []string {
	return []string{
		"None", "Pxe", "Cd", "Usb", "Hdd", "BiosSetup", "Utilities", "Diags",
		"SDCard", "UefiTarget", "Floppy", "RemoteDrive", "UefiHttp",
	}
}

func bootEnabledValues() []string { return []string{bootDisabled, bootOnce, bootContinuous} }

func bootModes() []string { return []string{"UEFI", "Legacy"} }

// bootOverride is the Boot object of Systems/1.
type bootOverride struct {
	Target, Enabled, Mode string
}

// active reports whether the host will boot through the override.
func (o bootOverride) active() bool { return o.Enabled == bootOnce || o.Enabled == bootContinuous }

// virtualMedia is the state of Managers/1/VirtualMedia/CD.
type virtualMedia struct {
	Image                    string
	Inserted, WriteProtected bool
}

// powerStep is a scheduled change of the reported power state.
type powerStep struct {
	at    time.Time
	state string
	boots bool // the host boots here: a "Once" boot override is consumed
}

// machine is the host as the BMC sees it. It is not safe for concurrent use;
// BMC.mu guards it. Power changes are modelled as a schedule of steps that is
// settled lazily against the clock, so no timers or goroutines are needed.
type machine struct {
	power string // reported power state once settled
	steps []powerStep
	boot  bootOverride
	media virtualMedia
}

func newMachine(initial string) machine {
	state, ok := parsePowerState(initial)
	if !ok {
		state = PowerOn
	}
	return machine{
		power: state,
		boot:  bootOverride{Target: "None", Enabled: bootDisabled, Mode: "UEFI"},
	}
}

// settle applies every step due at now.
func (m *machine) settle(now time.Time) {
	i := 0
	for ; i < len(m.steps) && !m.steps[i].at.After(now); i++ {
		step := m.steps[i]
		m.power = step.state
		if step.boots && m.boot.Enabled == bootOnce {
			m.boot.Enabled = bootDisabled
		}
	}
	m.steps = m.steps[i:]
}

// force sets the power state immediately, dropping pending steps.
func (m *machine) force(state string) {
	m.steps = nil
	m.power = state
}

// target is the power state the host is heading to.
func (m *machine) target() string {
	if n := len(m.steps); n > 0 {
		return m.steps[n-1].state
	}
	return m.power
}

// reset applies an accepted ComputerSystem.Reset at now and returns the
// command to log. Semantics (modelled on iDRAC):
//   - On, ForceOn: power on (no-op when already on or heading on).
//   - ForceOff, GracefulShutdown: power off (no-op when already off).
//   - PushPowerButton: toggle.
//   - PowerCycle, ForceRestart, GracefulRestart: reported Off for the
//     transition delay, then On. From Off they simply power the host on, as
//     iDRAC does for PowerCycle.
//   - Nmi: logged only.
func (m *machine) reset(resetType string, now time.Time, delay time.Duration) Command {
	m.settle(now)
	cmd := Command{Time: now, Op: OpPower, Value: resetType}
	switch resetType {
	case "On", "ForceOn":
		m.switchTo(PowerOn, now, delay, &cmd)
	case "ForceOff", "GracefulShutdown":
		m.switchTo(PowerOff, now, delay, &cmd)
	case "PushPowerButton":
		if m.target() == PowerOn {
			m.switchTo(PowerOff, now, delay, &cmd)
		} else {
			m.switchTo(PowerOn, now, delay, &cmd)
		}
	case "PowerCycle", "ForceRestart", "GracefulRestart":
		cmd.Boot = m.bootTarget()
		m.steps = []powerStep{{at: now, state: PowerOff}, {at: now.Add(delay), state: PowerOn, boots: true}}
	}
	m.settle(now)
	return cmd
}

// switchTo schedules a transition to state unless the host already heads there.
func (m *machine) switchTo(state string, now time.Time, delay time.Duration, cmd *Command) {
	if m.target() == state {
		cmd.Detail = fmt.Sprintf("no-op: already %s", state)
		return
	}
	boots := state == PowerOn
	if boots {
		cmd.Boot = m.bootTarget()
	}
	m.steps = []powerStep{{at: now.Add(delay), state: state, boots: boots}}
}

// bootTarget is the override target the host would boot from now, or "".
func (m *machine) bootTarget() string {
	if m.boot.active() {
		return m.boot.Target
	}
	return ""
}
