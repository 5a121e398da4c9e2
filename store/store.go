// Package store keeps Tinman's records in Redis: jobs, with the events that
// report their changes staged in the same transaction, and the server registry.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/internal/confcheck"
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
	// SecretKey (KeySize bytes) seals BMC credentials at rest. Without one, a
	// random key lives as long as the Store, and says so: credentials written
	// then cannot be read by any other process.
	SecretKey []byte
}

// Store reads and writes records in Redis.
type Store struct {
	rdb    redis.UniversalClient
	outbox *Outbox
	cfg    Config
	sealer *sealer
	listed *listCache // the servers ListServers decoded
	// indexWrites counts the job index writes, to trim the indexes now and then.
	indexWrites atomic.Int64
}

// New returns a Store on rdb that records events through outbox (nil: a
// Store that only reads, and writes no job), or an error naming what of
// its arguments and cfg cannot be used: no Redis, a negative JobTTL, a
// secret key of the wrong size.
func New(rdb redis.UniversalClient, outbox *Outbox, cfg Config) (*Store, error) {
	v := confcheck.For("store.Config")
	v.Present("rdb", rdb)
	confcheck.NotNegative(v, "JobTTL", cfg.JobTTL)
	v.Require(cfg.SecretKey == nil || len(cfg.SecretKey) == KeySize, "SecretKey", fmt.Sprintf("(%d bytes)", len(cfg.SecretKey)),
		fmt.Sprintf("must be %d bytes", KeySize))
	if err := v.Err(); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if cfg.JobTTL == 0 {
		cfg.JobTTL = 7 * 24 * time.Hour
	}
	if cfg.Source == "" {
		cfg.Source = "/tinman"
	}
	key := cfg.SecretKey
	if key == nil {
		key = NewKey()
	}
	sl, err := newSealer(key)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	cfg.Logger = cfg.Logger.With().Str("component", "store").Logger()
	return &Store{rdb: rdb, outbox: outbox, cfg: cfg, sealer: sl, listed: newListCache()}, nil
}

// Accept stores a newly requested job together with its queued event (seq 1),
// in one transaction, and sends the event. It returns the stored job and
// whether it still needs to be enqueued: false when the id belongs to a job
// that already got past the queue. Accepting the same job again is safe.
func (s *Store) Accept(ctx context.Context, job jobs.Job) (jobs.Job, bool, error) {
	a := s.AcceptAll(ctx, []jobs.Job{job})[0]
	return a.Job, a.Enqueue, a.Err
}

// Accepted is what AcceptAll made of one job: Accept's three results.
type Accepted struct {
	Job     jobs.Job
	Enqueue bool
	Err     error
}

// AcceptAll is Accept for many jobs at once: their records and queued
// events in one round trip, the events' acks awaited together.
func (s *Store) AcceptAll(ctx context.Context, all []jobs.Job) []Accepted {
	out := make([]Accepted, len(all))
	ops := make([]appendOp, 0, len(all))
	at := make([]int, 0, len(all)) // ops[k] accepts all[at[k]]
	for i, job := range all {
		job.Seq = 1
		out[i].Job = job
		ev, err := events.NewJobEvent(s.cfg.Source, events.JobQueued, job, job.Seq, events.Detail{})
		var write Write
		if err == nil {
			write, err = s.jobWrite(job)
		}
		if err != nil {
			out[i].Err = err
			continue
		}
		write.Create = true
		// The job is listed in the same round trip, whatever the append's fate:
		// a job listed already keeps its place, one refused for another reason
		// is listed without a record, as an expired one is, and left out.
		ops = append(ops, appendOp{jobID: job.ID, ev: ev, writes: []Write{write},
			also: func(pipe redis.Pipeliner) { s.indexIn(ctx, pipe, job) }})
		at = append(at, i)
	}
	staged, errs := s.outbox.appendAll(ctx, ops)
	var sends []Staged
	for k, err := range errs {
		a := &out[at[k]]
		switch {
		case errors.Is(err, ErrExists):
			a.Job, a.Enqueue, a.Err = s.acceptedBefore(ctx, a.Job)
		case err != nil:
			a.Err = fmt.Errorf("accept job %s: %w", a.Job.ID, err)
		default:
			a.Enqueue = true
			sends = append(sends, staged[k])
		}
	}
	s.sendAll(ctx, sends)
	return out
}

// acceptedBefore is Accept's answer for a job whose record exists: the
// stored job, to be enqueued (again) while it is still queued.
func (s *Store) acceptedBefore(ctx context.Context, job jobs.Job) (jobs.Job, bool, error) {
	stored, err := s.Job(ctx, job.ID)
	if err == nil && stored.Server != job.Server && job.Server != "" {
		// A request that reused the id for another server listed it there.
		if err := s.rdb.ZRem(ctx, serverJobsKey(job.Server), job.ID).Err(); err != nil {
			return stored, false, fmt.Errorf("unlist job %s from server %s: %w", job.ID, job.Server, err)
		}
	}
	return stored, err == nil && stored.State == jobs.StateQueued, err
}

