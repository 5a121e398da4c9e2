package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tinmanhq/tinman/jobs"
)

// trimEvery is how many index writes go between two trims of an index's
// old entries: each trim finds few, and the listing skips expired jobs.
const trimEvery = 64

// indexIn queues, on pipe, the job's addition to the job indexes, newest
// last, and now and then the removal of the entries older than the job
// records' life. A job indexed already keeps its place.
func (s *Store) indexIn(ctx context.Context, pipe redis.Pipeliner, job jobs.Job) {
	score := float64(job.CreatedAt.UnixMilli())
	trim := s.indexWrites.Add(1)%trimEvery == 1
	var old string // what a trim removes: entries older than this
	if trim {
		old = "(" + strconv.FormatInt(time.Now().Add(-s.cfg.JobTTL).UnixMilli(), 10)
	}
	for _, key := range s.indexKeys(job) {
		pipe.ZAddNX(ctx, key, redis.Z{Score: score, Member: job.ID})
		if trim {
			pipe.ZRemRangeByScore(ctx, key, "-inf", old)
		}
	}
}

func (s *Store) indexKeys(job jobs.Job) []string {
	keys := []string{jobIndexKey}
	if job.Server != "" {
		keys = append(keys, serverJobsKey(job.Server))
	}
	return keys
}

// JobFilter selects jobs; empty fields select all.
type JobFilter struct {
	Server string
	State  jobs.State
	Type   jobs.Type
	// Limit caps the answer (default 100, at most 1000).
	Limit int
	// After is a cursor: the id of the last job of the previous page; the
	// page starts with the next older job ("": the newest). Each page costs
	// O(log n + its size), however deep.
	After string
}

// ListJobs returns the newest jobs that match f, newest first.
func (s *Store) ListJobs(ctx context.Context, f JobFilter) ([]jobs.Job, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	key := jobIndexKey
	if f.Server != "" {
		key = serverJobsKey(f.Server)
	}
	first, err := s.pageStart(ctx, key, f.After)
	if err != nil {
		return nil, err
	}
	out := make([]jobs.Job, 0, limit)
	page := int64(limit) // unfiltered, a page reads only its own records
	if f.State != "" || f.Type != "" {
		page = 500
	}
	for start := first; len(out) < limit; start += page {
		ids, err := s.rdb.ZRevRange(ctx, key, start, start+page-1).Result()
		if err != nil {
			return nil, fmt.Errorf("list jobs: %w", err)
		}
		if len(ids) == 0 {
			break
		}
		found, err := s.jobsByID(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, j := range found {
			if (f.State == "" || j.State == f.State) && (f.Type == "" || j.Type == f.Type) && len(out) < limit {
				out = append(out, j)
			}
		}
	}
	return out, nil
}

// pageStart is the rank, newest first, of the job after the cursor after
// in the index key (0 without one); a cursor no longer indexed is not_found.
func (s *Store) pageStart(ctx context.Context, key, after string) (int64, error) {
	if after == "" {
		return 0, nil
	}
	rank, err := s.rdb.ZRevRank(ctx, key, after).Result()
	if errors.Is(err, redis.Nil) {
		return 0, jobs.Errorf(jobs.CodeNotFound, false, "job %s (the cursor) is not listed", after)
	}
	if err != nil {
		return 0, fmt.Errorf("list jobs after %s: %w", after, err)
	}
	return rank + 1, nil
}

func (s *Store) jobsByID(ctx context.Context, ids []string) ([]jobs.Job, error) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = jobKey(id)
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	out := make([]jobs.Job, 0, len(vals))
	var missing []int
	for i, v := range vals {
		data, ok := v.(string)
		if !ok {
			missing = append(missing, i) // only submitted, or expired since it was indexed
			out = append(out, jobs.Job{})
			continue
		}
		var j jobs.Job
		if err := jsonUnmarshal(data, &j); err != nil {
			return nil, fmt.Errorf("decode job %s: %w", ids[i], err)
		}
		out = append(out, j)
	}
	if err := s.fillSubmitted(ctx, ids, missing, out); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(out, func(j jobs.Job) bool { return j.ID == "" }), nil
}

// fillSubmitted puts the submitted record of each job ids[i], i in missing,
// at out[i], in one round trip; a job with none stays empty.
func (s *Store) fillSubmitted(ctx context.Context, ids []string, missing []int, out []jobs.Job) error {
	if len(missing) == 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(missing))
	for n, i := range missing {
		cmds[n] = pipe.HGetAll(ctx, submittedKey(ids[i]))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("list submitted jobs: %w", err)
	}
	for n, i := range missing {
		if fields := cmds[n].Val(); len(fields) > 0 {
			rec, err := decodeSubmitted(ids[i], fields)
			if err != nil {
				return err
			}
			out[i] = rec.Job()
		}
	}
	return nil
}
