package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tinmanhq/tinman/jobs"
)

// A deploy holds its servers from its admission to its end, so that two
// deploys never drive one server: tinman:deploy-holds maps each held server
// to "<deploy id> <unix ms of the hold>". Its servers, in batch order, are
// the list tinman:deploy-servers:<id> (JobTTL), written with the hold; the
// running batch's unfinished jobs are the set tinman:deploy-pending:<id>,
// which each child leaves as it ends, so that the last one can wake the
// deploy.
//
// A hold whose deploy has ended, whatever way, is stale: the deploy's end
// releases it, and a hold found stale is taken over, so none blocks for
// ever. A hold with no job record behind it is live while the deploy is
// submitted, or for holdGrace (between a dispatcher's hold and its record).

// holdGrace is how long a hold with neither a job nor a submitted record
// behind it counts as live.
const holdGrace = time.Minute

// holdScript checks, and unless ARGV[3] is "check" takes, the hold of the
// servers ARGV[6+n..] for deploy ARGV[1] at ARGV[2] (unix ms); the n =
// ARGV[4] ids after it are holders known stale. It returns the other
// holders found, each as holder, hold value, first server, count; it takes
// nothing when it finds one. A hold it takes also writes the server list
// KEYS[2], expiring after ARGV[5+n] ms, unless it exists.
var holdScript = redis.NewScript(`
local id, mode, n = ARGV[1], ARGV[3], tonumber(ARGV[4])
local stale = {}
for i = 5, 4 + n do stale[ARGV[i]] = true end
local first = 5 + n + 1
local found, order = {}, {}
for i = first, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v then
    local holder = string.match(v, '^(%S+)')
    if holder ~= id and not stale[holder] then
      if not found[holder] then found[holder] = {holder, v, ARGV[i], 0}; table.insert(order, holder) end
      found[holder][4] = found[holder][4] + 1
    end
  end
end
if #order > 0 or mode == 'check' then
  local out = {}
  for _, h in ipairs(order) do for _, x in ipairs(found[h]) do table.insert(out, tostring(x)) end end
  return out
end
local value = id .. ' ' .. ARGV[2]
for i = first, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], value) end
if redis.call('EXISTS', KEYS[2]) == 0 then
  for i = first, #ARGV, 1000 do redis.call('RPUSH', KEYS[2], unpack(ARGV, i, math.min(i + 999, #ARGV))) end
  redis.call('PEXPIRE', KEYS[2], ARGV[5 + n])
end
return {}
`)

// heldBy is a deploy found holding some of the servers asked for.
type heldBy struct {
	deploy, server string
	at             time.Time
	count          int
}

// HoldServers holds servers, in this order, for deploy id, and keeps them
// as its server list. A server held by another deploy that is still live
// refuses the hold with a conflict error naming that deploy (its Field is
// left to the caller); a stale hold is taken over. Holding again what id
// holds changes nothing.
func (s *Store) HoldServers(ctx context.Context, id string, servers []string) error {
	return s.hold(ctx, id, servers, "hold")
}

// CheckServersFree returns the conflict HoldServers would return for
// deploy id, taking nothing.
func (s *Store) CheckServersFree(ctx context.Context, id string, servers []string) error {
	return s.hold(ctx, id, servers, "check")
}

func (s *Store) hold(ctx context.Context, id string, servers []string, mode string) error {
	var stale []string
	for range 3 { // a stale holder found is passed back as such; holds may change meanwhile
		found, err := s.runHold(ctx, id, servers, mode, stale)
		if err != nil || len(found) == 0 {
			return err
		}
		for _, h := range found {
			live, err := s.deployLive(ctx, h)
			if err != nil {
				return err
			}
			if live != "" {
				return heldError(h, live)
			}
			stale = append(stale, h.deploy)
		}
		if mode == "check" {
			return nil
		}
	}
	return fmt.Errorf("hold the servers of deploy %s: the holds kept changing", id)
}

