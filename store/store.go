// Package store keeps Tinman's records in Redis: jobs, with the events that
// report their changes staged in the same transaction, and the server registry.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
)

// Config configures a Store.
type Config struct {
	// JobTTL is how long a job record is kept after its last change (default 7 days).
	// It bounds idempotency: the same id after JobTTL is a new job.
	JobTTL time.Duration
	// Source is the CloudEvents source of the events this store records.
	Source string
	// Logger receives publish failures (the event stays staged; the outbox sweep sends it).
	Logger zerolog.Logger
}

// Store reads and writes records in Redis.
type Store struct {
	rdb    redis.UniversalClient
	outbox *events.Outbox
	cfg    Config
}

// New returns a Store on rdb that records events through outbox.
func New(rdb redis.UniversalClient, outbox *events.Outbox, cfg Config) *Store {
	if cfg.JobTTL <= 0 {
		cfg.JobTTL = 7 * 24 * time.Hour
	}
	if cfg.Source == "" {
		cfg.Source = "/tinman"
	}
	return &Store{rdb: rdb, outbox: outbox, cfg: cfg}
}

func jobKey(id string) string { return "tinman:job:" + id }

// CreateJob stores job unless a job with its id exists. It returns the stored
// job and whether this call created it.
func (s *Store) CreateJob(ctx context.Context, job jobs.Job) (jobs.Job, bool, error) {
	data, err := json.Marshal(job)
	if err != nil {
		return job, false, fmt.Errorf("marshal job %s: %w", job.ID, err)
	}
	ok, err := s.rdb.SetNX(ctx, jobKey(job.ID), data, s.cfg.JobTTL).Result()
	if err != nil {
		return job, false, fmt.Errorf("create job %s: %w", job.ID, err)
	}
	if ok {
		return job, true, nil
	}
	existing, err := s.Job(ctx, job.ID)
	return existing, false, err
}

// Accept stores a newly requested job and stages its queued event (seq 1).
// It returns the stored job and whether it still needs to be enqueued: false
// when the id belongs to a job that already got past the queue. Accepting the
// same job again after a crash is safe: the queued event is staged once more
// only if none was, and a re-published event is deduplicated by its id.
func (s *Store) Accept(ctx context.Context, job jobs.Job) (jobs.Job, bool, error) {
	stored, created, err := s.CreateJob(ctx, job)
	if err != nil {
		return stored, false, err
	}
	if !created && stored.State != jobs.StateQueued {
		return stored, false, nil
	}
	seq, err := s.outbox.Seq(ctx, job.ID)
	if err != nil || seq > 0 {
		return stored, err == nil, err
	}
	ev, err := events.NewJobEvent(s.cfg.Source, events.JobQueued, stored, 1, events.Detail{})
	if err != nil {
		return stored, false, err
	}
	pipe := s.rdb.TxPipeline()
	if err := s.outbox.StageFirst(ctx, pipe, job.ID, ev); err != nil {
		return stored, false, err
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return stored, false, fmt.Errorf("stage queued event of job %s: %w", job.ID, err)
	}
	return stored, true, nil
}

// Job returns the job with id, or a not_found error.
func (s *Store) Job(ctx context.Context, id string) (jobs.Job, error) {
	var job jobs.Job
	data, err := s.rdb.Get(ctx, jobKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return job, jobs.Errorf(jobs.CodeNotFound, false, "job %s not found", id)
	}
	if err != nil {
		return job, fmt.Errorf("read job %s: %w", id, err)
	}
	if err := json.Unmarshal(data, &job); err != nil {
		return job, fmt.Errorf("decode job %s: %w", id, err)
	}
	return job, nil
}

// Record saves job and stages the event of type t that reports it, in one
// transaction, then publishes the job's staged events in order. A publish
// failure is logged, not returned: the event is durable and the outbox sweep
// sends it when NATS is back.
func (s *Store) Record(ctx context.Context, job jobs.Job, t events.Type, d events.Detail) (events.Event, error) {
	seq, err := s.outbox.NextSeq(ctx, job.ID)
	if err != nil {
		return events.Event{}, err
	}
	job.UpdatedAt = time.Now().UTC()
	ev, err := events.NewJobEvent(s.cfg.Source, t, job, seq, d)
	if err != nil {
		return ev, err
	}
	data, err := json.Marshal(job)
	if err != nil {
		return ev, fmt.Errorf("marshal job %s: %w", job.ID, err)
	}
	pipe := s.rdb.TxPipeline()
	pipe.Set(ctx, jobKey(job.ID), data, s.cfg.JobTTL)
	if err := s.outbox.Stage(ctx, pipe, job.ID, ev); err != nil {
		return ev, err
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return ev, fmt.Errorf("record %s of job %s: %w", t, job.ID, err)
	}
	if err := s.outbox.Flush(ctx, job.ID); err != nil {
		s.cfg.Logger.Warn().Err(err).Str("job_id", job.ID).Msg("event staged, publish deferred to the outbox sweep")
	}
	return ev, nil
}

// Flush publishes the job's staged events, if any.
func (s *Store) Flush(ctx context.Context, jobID string) error {
	return s.outbox.Flush(ctx, jobID)
}
