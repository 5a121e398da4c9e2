package store

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tinmanhq/tinman/jobs"
)

// acquireLua is a lease grant, shared by the scripts that take a lease:
// lease goes to owner for ttl ms if it is free or already theirs; fence is
// its fencing counter; a grant takes owner off waiters (the jobs waiting
// for a lease). It returns the token and 1 when this call granted it, 0
// when the owner held it already; or nil, 0 and the holder.
const acquireLua = `
local function acquire(lease, fence, waiters, owner, ttl)
  local held = redis.call('GET', lease)
  if held then
    local holder, token = string.match(held, '^(.*) (%d+)$')
    if holder ~= owner then return nil, 0, (holder or held) end
    redis.call('PEXPIRE', lease, ttl)
    return tonumber(token), 0
  end
  local token = redis.call('INCR', fence)
  redis.call('SET', lease, owner .. ' ' .. token, 'PX', ttl)
  redis.call('ZREM', waiters, owner)
  return token, 1
end
`

// startScript reads a job's record and, if there is one, takes its
// server's lease for the job and reads the server's record and whether its
// circuit breaker counts failures.
// KEYS: job, lease, fence, server, breaker, open breakers, lease waiters; ARGV: owner, ttl (ms), server id.
// Returns {job, token, granted (0|1), server, breaker dirty (0|1)};
// {job, 'HELD', holder} when another job holds the lease; {} when the job is gone.
var startScript = redis.NewScript(acquireLua + `
local job = redis.call('GET', KEYS[1])
if not job then return {} end
local token, granted, holder = acquire(KEYS[2], KEYS[3], KEYS[7], ARGV[1], ARGV[2])
if not token then return {job, 'HELD', holder} end
local srv = redis.call('GET', KEYS[4]) or ''
local dirty = redis.call('EXISTS', KEYS[5]) + redis.call('SISMEMBER', KEYS[6], ARGV[3])
return {job, token, granted, srv, dirty}`)

// JobStart is what the start of an attempt on a server reads and takes,
// in one round trip: the job, its server's lease, and the server.
type JobStart struct {
	Job   jobs.Job
	Lease Lease
	// Granted says this call took the lease (false: the job held it
	// already, as a workflow that resumes does). A start that turns out to
	// have nothing to do releases only a lease it was granted.
	Granted bool
	// Server and Credentials are the server's record when the lease was
	// taken; Enrolled is false when there is none.
	Server      jobs.Server
	Credentials jobs.Credentials
	Enrolled    bool
	// BreakerClean says the server's BMC had no failure counted and no
	// open breaker: a call that answers has nothing to reset.
	BreakerClean bool
}

// StartJob reads job id's record, takes server's lease for the job (owner
// id) for ttl, and reads the server's record, in one round trip. A missing
// job is a not_found error. When another job holds the lease, the error
// wraps ErrLeaseHeld and names the holder, and JobStart carries the job only.
func (s *Store) StartJob(ctx context.Context, id, server string, ttl time.Duration) (JobStart, error) {
	keys := []string{jobKey(id), leaseKey(server), fenceKey(server), serverKey(server), breakerKey(server), breakersOpen, leaseWaiters}
	vals, err := startScript.Run(ctx, s.rdb, keys, id, ttl.Milliseconds(), server).Slice()
	if err != nil {
		return JobStart{}, fmt.Errorf("start job %s on %s: %w", id, server, err)
	}
	if len(vals) < 3 {
		return JobStart{}, jobs.Errorf(jobs.CodeNotFound, false, "job %s not found", id)
	}
	var st JobStart
	if err := jsonUnmarshal(fmt.Sprint(vals[0]), &st.Job); err != nil {
		return st, fmt.Errorf("decode %s: %w", jobKey(id), err)
	}
	if vals[1] == "HELD" {
		return st, fmt.Errorf("%w: %v", ErrLeaseHeld, vals[2])
	}
	if len(vals) < 5 {
		return st, fmt.Errorf("start job %s on %s: a reply of %d values", id, server, len(vals))
	}
	return st, s.decodeStart(&st, server, ttl, vals)
}

// decodeStart fills st from the script's reply {job, token, granted, server, dirty}.
func (s *Store) decodeStart(st *JobStart, server string, ttl time.Duration, vals []any) error {
	token, _ := vals[1].(int64)
	granted, _ := vals[2].(int64)
	srvData, _ := vals[3].(string)
	dirty, _ := vals[4].(int64)
	st.Lease = Lease{Server: server, Owner: st.Job.ID, Token: token, TTL: ttl}
	st.Granted, st.BreakerClean = granted == 1, dirty == 0
	if srvData == "" {
		return nil
	}
	var rec serverRecord
	if err := jsonUnmarshal(srvData, &rec); err != nil {
		return fmt.Errorf("decode %s: %w", serverKey(server), err)
	}
	creds, err := s.unseal(server, rec.Sealed)
	if err != nil {
		return err
	}
	st.Server, st.Credentials, st.Enrolled = rec.Server, creds, true
	return nil
}