func (s *Store) runHold(ctx context.Context, id string, servers []string, mode string, stale []string) ([]heldBy, error) {
	args := make([]any, 0, 5+len(stale)+1+len(servers))
	args = append(args, id, time.Now().UnixMilli(), mode, len(stale))
	for _, h := range stale {
		args = append(args, h)
	}
	args = append(args, s.cfg.JobTTL.Milliseconds())
	for _, srv := range servers {
		args = append(args, srv)
	}
	res, err := holdScript.Run(ctx, s.rdb, []string{deployHoldsKey, deployServersKey(id)}, args...).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("hold the servers of deploy %s: %w", id, err)
	}
	var found []heldBy
	for i := 0; i+3 < len(res); i += 4 {
		h := heldBy{deploy: res[i], server: res[i+2]}
		h.count, _ = strconv.Atoi(res[i+3])
		if _, ms, ok := strings.Cut(res[i+1], " "); ok {
			n, _ := strconv.ParseInt(ms, 10, 64)
			h.at = time.UnixMilli(n)
		}
		found = append(found, h)
	}
	return found, nil
}

// deployLive returns the state of the deploy behind a hold while it is
// live, or "" when the hold is stale.
func (s *Store) deployLive(ctx context.Context, h heldBy) (jobs.State, error) {
	job, err := s.Job(ctx, h.deploy)
	switch {
	case err == nil && job.State.Terminal():
		return "", nil
	case err == nil:
		return job.State, nil
	case jobs.CodeOf(err) != jobs.CodeNotFound:
		return "", err
	}
	sub, err := s.SubmittedJob(ctx, h.deploy)
	switch {
	case err == nil && sub.State == jobs.StateSubmitted:
		return jobs.StateSubmitted, nil
	case err != nil && jobs.CodeOf(err) != jobs.CodeNotFound:
		return "", err
	case time.Since(h.at) < holdGrace:
		return jobs.StateQueued, nil
	}
	return "", nil
}

// heldError is the conflict of a hold refused by deploy h, which is state.
func heldError(h heldBy, state jobs.State) *jobs.Error {
	which := "server " + h.server + " is"
	if h.count > 1 {
		which = fmt.Sprintf("servers %s and %d more are", h.server, h.count-1)
	}
	return &jobs.Error{Code: jobs.CodeConflict, Message: fmt.Sprintf(
		"%s held by deploy %s, which is %s: wait for it to end, or cancel it (tinman jobs cancel %s)", which, h.deploy, state, h.deploy)}
}

// releaseHoldsScript lets go of each server of list KEYS[2] that deploy ARGV[1]
// holds in KEYS[1].
var releaseHoldsScript = redis.NewScript(`
local n = 0
for _, srv in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
  local v = redis.call('HGET', KEYS[1], srv)
  if v and string.match(v, '^(%S+)') == ARGV[1] then redis.call('HDEL', KEYS[1], srv); n = n + 1 end
end
redis.call('DEL', KEYS[3])
return n
`)

// ReleaseServers ends deploy id's holds, and forgets its pending batch;
// its server list stays, for the views, until JobTTL.
func (s *Store) ReleaseServers(ctx context.Context, id string) error {
	err := releaseHoldsScript.Run(ctx, s.rdb, []string{deployHoldsKey, deployServersKey(id), deployPendingKey(id)}, id).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("release the servers of deploy %s: %w", id, err)
	}
	return nil
}

// DeployServers returns the servers of deploy id from index start to stop
// (inclusive; -1 is the last), in batch order: none before its hold.
func (s *Store) DeployServers(ctx context.Context, id string, start, stop int64) ([]string, error) {
	out, err := s.rdb.LRange(ctx, deployServersKey(id), start, stop).Result()
	if err != nil {
		return nil, fmt.Errorf("read the servers of deploy %s: %w", id, err)
	}
	return out, nil
}

// DeployServerCount returns how many servers deploy id holds in its list.
func (s *Store) DeployServerCount(ctx context.Context, id string) (int, error) {
	n, err := s.rdb.LLen(ctx, deployServersKey(id)).Result()
	if err != nil {
		return 0, fmt.Errorf("count the servers of deploy %s: %w", id, err)
	}
	return int(n), nil
}
