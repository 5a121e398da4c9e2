package workers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

// Codes of the workflows' waits and boots.
const (
	CodeInstallerTimeout jobs.Code = "installer_timeout"
	CodeBootTimeout      jobs.Code = "boot_timeout"
	CodeWipeTimeout      jobs.Code = "wipe_timeout"
	// CodeMediaUnverified: the BMC accepted the virtual media and does not
	// read it back inserted with the image's URL.
	CodeMediaUnverified jobs.Code = "virtual_media_unverified"
)

// ProvisionResult is the result of a provision job. BootedImage is the
// image the OS booted from the disk reported finding there (its booted
// callback's image), when it said.
type ProvisionResult struct {
	Image       string           `json:"image"`
	State       jobs.ServerState `json:"state"`
	BootedImage string           `json:"booted_image,omitempty"`
}

// provision installs an OS: power off, a one-time boot into the installer
// (PXE, or the image's ISO in the virtual CD), power on, wait for
// "installed", boot from disk, power cycle, wait for "booted"; the server
// becomes active. Each step is checkpointed. The virtual CD is ejected at
// the end, whatever the end.
func (w *Worker) provision(ctx context.Context, _ *asynq.Task) error {
	run := RunFrom(ctx)
	var p jobs.ProvisionParams
	if err := run.Params(&p); err != nil {
		return err
	}
	method := p.Boot.OrDefault()
	lc, _ := jobs.LifecycleOf(jobs.Provision)
	wf := func(srv jobs.Server, b hardware) []Step {
		steps := []Step{
			{"power-off", w.powerStep(run, b, jobs.PowerOff)},
			w.bootOnceStep(run, srv, b, method, "install", p.Image),
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
		}
		if method == jobs.BootVirtualMedia {
			steps = append(steps, Step{"eject-media", b.EjectMedia})
		}
		return append(steps, Step{"activate", func(ctx context.Context) error {
			booted, err := w.boot.CallbackDetail(ctx, run.Job.ID, store.CallbackBooted)
			if err != nil {
				return err
			}
			return w.finishLifecycle(run, lc, p.Image, ProvisionResult{Image: p.Image, State: lc.After, BootedImage: booted})(ctx)
		}})
	}
	var atEnd func(context.Context, hardware)
	if method == jobs.BootVirtualMedia {
		atEnd = ejectMedia
	}
	return w.withLifecycle(ctx, run, lc, wf, atEnd)
}

// deprovision wipes a server and returns it to the pool: power off, one-time
// PXE boot into the wiper, power on, wait for "wiped", power off; the server
// becomes available.
func (w *Worker) deprovision(ctx context.Context, _ *asynq.Task) error {
	run := RunFrom(ctx)
	var p jobs.DeprovisionParams
	if err := run.Params(&p); err != nil {
		return err
	}
	lc, _ := jobs.LifecycleOf(jobs.Deprovision)
	return w.withLifecycle(ctx, run, lc, func(srv jobs.Server, b hardware) []Step {
		return []Step{
			{"power-off", w.powerStep(run, b, jobs.PowerOff)},
			w.bootOnceStep(run, srv, b, jobs.BootNetwork, "wipe", w.wipeImage(p, srv)),
			{"power-on", w.powerStep(run, b, jobs.PowerOn)},
			{"wiped", func(ctx context.Context) error {
				return w.awaitCallback(ctx, run, b, store.CallbackWiped, w.cfg.InstallerTimeout, CodeWipeTimeout)
			}},
			{"power-off-final", w.powerStep(run, b, jobs.PowerOff)},
			{"release", w.finishLifecycle(run, lc, "", ProvisionResult{State: lc.After})},
		}
	}, nil)
}

// wipeImage is the image whose kernel and initrd boot a deprovision's
// wiper: the one it names, else the workers' installer image, else the one
// the server was last provisioned with ("" when there is none).
func (w *Worker) wipeImage(p jobs.DeprovisionParams, srv jobs.Server) string {
	switch {
	case p.Image != "":
		return p.Image
	case w.cfg.InstallerImage != "":
		return w.cfg.InstallerImage
	}
	return srv.Image
}

// withLifecycle makes sure the server is in the job's transitional state
// (the dispatcher moved it there already; this is idempotent), then runs the
// workflow's steps on one BMC session. When the run ends the job with an
// error (not a wait, not an attempt that is retried), atEnd, if any, runs
// on the session.
func (w *Worker) withLifecycle(ctx context.Context, run *Run, lc jobs.Lifecycle, steps func(jobs.Server, hardware) []Step,
	atEnd func(context.Context, hardware)) error {
	if _, err := w.servers.TransitionServer(ctx, run.Job.Server, lc.From, lc.During, run.Job.ID, string(run.Job.Type)); err != nil {
		return err
	}
	return w.withBMC(ctx, run, func(srv jobs.Server, b hardware) error {
		err := w.runSteps(ctx, run, steps(srv, b))
		if err != nil && atEnd != nil && ctx.Err() == nil && endsJob(run.Job, err) {
			atEnd(ctx, b)
		}
		return err
	})
}

