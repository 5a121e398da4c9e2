package workers

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

// recordTimeout bounds the recording of an outcome after the attempt's own
// context has ended (a timed-out attempt must still say so).
const recordTimeout = 10 * time.Second

// CodeAttemptsExhausted says every attempt of a job ended without an outcome
// (the worker died during each).
const CodeAttemptsExhausted jobs.Code = "attempts_exhausted"

// track is the status middleware: it loads the job, adds its log fields,
// takes the server lease, records started, runs the handler, then records
// succeeded, retrying or failed (and frees the lease with it). Attempts are
// counted on the job record.
func (w *Worker) track(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		job, start, busy, err := w.load(ctx, t)
		if err != nil {
			return err
		}
		log := w.log.With().Str("job_id", job.ID).Str("server", job.Server).
			Str("type", string(job.Type)).Int("attempt", job.Attempt+1).Logger()
		ctx = log.WithContext(ctx)
		if idle, err := w.idle(ctx, job, start); idle {
			return err
		}
		run := &Run{Job: job, records: w.records, start: start}
		// A workflow that waits resumes its attempt: no new start, no attempt spent.
		resuming := job.State == jobs.StateRunning && job.WaitingFor != ""
		if job.Attempt >= job.MaxAttempts && !resuming {
			w.dropStart(ctx, start)
			return w.exhausted(ctx, run)
		}
		var keep time.Duration // how long to hold the server after this run
		if job.Type.TargetsServer() {
			lctx, held, release, err := w.acquire(ctx, run, busy)
			if err != nil {
				return err
			}
			defer func() { release(keep) }()
			ctx, run.lease = lctx, held
		}
		if !resuming {
			if err := w.started(ctx, run); err != nil {
				return err
			}
		}
		begun := time.Now()
		herr := next.ProcessTask(withRun(ctx, run), t)
		if we := new(waitError); errors.As(herr, &we) {
			keep = 3*we.poll + w.cfg.LeaseTTL
			log.Debug().Str("waiting_for", we.what).Msg("job waits: worker released")
			return herr
		}
		return w.finish(ctx, run, t, herr, time.Since(begun))
	})
}

// idle reports whether the task has nothing to do: it is an orphan of a
// rescued job, or its job has ended (its staged events are flushed).
func (w *Worker) idle(ctx context.Context, job jobs.Job, start *store.JobStart) (bool, error) {
	log := zerolog.Ctx(ctx)
	if id, _ := asynq.GetTaskID(ctx); id != job.TaskInCharge() {
		w.dropStart(ctx, start)
		log.Info().Str("task", id).Str("in_charge", job.TaskInCharge()).Msg("orphaned task of a rescued job: nothing to do")
		return true, nil
	}
	if job.State.Terminal() {
		w.dropStart(ctx, start)
		log.Info().Str("state", string(job.State)).Msg("job already ended: nothing to do")
		w.ended(ctx, job) // canceled while queued: its deploy learns it now
		return true, w.records.Flush(ctx, job.ID)
	}
	return false, nil
}

// started records the start of a new attempt.
func (w *Worker) started(ctx context.Context, run *Run) error {
	run.Job.State, run.Job.Error = jobs.StateRunning, nil
	run.Job.Attempt++
	if _, err := w.records.Record(ctx, &run.Job, events.JobStarted, events.Detail{}); err != nil {
		return fmt.Errorf("record start of job %s: %w", run.Job.ID, err)
	}
	zerolog.Ctx(ctx).Info().Msg("job started")
	return nil
}

