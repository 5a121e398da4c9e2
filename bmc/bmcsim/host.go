package bmcsim

import (
	"context"
	"slices"
	"time"
)

// Host is a machine a BMC powers and boots for real, instead of the BMC's
// own model of one: a QEMU virtual machine (package qemu's Machine). The BMC
// hands it every power and virtual media change it accepts, and reads the
// power state from it, so a guest that powers itself off reads Off. The BMC
// does not own it: whoever made the Host closes it.
type Host interface {
	// PowerOn starts the machine booting from boot: the
	// BootSourceOverrideTarget of an active override ("Pxe", "Hdd", "Cd",
	// ...), or "" for the machine's default order.
	PowerOn(ctx context.Context, boot string) error
	// PowerOff cuts the power.
	PowerOff(ctx context.Context) error
	// Restart powers the machine off, if it runs, and on booting from boot.
	Restart(ctx context.Context, boot string) error
	// Powered reports whether the machine runs. It must not wait.
	Powered() bool
	// InsertMedia puts the image at a URL in the virtual CD.
	InsertMedia(ctx context.Context, image string) error
	// EjectMedia empties the virtual CD.
	EjectMedia(ctx context.Context) error
}

// restartTypes are the resets that power the host off and on again.
var restartTypes = []string{"PowerCycle", "ForceRestart", "GracefulRestart"}

// settle brings the model up to now and, with a Host, takes the power state
// from it. Caller holds b.mu.
func (b *BMC) settle(now time.Time) {
	b.machine.settle(now)
	if b.host == nil {
		return
	}
	b.machine.power = PowerOff
	if b.host.Powered() {
		b.machine.power = PowerOn
	}
}

// driveHost carries out on the Host what an accepted reset did to the model,
// whose power went from before to after.
func (b *BMC) driveHost(ctx context.Context, cmd Command, before, after string) error {
	switch {
	case cmd.Detail != "": // a no-op, or ignored by a lying BMC
		return nil
	case slices.Contains(restartTypes, cmd.Value):
		return b.host.Restart(ctx, cmd.Boot)
	case before == PowerOff && after == PowerOn:
		return b.host.PowerOn(ctx, cmd.Boot)
	case before == PowerOn && after == PowerOff:
		return b.host.PowerOff(ctx)
	}
	return nil
}

// driveMedia carries out a virtual media change on the Host.
func (b *BMC) driveMedia(ctx context.Context, next virtualMedia) error {
	if next.Inserted {
		return b.host.InsertMedia(ctx, next.Image)
	}
	return b.host.EjectMedia(ctx)
}
