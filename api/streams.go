package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
)

// Each event stream holds a JetStream consumer, and NATS caps a stream's
// consumers (1,000 by default, for every process of the deployment
// together). StreamLimits keep one caller, or the API as a whole, from
// taking them all: past a cap the API answers 429 with Retry-After.

// StreamLimits bound the event streams (GET /v1/events) of one API process.
type StreamLimits struct {
	// PerToken caps the streams open at once with one token (default 8;
	// with InsecureNoAuth every caller shares one).
	PerToken int
	// Total caps the streams open at once (default 128).
	Total int
	// RetryAfter is the Retry-After of a 429 past a cap, rounded up to
	// whole seconds (default 5 s).
	RetryAfter time.Duration
}

func (l *StreamLimits) setDefaults() {
	if l.PerToken <= 0 {
		l.PerToken = 8
	}
	if l.Total <= 0 {
		l.Total = 128
	}
	if l.RetryAfter <= 0 {
		l.RetryAfter = 5 * time.Second
	}
}

// codeTooMany is the problem code of a 429.
const codeTooMany = "too_many_requests"

// streamCounter counts the open streams, in all and per token. A token's
// entry lives only while it holds a stream, so the map holds at most
// Total entries, each an authenticated identity.
type streamCounter struct {
	limits  StreamLimits
	mu      sync.Mutex
	open    int
	byToken map[string]int
}

func newStreamCounter(l StreamLimits) *streamCounter {
	return &streamCounter{limits: l, byToken: map[string]int{}}
}

// acquire takes a stream for token and returns its release, or the cap
// that stops it.
func (c *streamCounter) acquire(token string) (func(), error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.open >= c.limits.Total:
		return nil, fmt.Errorf("%d event streams are open, the most this API serves: try again later", c.open)
	case c.byToken[token] >= c.limits.PerToken:
		return nil, fmt.Errorf("this token has %d event streams open, the most one token may: close one first", c.byToken[token])
	}
	c.open++
	c.byToken[token]++
	var once sync.Once
	return func() { once.Do(func() { c.release(token) }) }, nil
}

func (c *streamCounter) release(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.open--
	if c.byToken[token]--; c.byToken[token] <= 0 {
		delete(c.byToken, token)
	}
}

// tooMany answers 429 with Retry-After.
func (a *API) tooMany(w http.ResponseWriter, r *http.Request, err error) {
	secs := int((a.cfg.Streams.RetryAfter + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	problem(w, r, http.StatusTooManyRequests, codeTooMany, err.Error(), "")
}

// placeJob gives a job filter its server, so that the consumer reads
// that server's subjects only: a job's events are all on its server's
// (a deploy's on "_"). The server comes from the job's record, or its
// submitted record. A job the API does not know may only be watched live:
// its history, if any, could be anywhere in the stream.
func (a *API) placeJob(ctx context.Context, f *events.Filter) error {
	if f.Job == "" || f.Server != "" {
		return nil
	}
	job, err := a.job(ctx, f.Job)
	if e := jobs.AsError(err); e != nil && e.Code == jobs.CodeNotFound {
		if f.Since > 0 || f.AfterSeq > 0 {
			return &jobs.Error{Code: jobs.CodeNotFound, Field: "job", Message: "job " + f.Job +
				" is unknown: its history cannot be replayed (watch it live, without since or Last-Event-ID, or give its server)"}
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("find the server of job %s: %w", f.Job, err)
	}
	f.Server = events.ServerToken(job.Server)
	return nil
}