func (s *Store) jobWrite(job jobs.Job) (Write, error) {
	data, err := json.Marshal(job)
	if err != nil {
		return Write{}, fmt.Errorf("marshal job %s: %w", job.ID, err)
	}
	return Write{Key: jobKey(job.ID), Value: data, TTL: s.cfg.JobTTL}, nil
}

// send publishes a staged event. A failure is logged, not returned: the event
// is durable, and the outbox sweep sends it when NATS is back.
func (s *Store) send(ctx context.Context, staged Staged) {
	s.sendAll(ctx, []Staged{staged})
}

// sendAll is send for many events, published together.
func (s *Store) sendAll(ctx context.Context, all []Staged) {
	if len(all) == 0 {
		return
	}
	for i, err := range s.outbox.sendAll(ctx, all) {
		if err != nil {
			s.cfg.Logger.Warn().Err(err).Stringer("stream", all[i].stream).Msg("event staged, publish deferred to the outbox sweep")
		}
	}
}

// Job returns the job with id, or a not_found error.
func (s *Store) Job(ctx context.Context, id string) (jobs.Job, error) {
	var job jobs.Job
	err := s.readJSON(ctx, jobKey(id), &job, "job %s not found", id)
	return job, err
}

// readJSON decodes the JSON record at key into v. A missing record is a
// not_found error worded by format and args.
func (s *Store) readJSON(ctx context.Context, key string, v any, format string, args ...any) error {
	data, err := s.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return jobs.Errorf(jobs.CodeNotFound, false, format, args...)
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %s: %w", key, err)
	}
	return nil
}

// Record saves *job and stages the event of type t that reports it, in one
// transaction, then sends the event; on success *job carries the event's
// seq. The write happens only if no other event was recorded for the job
// since *job was read (store.ErrSeqConflict otherwise), so a job's events
// are numbered without gaps and in the order of its changes.
func (s *Store) Record(ctx context.Context, job *jobs.Job, t events.Type, d events.Detail) (events.Event, error) {
	return s.record(ctx, job, t, d, nil)
}

// RecordAndRelease is Record that also frees lease in the same
// transaction, if it is still held as given: a job's last event on its
// server and the server's release are one step, and one round trip.
func (s *Store) RecordAndRelease(ctx context.Context, job *jobs.Job, t events.Type, d events.Detail, lease Lease) (events.Event, error) {
	return s.record(ctx, job, t, d, &lease)
}

func (s *Store) record(ctx context.Context, job *jobs.Job, t events.Type, d events.Detail, lease *Lease) (events.Event, error) {
	next := *job
	next.Seq++
	next.UpdatedAt = time.Now().UTC()
	ev, err := events.NewJobEvent(s.cfg.Source, t, next, next.Seq, d)
	if err != nil {
		return ev, err
	}
	write, err := s.jobWrite(next)
	if err != nil {
		return ev, err
	}
	staged, err := s.outbox.appendReleasing(ctx, job.ID, job.Seq, ev, lease, write)
	if err != nil {
		return ev, fmt.Errorf("record %s of job %s: %w", t, job.ID, err)
	}
	*job = next
	s.send(ctx, staged)
	return ev, nil
}

// Flush publishes the job's staged events, if any.
func (s *Store) Flush(ctx context.Context, jobID string) error {
	return s.outbox.Flush(ctx, jobID)
}

// Unreachable reports whether err says Redis could not be reached: the
// client is closed or no connection came free in time. (Network errors and
// deadlines are the callers' to recognise: they are not Redis's own.)
func Unreachable(err error) bool {
	return errors.Is(err, redis.ErrClosed) || errors.Is(err, redis.ErrPoolTimeout)
}

func jsonUnmarshal(data string, v any) error { return json.Unmarshal([]byte(data), v) }

// ForAdmission reads, in one round trip, whether each of jobIDs has a job
// record, and the servers of serverIDs that are enrolled.
func (s *Store) ForAdmission(ctx context.Context, jobIDs, serverIDs []string) ([]bool, []jobs.Server, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(jobIDs))
	for i, id := range jobIDs {
		cmds[i] = pipe.Exists(ctx, jobKey(id))
	}
	var mget *redis.SliceCmd
	if len(serverIDs) > 0 {
		mget = pipe.MGet(ctx, serverKeys(serverIDs)...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, nil, fmt.Errorf("read %d job records and %d servers: %w", len(jobIDs), len(serverIDs), err)
	}
	exist := make([]bool, len(jobIDs))
	for i, c := range cmds {
		exist[i] = c.Val() == 1
	}
	if mget == nil {
		return exist, nil, nil
	}
	servers, err := s.serversFrom(serverIDs, mget.Val())
	return exist, servers, err
}
