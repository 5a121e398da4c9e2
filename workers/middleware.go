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
)

// recordTimeout bounds the recording of an outcome after the attempt's own
// context has ended (a timed-out attempt must still say so).
const recordTimeout = 10 * time.Second

// track is the status middleware: it loads the job, adds its log fields,
// records started, runs the handler, then records succeeded, retrying or failed.
func (w *Worker) track(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		p, err := decodePayload(t)
		if err != nil {
			return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
		}
		job, err := w.store.Job(ctx, p.JobID)
		if err != nil {
			if jobs.AsError(err).Code == jobs.CodeNotFound {
				return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
			}
			return err
		}
		retried, _ := asynq.GetRetryCount(ctx)
		maxRetry, _ := asynq.GetMaxRetry(ctx)
		log := w.cfg.Logger.With().Str("job_id", job.ID).Str("server", job.Server).
			Str("type", string(job.Type)).Int("attempt", retried+1).Logger()
		ctx = log.WithContext(ctx)
		if job.State.Terminal() {
			log.Info().Str("state", string(job.State)).Msg("job already ended: nothing to do")
			return w.store.Flush(ctx, job.ID)
		}
		job.State, job.Attempt, job.MaxAttempts, job.Error = jobs.StateRunning, retried+1, maxRetry+1, nil
		if _, err := w.store.Record(ctx, job, events.JobStarted, events.Detail{}); err != nil {
			return fmt.Errorf("record start of job %s: %w", job.ID, err)
		}
		log.Info().Msg("job started")
		run := &Run{Job: job, store: w.store}
		start := time.Now()
		herr := next.ProcessTask(withRun(ctx, run), t)
		return w.finish(ctx, run, t, herr, time.Since(start))
	})
}

// finish records the outcome of an attempt and tells asynq what to do next.
func (w *Worker) finish(ctx context.Context, run *Run, t *asynq.Task, herr error, took time.Duration) error {
	log := zerolog.Ctx(ctx)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	job := run.Job
	d := events.Detail{Provider: run.provider}
	if herr == nil {
		job.State, job.Result = jobs.StateSucceeded, run.result
		log.Info().Dur("took", took).Msg("job succeeded")
		return w.record(rctx, job, events.JobSucceeded, d)
	}
	if ctx.Err() != nil && !errors.As(herr, new(*jobs.Error)) {
		herr = jobs.Errorf(jobs.CodeBMCTimeout, true, "attempt ran out of time: %w", herr)
	}
	job.Error = jobs.AsError(herr)
	if job.Error.Retryable && job.Attempt < job.MaxAttempts && !errors.Is(herr, asynq.SkipRetry) {
		job.State = jobs.StateRetrying
		d.NextAttemptAt = time.Now().Add(w.cfg.Retry.Delay(job.Attempt-1, herr, t))
		log.Warn().Err(herr).Time("next_attempt_at", d.NextAttemptAt).Msg("job attempt failed: retrying")
		if err := w.record(rctx, job, events.JobRetrying, d); err != nil {
			return err
		}
		return herr
	}
	job.State = jobs.StateFailed
	log.Error().Err(herr).Str("code", string(job.Error.Code)).Msg("job failed")
	if err := w.record(rctx, job, events.JobFailed, d); err != nil {
		return err
	}
	return fmt.Errorf("%w: %w", herr, asynq.SkipRetry)
}

// record records an outcome, trying again briefly while Redis hiccups: an
// outcome that is not recorded makes asynq run the attempt again.
func (w *Worker) record(ctx context.Context, job jobs.Job, t events.Type, d events.Detail) error {
	var err error
	for delay := 50 * time.Millisecond; ; delay *= 2 {
		if _, err = w.store.Record(ctx, job, t, d); err == nil {
			return nil
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
