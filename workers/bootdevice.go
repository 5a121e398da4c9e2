package workers

import (
	"context"

	"github.com/hibiken/asynq"

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
	return w.withBMC(ctx, run, func(_ jobs.Server, b BMC) error {
		if err := b.SetBootDevice(ctx, p); err != nil {
			return err
		}
		return run.SetResult(BootDeviceResult{Device: p.Device, Persistent: p.Persistent, EFI: p.EFI})
	})
}
