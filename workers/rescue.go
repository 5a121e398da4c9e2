package workers

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

// A worker killed mid-job leaves its task "active" in asynq until asynq's
// own lease (30 s) runs out and its recoverer (every minute) notices: about
// a minute and a half. Tinman knows sooner. Its server lease is renewed
// every third of --lease-ttl while the job runs and lapses when the worker
// dies; asynq's server heartbeat (every 5 s, kept 10 s) lists the tasks each
// live worker runs. A job that is running, whose task no live worker runs,
// and whose server lease is gone, has lost its worker: the rescue hands it
// to a new task, "<job id>~<attempt>", at once. The orphaned task is
// recognised when asynq recovers it later (it is not the job's Task) and
// does nothing. The fencing token of the server lease keeps the dead
// worker's BMC calls, should it come back, from interleaving with the new
// ones: it can no longer renew, so its guard refuses every call.

// rescue looks for jobs whose worker died, every RescueInterval until ctx
// ends; one process in the system looks per interval.
func (w *Worker) rescue(ctx context.Context) {
	every(ctx, w.cfg.RescueInterval, func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, rescueTimeout)
		defer cancel()
		if mine, err := w.rounds.ClaimRound(ctx, "rescue", w.cfg.RescueInterval); err == nil && mine {
			w.rescueRound(ctx)
		}
	})
}

// rescueRound resumes every job that lost its worker.
func (w *Worker) rescueRound(ctx context.Context) {
	log := w.cfg.Logger.With().Str("component", "rescue").Logger()
	live, err := w.liveTasks()
	if err != nil {
		log.Debug().Err(err).Msg("list live workers")
		return
	}
	for queue := range w.cfg.queues() {
		active, err := w.inspector.ListActiveTasks(queue, asynq.PageSize(1000))
		if err != nil {
			if !errors.Is(err, asynq.ErrQueueNotFound) {
				log.Debug().Err(err).Str("queue", queue).Msg("list active tasks")
			}
			continue
		}
		for _, t := range active {
			if live[t.ID] {
				continue
			}
			if err := w.rescueTask(ctx, queue, t); err != nil {
				log.Warn().Err(err).Str("task", t.ID).Msg("rescue a job whose worker is gone (asynq recovers it later)")
			}
		}
	}
}

// liveTasks are the ids of the tasks the live workers of the system run.
func (w *Worker) liveTasks() (map[string]bool, error) {
	servers, err := w.inspector.Servers()
	if err != nil {
		return nil, err
	}
	live := map[string]bool{}
	for _, s := range servers {
		for _, a := range s.ActiveWorkers {
			live[a.TaskID] = true
		}
	}
	return live, nil
}

// rescueTask resumes the job of task t, active with no live worker, if its
// server lease is gone too.
func (w *Worker) rescueTask(ctx context.Context, queue string, t *asynq.TaskInfo) error {
	p, err := decodePayload(asynq.NewTask(t.Type, t.Payload))
	if err != nil {
		return nil // not Tinman's: asynq deals with it
	}
	job, err := w.records.Job(ctx, p.JobID)
	if err != nil {
		return nil //nolint:nilerr // gone: the task is dropped when it runs
	}
	if job.State != jobs.StateRunning || job.WaitingFor != "" || !job.Type.TargetsServer() {
		return nil
	}
	if job.TaskInCharge() != t.ID {
		return w.ensureEnqueued(ctx, queue, job) // an orphan of a job rescued already
	}
	holder, err := w.leases.LeaseHolder(ctx, job.Server)
	if err != nil || holder == job.ID {
		return err // held: its worker lives, or its lease has yet to lapse
	}
	next := job
	next.Task = job.ID + "~" + strconv.Itoa(job.Attempt)
	if next.Task == job.TaskInCharge() {
		// Rescued already in this attempt: its task waits for the server
		// or runs, and a second rescue would only announce the same task
		// again (asynq recovers it if its worker died too).
		return nil
	}
	msg := fmt.Sprintf("the worker of attempt %d is gone (its lease lapsed): task %s resumes the job", job.Attempt, next.Task)
	if _, err := w.records.Record(ctx, &next, events.JobProgress, events.Detail{Step: "rescued", Message: msg}); err != nil {
		if errors.Is(err, store.ErrSeqConflict) {
			return nil // the job moved meanwhile: not lost
		}
		return err
	}
	w.log.Warn().Str("job_id", job.ID).Str("server", job.Server).Int("attempt", job.Attempt).
		Str("task", next.Task).Msg("job rescued: its worker is gone")
	return w.ensureEnqueued(ctx, queue, next)
}

// ensureEnqueued puts the task in charge of job on the queue, unless it is
// there already.
func (w *Worker) ensureEnqueued(ctx context.Context, queue string, job jobs.Job) error {
	task, err := NewTask(job, w.cfg.Retry, asynq.TaskID(job.TaskInCharge()), asynq.Queue(queue))
	if err != nil {
		return err
	}
	_, err = w.client.EnqueueContext(ctx, task)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue %s: %w", job.TaskInCharge(), err)
	}
	return nil
}

// rescueTimeout bounds one rescue round.
const rescueTimeout = 10 * time.Second
