package workers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

// Step is one checkpointed step of a workflow.
type Step struct {
	Name string
	Run  func(ctx context.Context) error
}

// errCanceled ends a workflow that was asked to stop, at a step boundary.
var errCanceled = errors.New("canceled")

// waitError parks a workflow that waits for something outside: asynq looks
// at it again after poll without spending an attempt, and no worker
// goroutine is held meanwhile.
type waitError struct {
	what string
	poll time.Duration
}

func (e *waitError) Error() string { return "waiting for " + e.what }

// runSteps runs the steps after the job's checkpoint, in order. After each
// step it records the checkpoint with a job.progress event, so that a retry
// resumes at the step that failed. Before each step it honours a cancel.
func (w *Worker) runSteps(ctx context.Context, run *Run, steps []Step) error {
	start := 0
	for i, s := range steps {
		if s.Name == run.Job.Checkpoint {
			start = i + 1
		}
	}
	for _, s := range steps[start:] {
		canceled, err := w.records.CancelRequested(ctx, run.Job.ID)
		if err != nil {
			return err
		}
		if canceled {
			return fmt.Errorf("%w before step %s", errCanceled, s.Name)
		}
		zerolog.Ctx(ctx).Info().Str("step", s.Name).Msg("step started")
		if err := s.Run(ctx); err != nil {
			return err
		}
		run.Job.Checkpoint, run.Job.WaitingFor, run.Job.WaitDeadline = s.Name, "", nil
		if _, err := w.records.Record(ctx, &run.Job, events.JobProgress, events.Detail{Step: s.Name, Message: "done", Provider: run.provider}); err != nil {
			return fmt.Errorf("checkpoint step %s: %w", s.Name, err)
		}
	}
	return nil
}

// awaitCallback is a step body that waits for the job's installer to report
// kind, until timeout after the wait began; then it fails with code. A
// failure the installer reported fails it at once, with the failure's code.
func (w *Worker) awaitCallback(ctx context.Context, run *Run, b hardware, kind string, timeout time.Duration, code jobs.Code) error {
	got, err := w.boot.CallbackReceived(ctx, run.Job.ID, kind)
	if err != nil || got {
		return err
	}
	if err := w.reportedFailure(ctx, run, b); err != nil {
		return err
	}
	what := "callback " + kind
	if run.Job.WaitingFor != what {
		deadline := time.Now().Add(timeout).UTC()
		run.Job.WaitingFor, run.Job.WaitDeadline = what, &deadline
		msg := fmt.Sprintf("waiting for the installer to report %s, until %s", kind, deadline.Format(time.RFC3339))
		if _, err := w.records.Record(ctx, &run.Job, events.JobProgress, events.Detail{Step: "wait-" + kind, Message: msg}); err != nil {
			return err
		}
	}
	if time.Now().After(*run.Job.WaitDeadline) {
		return jobs.Errorf(code, false, "no %s callback by %s; %s", kind, run.Job.WaitDeadline.Format(time.RFC3339), w.giveUp(ctx, run, b))
	}
	return &waitError{what: what, poll: w.cfg.WaitPoll}
}

// failureCodes are the job error codes of the failures an installer reports.
var failureCodes = map[string]jobs.Code{store.CallbackChecksumMismatch: jobs.CodeChecksumMismatch, store.CallbackFailed: jobs.CodeInstallerFailed}

// reportedFailure returns the job's failure, not retried, when its
// installer reported one: the server is left as giveUp leaves it.
func (w *Worker) reportedFailure(ctx context.Context, run *Run, b hardware) error {
	f, err := w.boot.Failure(ctx, run.Job.ID)
	if err != nil || f == nil {
		return err
	}
	return jobs.Errorf(failureCodes[f.Kind], false, "the installer reported %s: %s; %s", f.Kind, orNone(f.Message), w.giveUp(ctx, run, b))
}

// giveUp leaves a server whose installer never reported, or reported a
// failure, powered off and booting from its disk (a host left looping through its installer helps
// nobody) and says what Tinman knows, for the failure event: the last step done, the power before and
// after, and the boot configuration it was given (never its token).
func (w *Worker) giveUp(ctx context.Context, run *Run, b hardware) string {
	before, err := b.PowerState(ctx)
	power := "power " + string(before)
	if err != nil {
		power = "power unreadable (" + jobs.AsError(err).Message + ")"
	}
	if after, err := w.powerAction(ctx, b, jobs.PowerOff); err != nil {
		power += ", not powered off (" + jobs.AsError(err).Message + ")"
	} else {
		power += ", now " + string(after)
		if err := w.servers.SetPowerState(ctx, run.Job.Server, after); err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Msg("record power state")
		}
	}
	disk := "boot device disk (persistent)" // it must not network-boot into an installer again
	if err := setBootVerified(ctx, b, jobs.BootDeviceParams{Device: jobs.BootDisk, Persistent: true}); err != nil {
		disk = "boot device not set to disk (" + jobs.AsError(err).Message + ")"
	}
	power += "; " + disk
	boot := "no boot configuration"
	if cfg, err := w.boot.BootConfig(ctx, run.Job.Server); err == nil && cfg.JobID == run.Job.ID {
		boot = fmt.Sprintf("boot configuration %s of image %q, given until %s", cfg.Purpose, cfg.Image, cfg.Expires.Format(time.RFC3339))
	}
	return fmt.Sprintf("last step %s; %s; %s", orNone(run.Job.Checkpoint), power, boot)
}
