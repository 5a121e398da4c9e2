// Package bmctest is the conformance suite for Tinman's BMC port: one set of
// cases that every kind of BMC peer must pass when driven through bmc.Dialer
// and bmc.Session, that is through the real bmclib code. A peer is described
// by a Target: how to start one, the jobs.Server and jobs.Credentials that
// reach it, how to read the truth behind Tinman's back (power, boot device,
// the commands the BMC carried out), and the capabilities it lacks, each with
// its reason. Redfish and IPMI return the Targets of the project's two peers:
// the in-process Redfish simulator (bmc/bmcsim) and OpenIPMI's ipmi_sim
// (bmc/ipmisim). Only tests use it.
package bmctest

import (
	"testing"
	"time"

	"github.com/tinmanhq/tinman/jobs"
)

// DefaultCallTimeout is bmc.Config.CallTimeout in every case unless the
// Target sets its own.
const DefaultCallTimeout = 3 * time.Second

// Target describes one kind of BMC peer.
type Target struct {
	// Name labels the latency lines of the log ("redfish", "ipmi").
	Name string
	// Start starts a fresh peer for one case. The peer is stopped when t ends.
	Start func(t *testing.T) Peer
	// Lacks maps each capability the peer lacks to the reason. The case that
	// needs it runs a weaker check instead (a lacking operation must be
	// refused as unsupported_operation, not retryable), then skips with the
	// reason.
	Lacks map[Capability]string
	// CallTimeout is bmc.Config.CallTimeout (default DefaultCallTimeout).
	CallTimeout time.Duration
}

// Capability is something a peer may lack.
type Capability string

// The capabilities a Target may lack.
const (
	// CapInventory: reading the hardware inventory.
	CapInventory Capability = "inventory"
	// CapWarmBMCReset: a warm (graceful) reset of the BMC.
	CapWarmBMCReset Capability = "warm BMC reset"
	// CapBMCResetTruth: the truth shows BMC resets in Truth.Commands. Without
	// it the reset cases check only that the reset was sent and the BMC
	// answers afterwards.
	CapBMCResetTruth Capability = "BMC resets in the command log"
	// CapVirtualMedia: inserting an ISO in the virtual CD, reading it back
	// and ejecting it.
	CapVirtualMedia Capability = "virtual media"
	// CapPromptCancel: a call whose context is canceled returns at once.
	// Without it the call still ends, as canceled, within CallTimeout.
	CapPromptCancel Capability = "prompt cancellation"
)

// Peer is one running BMC.
type Peer struct {
	Server      jobs.Server
	Credentials jobs.Credentials
	Truth       Truth
}

// Truth reads and sets a peer's state behind Tinman's back.
type Truth interface {
	// Power is the host's power state.
	Power() jobs.PowerState
	// SetPower forces the host's power state, for setup. It is not a command
	// and does not appear in Commands.
	SetPower(t testing.TB, on bool)
	// BootDevice is the boot device override in force, "" when there is none.
	BootDevice() jobs.BootDeviceName
	// Commands is what the BMC carried out, oldest first.
	Commands() []Command
	// Disconnect takes the BMC off the network: its port stops answering.
	Disconnect(t testing.TB)
}

// Command is one thing a BMC carried out, in the suite's words.
type Command struct {
	Time time.Time
	Op   Op
	// Value is the boot device (OpBoot) or the reset kind (OpBMCReset).
	Value string
	// Native is the command in the peer's own words, for failure messages.
	Native string
}

// String formats the command for failure messages.
func (c Command) String() string {
	s := string(c.Op)
	if c.Value != "" {
		s += " " + c.Value
	}
	return s + " (" + c.Native + ")"
}

// Op is a kind of command.
type Op string

// The commands a BMC carries out.
const (
	OpPowerOn    Op = "power-on"
	OpPowerOff   Op = "power-off"   // hard or graceful
	OpPowerCycle Op = "power-cycle" // power removed, then restored, in one command
	OpPowerReset Op = "power-reset" // restart without removing power
	OpBoot       Op = "boot"        // Value: pxe, disk, cdrom, bios
	OpBMCReset   Op = "bmc-reset"   // Value: warm, cold
	OpOther      Op = "other"       // anything else the peer logs
)
