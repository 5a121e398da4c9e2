package workers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

// Codes of the workflows' waits.
const (
	CodeInstallerTimeout jobs.Code = "installer_timeout"
	CodeBootTimeout      jobs.Code = "boot_timeout"
	CodeWipeTimeout      jobs.Code = "wipe_timeout"
)

// ProvisionResult is the result of a provision job.
type ProvisionResult struct {
	Image string           `json:"image"`
	State jobs.ServerState `json:"state"`
}

// provision installs an OS: power off, one-time PXE boot into the installer,
// power on, wait for "installed", boot from disk, power cycle, wait for
// "booted"; the server becomes active. Each step is checkpointed.
func (w *Worker) provision(ctx context.Context, _ *asynq.Task) error {
	run := RunFrom(ctx)
	var p jobs.ProvisionParams
	if err := run.Params(&p); err != nil {
		return err
	}
	lc, _ := jobs.LifecycleOf(jobs.Provision)
	return w.withLifecycle(ctx, run, lc, func(b hardware) []Step {
		return []Step{
			{"power-off", w.powerStep(run, b, jobs.PowerOff)},
			{"pxe-once", w.netbootStep(run, b, "install", p.Image)},
			{"power-on", w.powerStep(run, b, jobs.PowerOn)},
			{"installed", func(ctx context.Context) error {
				return w.awaitCallback(ctx, run, b, store.CallbackInstalled, w.cfg.InstallerTimeout, CodeInstallerTimeout)
			}},
			{"boot-disk", func(ctx context.Context) error {
				return setBootVerified(ctx, b, jobs.BootDeviceParams{Device: jobs.BootDisk, Persistent: true})
			}},
			{"power-cycle", w.powerStep(run, b, jobs.PowerCycle)},
			{"booted", func(ctx context.Context) error {
				return w.awaitCallback(ctx, run, b, store.CallbackBooted, w.cfg.InstallerTimeout, CodeBootTimeout)
			}},
			{"activate", w.finishLifecycle(run, lc, ProvisionResult{Image: p.Image, State: lc.After})},
		}
	})
}

// deprovision wipes a server and returns it to the pool: power off, one-time
// PXE boot into the wiper, power on, wait for "wiped", power off; the server
// becomes available.
func (w *Worker) deprovision(ctx context.Context, _ *asynq.Task) error {
	run := RunFrom(ctx)
	lc, _ := jobs.LifecycleOf(jobs.Deprovision)
	return w.withLifecycle(ctx, run, lc, func(b hardware) []Step {
		return []Step{
			{"power-off", w.powerStep(run, b, jobs.PowerOff)},
			{"pxe-once", w.netbootStep(run, b, "wipe", "")},
			{"power-on", w.powerStep(run, b, jobs.PowerOn)},
			{"wiped", func(ctx context.Context) error {
				return w.awaitCallback(ctx, run, b, store.CallbackWiped, w.cfg.InstallerTimeout, CodeWipeTimeout)
			}},
			{"power-off-final", w.powerStep(run, b, jobs.PowerOff)},
			{"release", w.finishLifecycle(run, lc, ProvisionResult{State: lc.After})},
		}
	})
}

// withLifecycle makes sure the server is in the job's transitional state
// (the dispatcher moved it there already; this is idempotent), then runs the
// workflow's steps on one BMC session.
func (w *Worker) withLifecycle(ctx context.Context, run *Run, lc jobs.Lifecycle, steps func(hardware) []Step) error {
	if _, err := w.servers.TransitionServer(ctx, run.Job.Server, lc.From, lc.During, run.Job.ID, string(run.Job.Type)); err != nil {
		return err
	}
	return w.withBMC(ctx, run, func(_ jobs.Server, b hardware) error {
		return w.runSteps(ctx, run, steps(b))
	})
}

func (w *Worker) powerStep(run *Run, b hardware, action jobs.PowerAction) func(context.Context) error {
	return func(ctx context.Context) error {
		state, err := w.powerAction(ctx, b, action)
		if err != nil {
			return err
		}
		return w.servers.SetPowerState(ctx, run.Job.Server, state)
	}
}

// netbootStep sets a one-time PXE boot and the boot configuration the
// network boot service gives the machine: what to do, and the per-job token
// its callbacks must carry.
func (w *Worker) netbootStep(run *Run, b hardware, purpose, image string) func(context.Context) error {
	return func(ctx context.Context) error {
		token := make([]byte, 32)
		_, _ = rand.Read(token)
		cfg := store.BootConfig{Server: run.Job.Server, JobID: run.Job.ID, Purpose: purpose, Image: image,
			Token: hex.EncodeToString(token), Expires: time.Now().Add(2*w.cfg.InstallerTimeout + time.Hour)}
		if err := w.boot.SetBootConfig(ctx, cfg); err != nil {
			return err
		}
		return setBootVerified(ctx, b, jobs.BootDeviceParams{Device: jobs.BootPXE})
	}
}

// finishLifecycle is the last step: the boot configuration goes, the server
// reaches the state after the job.
func (w *Worker) finishLifecycle(run *Run, lc jobs.Lifecycle, result any) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := w.boot.ClearBootConfig(ctx, run.Job.Server, run.Job.ID); err != nil {
			return err
		}
		if _, err := w.servers.TransitionServer(ctx, run.Job.Server, []jobs.ServerState{lc.During}, lc.After, run.Job.ID, string(run.Job.Type)+" done"); err != nil {
			return err
		}
		return run.SetResult(result)
	}
}