// load returns the job a task runs. A task that names its server also
// takes the server's lease in the same round trip (start; busy wraps
// store.ErrLeaseHeld when another job holds it); one that does not (a job on
// no server, a task queued before tasks named it) takes it in acquire. A
// task whose job is gone is not retried.
func (w *Worker) load(ctx context.Context, t *asynq.Task) (job jobs.Job, start *store.JobStart, busy, err error) {
	p, err := decodePayload(t)
	if err != nil {
		return job, nil, nil, fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	if p.Server != "" {
		var st store.JobStart
		st, err = w.leases.StartJob(ctx, p.JobID, p.Server, w.cfg.LeaseTTL)
		switch {
		case errors.Is(err, store.ErrLeaseHeld):
			return st.Job, nil, err, nil
		case err == nil && st.Job.Server != p.Server: // not the job's server: take the lease in acquire
			w.dropStart(ctx, &st)
			return st.Job, nil, nil, nil
		case err == nil:
			return st.Job, &st, nil, nil
		}
		job = st.Job
	} else {
		job, err = w.records.Job(ctx, p.JobID)
	}
	if jobs.CodeOf(err) == jobs.CodeNotFound {
		return job, nil, nil, fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	return job, nil, nil, err
}

// dropStart frees a lease that load took for a task with nothing to do;
// a lease the job held before (another task of it runs) stays.
func (w *Worker) dropStart(ctx context.Context, start *store.JobStart) {
	if start == nil || !start.Granted {
		return
	}
	if err := w.leases.ReleaseLease(ctx, start.Lease); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("release server lease (it expires by itself)")
	}
}

// exhausted fails a job whose every attempt started and never ended.
func (w *Worker) exhausted(ctx context.Context, run *Run) error {
	job := run.Job
	job.State = jobs.StateFailed
	job.Error = jobs.Errorf(CodeAttemptsExhausted, false, "all %d attempts started and none ended: the worker stopped during each", job.MaxAttempts)
	zerolog.Ctx(ctx).Error().Str("code", string(job.Error.Code)).Msg("job failed")
	w.leaveLifecycle(ctx, job, fmt.Sprintf("%s failed: %s", job.Type, job.Error.Message)) // its server goes to error, not left transitional
	if err := w.record(ctx, nil, &job, events.JobFailed, events.Detail{}); err != nil {
		return err
	}
	return fmt.Errorf("%w: %w", job.Error, asynq.SkipRetry)
}

// finish records the outcome of an attempt and tells asynq what to do next.
func (w *Worker) finish(ctx context.Context, run *Run, t *asynq.Task, herr error, took time.Duration) error {
	log := zerolog.Ctx(ctx)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	job := run.Job
	job.WaitingFor, job.WaitDeadline = "", nil
	d := events.Detail{Provider: run.provider}
	defer func() { w.cfg.Metrics.attempt(job.Type, string(job.State), took) }()
	if errors.Is(herr, errCanceled) {
		job.State = jobs.StateCanceled
		job.Error = jobs.Errorf(jobs.CodeCanceled, false, "%v", herr)
		log.Info().Str("checkpoint", job.Checkpoint).Msg("job canceled")
		w.leaveLifecycle(rctx, job, "canceled after step "+orNone(job.Checkpoint))
		return w.record(rctx, run.lease, &job, events.JobCanceled, events.Detail{Message: herr.Error(), Step: job.Checkpoint})
	}
	if herr == nil {
		job.State, job.Result = jobs.StateSucceeded, run.result
		log.Info().Dur("took_ms", took).Msg("job succeeded")
		return w.record(rctx, run.lease, &job, events.JobSucceeded, d)
	}
	job.Error = attemptFailure(ctx, herr)
	if retried(job, job.Error, herr) {
		job.State = jobs.StateRetrying
		d.NextAttemptAt = time.Now().Add(w.cfg.Retry.Delay(job.Attempt-1, t))
		log.Warn().Err(herr).Time("next_attempt_at", d.NextAttemptAt).Msg("job attempt failed: retrying")
		if err := w.record(rctx, run.lease, &job, events.JobRetrying, d); err != nil {
			return err
		}
		return &attemptError{err: herr, attempt: job.Attempt}
	}
	job.State = jobs.StateFailed
	log.Error().Err(herr).Str("code", string(job.Error.Code)).Msg("job failed")
	w.leaveLifecycle(rctx, job, fmt.Sprintf("%s failed: %s", job.Type, job.Error.Message))
	if err := w.record(rctx, run.lease, &job, events.JobFailed, d); err != nil {
		return err
	}
	return fmt.Errorf("%w: %w", herr, asynq.SkipRetry)
}

// leaveLifecycle ends what a lifecycle job that ended badly (failed,
// canceled, attempts exhausted) leaves behind: its boot configuration goes
// (its image and per-job callback token: the token stops working with the
// job), and its server moves from the job's transitional state to error,
// with the reason, if the job still drives it. Failures are logged: the
// configuration expires, and the watchdog moves a stuck server.
func (w *Worker) leaveLifecycle(ctx context.Context, job jobs.Job, reason string) {
	lc, ok := jobs.LifecycleOf(job.Type)
	if !ok {
		return
	}
	if err := w.boot.ClearBootConfig(ctx, job.Server, job.ID); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("remove the boot configuration (it expires by itself)")
	}
	srv, err := w.servers.Server(ctx, job.Server)
	if err != nil || srv.State != lc.During || srv.Job != job.ID {
		return
	}
	if _, err := w.servers.TransitionServer(ctx, job.Server, []jobs.ServerState{lc.During}, jobs.ServerError, job.ID, reason); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Msg("move server to error (the watchdog will)")
	}
}