// endsJob reports whether a workflow's run that failed with err ends its
// job: not a wait, and no attempt follows.
func endsJob(job jobs.Job, err error) bool {
	if errors.As(err, new(*waitError)) {
		return false
	}
	return errors.Is(err, errCanceled) || !retried(job, jobs.AsError(err), err)
}

// ejectMedia ejects the virtual CD at the end of a job that inserted it;
// a failure is logged: the next insert ejects it first anyway.
func ejectMedia(ctx context.Context, b hardware) {
	if err := b.EjectMedia(ctx); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("eject the virtual media")
	}
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

// bootOnceStep stores the boot configuration the boot service gives the
// machine (what to do, with a copy of the image's URLs, and the per-job
// token its metadata and callbacks are known by), then sets a one-time
// boot into it: PXE ("pxe-once"), or the image's ISO in the virtual CD,
// read back, and the CD ("media-once").
func (w *Worker) bootOnceStep(run *Run, srv jobs.Server, b hardware, method jobs.BootMethod, purpose, image string) Step {
	name := "pxe-once"
	if method == jobs.BootVirtualMedia {
		name = "media-once"
	}
	return Step{name, func(ctx context.Context) error {
		img, err := w.bootImage(ctx, run, image)
		if err != nil {
			return err
		}
		token := make([]byte, 32)
		_, _ = rand.Read(token)
		cfg := store.BootConfig{Server: srv.ID, JobID: run.Job.ID, Purpose: purpose, Boot: method, MAC: srv.BootMAC,
			Token: hex.EncodeToString(token), Expires: time.Now().Add(2*w.cfg.InstallerTimeout + time.Hour)}
		cfg.ImageOf(img)
		if err := w.boot.SetBootConfig(ctx, cfg); err != nil {
			return err
		}
		if method == jobs.BootVirtualMedia {
			return w.bootFromMedia(ctx, b, img)
		}
		return setBootVerified(ctx, b, jobs.BootDeviceParams{Device: jobs.BootPXE})
	}}
}

// bootImage reads the catalogue entry a boot uses; an image that is not
// (or no longer) there fails the job, naming params.image.
func (w *Worker) bootImage(ctx context.Context, run *Run, name string) (jobs.Image, error) {
	if name == "" {
		return jobs.Image{}, &jobs.Error{Code: jobs.CodeInvalidRequest, Field: "params.image",
			Message: fmt.Sprintf("no image to boot the wiper of %s: give params.image, or the workers' --installer-image", run.Job.Server)}
	}
	img, err := w.images.Image(ctx, name)
	if jobs.CodeOf(err) == jobs.CodeNotFound {
		return img, &jobs.Error{Code: jobs.CodeNotFound, Field: "params.image", Message: fmt.Sprintf("image %s is not in the catalogue", name)}
	}
	return img, err
}

// bootFromMedia inserts img's ISO in the virtual CD, reads it back
// inserted with that URL, and sets a one-time boot from the CD.
func (w *Worker) bootFromMedia(ctx context.Context, b hardware, img jobs.Image) error {
	url := jobs.ResolveURL(w.cfg.BootURL, img.ISOURL)
	switch {
	case img.ISOURL == "":
		return &jobs.Error{Code: jobs.CodeInvalidRequest, Field: "params.boot", Message: fmt.Sprintf("image %s has no iso_url", img.Name)}
	case jobs.RelativeURL(img.ISOURL) && w.cfg.BootURL == "":
		return &jobs.Error{Code: jobs.CodeInvalidRequest, Field: "params.boot",
			Message: fmt.Sprintf("image %s's iso_url %s is a path of the boot service's files, and the workers have no --boot-url to make it a URL", img.Name, img.ISOURL)}
	}
	if err := b.InsertMedia(ctx, url); err != nil {
		return err
	}
	got, err := b.VirtualMedia(ctx)
	if err != nil {
		return err
	}
	if !got.Inserted || got.Image != url {
		return jobs.Errorf(CodeMediaUnverified, false, "the BMC accepted virtual media %s and reads back %q (inserted %v)", url, got.Image, got.Inserted)
	}
	return setBootVerified(ctx, b, jobs.BootDeviceParams{Device: jobs.BootCDROM})
}

// finishLifecycle is the last step: the boot configuration goes, the
// server records the image it was provisioned with (image, when not ""),
// and reaches the state after the job.
func (w *Worker) finishLifecycle(run *Run, lc jobs.Lifecycle, image string, result any) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := w.boot.ClearBootConfig(ctx, run.Job.Server, run.Job.ID); err != nil {
			return err
		}
		if image != "" {
			if err := w.servers.SetProvisionedImage(ctx, run.Job.Server, image); err != nil {
				return err
			}
		}
		if _, err := w.servers.TransitionServer(ctx, run.Job.Server, []jobs.ServerState{lc.During}, lc.After, run.Job.ID, string(run.Job.Type)+" done"); err != nil {
			return err
		}
		return run.SetResult(result)
	}
}
