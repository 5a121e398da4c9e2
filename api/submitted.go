package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tinmanhq/tinman/jobs"
)

// A job is readable as soon as its POST returns, although the dispatcher
// makes the job record later, from NATS. Between the two the API keeps a
// "submitted" record in Redis (shared by every API process), written
// before the request is published and removed again if NATS does not
// ack it: a 202 therefore always has a record behind it. GET /v1/jobs/{id}
// reads the job record first and falls back to the submitted record. When
// the dispatcher refuses the request, the follower of
// tinman.request.rejected (API.Run) marks the record "rejected" with the
// reason, so that no job stays "submitted" for ever.

// Job states the API reports besides the jobs states: a request acked by
// NATS that no dispatcher has taken yet, and one a dispatcher refused.
const (
	StateSubmitted jobs.State = "submitted"
	StateRejected  jobs.State = "rejected"
)

// submittedRecord is a request between its NATS ack and its job record.
type submittedRecord struct {
	Request jobs.Request `json:"request"`
	State   jobs.State   `json:"state"`
	At      time.Time    `json:"at"`
	Error   *jobs.Error  `json:"error,omitempty"`
}

// job shows the record as a job.
func (s submittedRecord) job() jobs.Job {
	r := s.Request
	return jobs.Job{ID: r.ID, Type: r.Type, Server: r.Server, Params: r.Params, Priority: r.Priority,
		RequestedBy: r.RequestedBy, State: s.State, Error: s.Error, CreatedAt: s.At, UpdatedAt: s.At}
}

// submissions keeps submitted records in Redis, as hashes with the fields
// request (JSON), state, at (RFC 3339) and error (JSON), so that marking
// one rejected touches no JSON.
type submissions struct {
	rdb redis.UniversalClient
	ttl time.Duration
}

func submittedKey(id string) string { return "tinman:submitted:" + id }

// createScript makes a record unless one exists, with its TTL.
var createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'request', ARGV[1], 'state', ARGV[2], 'at', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`)

// create stores the record of req unless one exists; it reports whether it
// made it.
func (s *submissions) create(ctx context.Context, req jobs.Request) (bool, error) {
	data, err := json.Marshal(req)
	if err != nil {
		return false, fmt.Errorf("marshal submitted job %s: %w", req.ID, err)
	}
	at := time.Now().UTC().Format(time.RFC3339Nano)
	n, err := createScript.Run(ctx, s.rdb, []string{submittedKey(req.ID)}, data, string(StateSubmitted), at, s.ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("record submitted job %s: %w", req.ID, err)
	}
	return n == 1, nil
}

// remove forgets the record of a request that NATS did not take.
func (s *submissions) remove(ctx context.Context, id string) error {
	if err := s.rdb.Del(ctx, submittedKey(id)).Err(); err != nil {
		return fmt.Errorf("forget submitted job %s: %w", id, err)
	}
	return nil
}

// get returns the record of id, or a not_found error.
func (s *submissions) get(ctx context.Context, id string) (submittedRecord, error) {
	var rec submittedRecord
	fields, err := s.rdb.HGetAll(ctx, submittedKey(id)).Result()
	if err != nil {
		return rec, fmt.Errorf("read submitted job %s: %w", id, err)
	}
	if len(fields) == 0 {
		return rec, jobs.Errorf(jobs.CodeNotFound, false, "job %s not found", id)
	}
	return decodeSubmitted(id, fields)
}

func decodeSubmitted(id string, fields map[string]string) (submittedRecord, error) {
	rec := submittedRecord{State: jobs.State(fields["state"])}
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

// rejectScript marks a submitted record rejected, keeping its TTL; it does
// nothing when there is no record, or it is no longer "submitted".
var rejectScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'state') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'error', ARGV[3])
return 1
`)

// reject marks the record of id rejected for cause.
func (s *submissions) reject(ctx context.Context, id string, cause *jobs.Error) error {
	data, err := json.Marshal(cause)
	if err != nil {
		return fmt.Errorf("marshal rejection of %s: %w", id, err)
	}
	err = rejectScript.Run(ctx, s.rdb, []string{submittedKey(id)}, string(StateSubmitted), string(StateRejected), data).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("mark submitted job %s rejected: %w", id, err)
	}
	return nil
}