// retried reports whether an attempt of job that failed with herr, coded
// e, is followed by another.
func retried(job jobs.Job, e *jobs.Error, herr error) bool {
	return e.Retryable && job.Attempt < job.MaxAttempts && !errors.Is(herr, asynq.SkipRetry)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// attemptFailure codes the error an attempt ended with; an attempt cut short
// by its deadline or by the loss of its lease says so.
func attemptFailure(ctx context.Context, herr error) *jobs.Error {
	if cause := context.Cause(ctx); errors.Is(cause, store.ErrLeaseLost) {
		return jobs.Errorf(CodeLeaseLost, true, "stopped: %v", cause)
	}
	if ctx.Err() != nil && !errors.As(herr, new(*jobs.Error)) {
		return jobs.Errorf(jobs.CodeBMCTimeout, true, "attempt ran out of time: %w", herr)
	}
	return jobs.AsError(herr)
}

// record records an outcome, trying again briefly while Redis hiccups: an
// outcome that is not recorded makes asynq run the attempt again. A seq
// conflict is final: someone else changed the job meanwhile. Given the
// attempt's lease, it frees the lease with the outcome, in one round trip.
func (w *Worker) record(ctx context.Context, lease *heldLease, job *jobs.Job, t events.Type, d events.Detail) error {
	var err error
	for delay := 50 * time.Millisecond; ; delay *= 2 {
		if lease != nil {
			_, err = w.records.RecordAndRelease(ctx, job, t, d, lease.lease)
			lease.released.Store(err == nil)
		} else {
			_, err = w.records.Record(ctx, job, t, d)
		}
		if err == nil || errors.Is(err, store.ErrSeqConflict) {
			if err == nil && t.Terminal() {
				w.cfg.Metrics.ended(job.Type, string(job.State), time.Since(job.CreatedAt))
				w.ended(ctx, *job)
			}
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("record %s of job %s: %w", t, job.ID, err)
		case <-time.After(delay):
		}
	}
}

// recoverPanic turns a handler's panic into a failed attempt.
func recoverPanic(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) (err error) {
		defer func() {
			if r := recover(); r != nil {
				zerolog.Ctx(ctx).Error().Str("stack", string(debug.Stack())).Msgf("handler panic: %v", r)
				err = jobs.Errorf(jobs.CodePanic, true, "handler panicked: %v", r)
			}
		}()
		return next.ProcessTask(ctx, t)
	})
}
