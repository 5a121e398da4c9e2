package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tinmanhq/tinman/jobs"
)

// A request is readable as soon as it is submitted, although a dispatcher
// makes its job record later, from NATS. Between the two the submitter keeps
// a submitted record (tinman:submitted:<id>, JobTTL), written before the
// request is published and removed again if NATS does not ack it. When a
// dispatcher refuses the request it marks the record rejected, so that no
// job stays submitted for ever.

// Submitted is a request between its submission and its job record.
type Submitted struct {
	Request jobs.Request `json:"request"`
	State   jobs.State   `json:"state"` // jobs.StateSubmitted or jobs.StateRejected
	At      time.Time    `json:"at"`
	Error   *jobs.Error  `json:"error,omitempty"`
}

// Job shows the record as a job.
func (s Submitted) Job() jobs.Job {
	r := s.Request
	return jobs.Job{ID: r.ID, Type: r.Type, Server: r.Server, Params: r.Params, Priority: r.Priority,
		RequestedBy: r.RequestedBy, State: s.State, Error: s.Error, CreatedAt: s.At, UpdatedAt: s.At}
}

// Submitted records are hashes with the fields request (JSON), state, at
// (RFC 3339) and error (JSON), so that marking one rejected touches no JSON.

// createSubmittedScript makes a record unless one exists, with its TTL.
var createSubmittedScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'request', ARGV[1], 'state', ARGV[2], 'at', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`)

// CreateSubmitted stores the submitted record of req unless one exists; it
// reports whether it made it.
func (s *Store) CreateSubmitted(ctx context.Context, req jobs.Request) (bool, error) {
	created, errs := s.CreateSubmittedAll(ctx, []jobs.Request{req})
	return created[0], errs[0]
}

// CreateSubmittedAll stores the submitted record of each request of reqs
// that has none, in two round trips whatever their number: one for the
// records, one to list those it made (listed from then on, as jobs are). It reports, per request, whether it made the record, or why not.
func (s *Store) CreateSubmittedAll(ctx context.Context, reqs []jobs.Request) ([]bool, []error) {
	created, errs := make([]bool, len(reqs)), make([]error, len(reqs))
	at := time.Now().UTC().Format(time.RFC3339Nano)
	data := make([][]byte, len(reqs))
	for i, req := range reqs {
		if data[i], errs[i] = json.Marshal(req); errs[i] != nil {
			errs[i] = fmt.Errorf("marshal submitted job %s: %w", req.ID, errs[i])
		}
	}
	cmds := make([]*redis.Cmd, len(reqs))
	_ = evalAll(ctx, s.rdb, createSubmittedScript, func(pipe redis.Pipeliner) { // each record's error is its own
		for i, req := range reqs {
			if errs[i] == nil {
				cmds[i] = createSubmittedScript.EvalSha(ctx, pipe, []string{submittedKey(req.ID)}, data[i], string(jobs.StateSubmitted), at, s.cfg.JobTTL.Milliseconds())
			}
		}
	})
	index := s.rdb.Pipeline()
	for i, c := range cmds {
		if c == nil {
			continue
		}
		n, err := c.Int()
		if err != nil {
			errs[i] = fmt.Errorf("record submitted job %s: %w", reqs[i].ID, err)
			continue
		}
		if created[i] = n == 1; created[i] { // listed from now on, as jobs are
			s.indexIn(ctx, index, jobs.Job{ID: reqs[i].ID, Server: reqs[i].Server, CreatedAt: time.Now()})
		}
	}
	if n := index.Len(); n > 0 {
		if _, err := index.Exec(ctx); err != nil {
			s.cfg.Logger.Warn().Err(err).Int("commands", n).Msg("index submitted jobs (they are listed once indexed again)")
		}
	}
	return created, errs
}

// RemoveSubmitted forgets the record of a request that NATS did not take.
func (s *Store) RemoveSubmitted(ctx context.Context, id string) error {
	if err := s.rdb.Del(ctx, submittedKey(id)).Err(); err != nil {
		return fmt.Errorf("forget submitted job %s: %w", id, err)
	}
	return nil
}

// SubmittedJob returns the submitted record of id, or a not_found error.
func (s *Store) SubmittedJob(ctx context.Context, id string) (Submitted, error) {
	fields, err := s.rdb.HGetAll(ctx, submittedKey(id)).Result()
	if err != nil {
		return Submitted{}, fmt.Errorf("read submitted job %s: %w", id, err)
	}
	if len(fields) == 0 {
		return Submitted{}, jobs.Errorf(jobs.CodeNotFound, false, "job %s not found", id)
	}
	return decodeSubmitted(id, fields)
}

func decodeSubmitted(id string, fields map[string]string) (Submitted, error) {
	rec := Submitted{State: jobs.State(fields["state"])}
	var err error
	if rec.At, err = time.Parse(time.RFC3339Nano, fields["at"]); err != nil {
		return rec, fmt.Errorf("decode submitted job %s: %w", id, err)
	}
	if err := json.Unmarshal([]byte(fields["request"]), &rec.Request); err != nil {
		return rec, fmt.Errorf("decode submitted job %s: %w", id, err)
	}
	if e := fields["error"]; e != "" {
		rec.Error = &jobs.Error{}
		if err := json.Unmarshal([]byte(e), rec.Error); err != nil {
			return rec, fmt.Errorf("decode submitted job %s: %w", id, err)
		}
	}
	return rec, nil
}

// rejectSubmittedScript marks a submitted record rejected, keeping its TTL;
// it does nothing when there is no record, or it is no longer submitted.
var rejectSubmittedScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'state') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'error', ARGV[3])
return 1
`)

// RejectSubmitted marks the submitted record of id rejected for cause; it
// does nothing when id has no submitted record.
func (s *Store) RejectSubmitted(ctx context.Context, id string, cause *jobs.Error) error {
	data, err := json.Marshal(cause)
	if err != nil {
		return fmt.Errorf("marshal rejection of %s: %w", id, err)
	}
	err = rejectSubmittedScript.Run(ctx, s.rdb, []string{submittedKey(id)}, string(jobs.StateSubmitted), string(jobs.StateRejected), data).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("mark submitted job %s rejected: %w", id, err)
	}
	return nil
}
