package workers

import (
	"context"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/jobs"
)

// BootDeviceResult is the result of a boot-device job.
type BootDeviceResult struct {
	Device     jobs.BootDeviceName `json:"device"`
	Persistent bool                `json:"persistent"`
	EFI        bool                `json:"efi"`
}

func (w *Worker) bootDevice(ctx context.Context, _ *asynq.Task) error {
	run := RunFrom(ctx)
	var p jobs.BootDeviceParams
	if err := run.Params(&p); err != nil {
		return err
	}
	return w.withBMC(ctx, run, func(_ jobs.Server, b hardware) error {
		if err := setBootVerified(ctx, b, p); err != nil {
			return err
		}
		return run.SetResult(BootDeviceResult{Device: p.Device, Persistent: p.Persistent, EFI: p.EFI})
	})
}

// CodeBootDeviceUnverified says the BMC accepted a boot device and does not
// show it: some BMCs answer 200 to the change and keep another override.
const CodeBootDeviceUnverified jobs.Code = "boot_device_unverified"

// setBootVerified sets the boot device, then reads the override back where
// the BMC can tell (Redfish): a BMC that accepted the change and shows
// another device or persistence fails the job, not retried (sending the
// same change again would be answered the same way). Over IPMI bmclib
// cannot read it back, and the change is taken on trust.
func setBootVerified(ctx context.Context, b interface {
	BootControl
	BootReader
}, p jobs.BootDeviceParams) error {
	if err := b.SetBootDevice(ctx, p); err != nil {
		return err
	}
	got, err := b.BootOverride(ctx)
	switch {
	case jobs.CodeOf(err) == jobs.CodeUnsupportedOperation:
		zerolog.Ctx(ctx).Debug().Msg("boot override not readable on this BMC: taken on trust")
		return nil
	case err != nil:
		return err
	case got.Device != p.Device || got.Persistent != p.Persistent:
		return jobs.Errorf(CodeBootDeviceUnverified, false,
			"the BMC accepted boot device %s (persistent %v) and shows %s (persistent %v)", p.Device, p.Persistent, orNone(string(got.Device)), got.Persistent)
	}
	return nil
}
