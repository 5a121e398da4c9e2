package client

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/submit"
)

// PublishTimeout bounds the wait for JetStream's ack of a published
// request; the caller's context may bound it more.
const PublishTimeout = 10 * time.Second

// Published is what Publish did with a request.
type Published struct {
	// JobID is the request's id: its own, or the one Publish gave it.
	JobID string
	// Duplicate says JetStream already had a request of this id (within its
	// duplicate window, 2 h): it is the same job.
	Duplicate bool
}

// Publish puts req on NATS (tinman.requests.<type>) through package submit,
// as `tinman publish` does, and returns once JetStream has stored it. A
// request without an ID is given a new one. Nothing is checked here: a
// dispatcher refuses an invalid request with tinman.request.rejected, which
// Follow reports as jobs.StateRejected. An error wraps submit.ErrUnavailable
// when NATS did not take the request: publishing it again is safe.
func Publish(ctx context.Context, js jetstream.JetStream, req jobs.Request) (Published, error) {
	if req.ID == "" {
		req.ID = jobs.NewID(time.Now())
	}
	s, err := submit.New(js, submit.Config{Timeout: PublishTimeout}) // no Recorder: a NATS client has no Redis
	if err != nil {
		return Published{}, err
	}
	dup, err := s.Publish(ctx, req)
	if err != nil {
		return Published{}, err
	}
	return Published{JobID: req.ID, Duplicate: dup}, nil
}

// JobRef names the job Follow follows, and where its events are.
type JobRef struct {
	// ID is the job's id (required).
	ID string
	// Server is the job's server; "" for a job about no single server (a
	// deploy), whose events have the subject events.NoServer.
	Server string
	// Since is when the job was asked for (published, submitted, asked to
	// cancel): Follow reads its events from 2 s before it, for clocks that
	// differ. The zero Since reads every event the stream still holds.
	Since time.Time
}

// clockSkew is how far before JobRef.Since Follow starts reading: the
// clocks of NATS and of the caller may differ.
const clockSkew = 2 * time.Second

// Follow calls fn (when not nil) with each event of the job, in order, until
// the job ends, and returns the state it ended in: jobs.StateSucceeded,
// StateFailed or StateCanceled, or StateRejected when a dispatcher refused
// the request. It reads TINMAN_EVENTS through an ordered consumer
// (events.Watcher), deleted when it returns. When ctx ends first, the error
// wraps ctx.Err(); any other error is NATS failing the watch.
func Follow(ctx context.Context, js jetstream.JetStream, job JobRef, fn func(events.Event)) (jobs.State, error) {
	if job.ID == "" {
		return "", errors.New("follow: the job's ID is required")
	}
	f := events.Filter{Server: events.ServerToken(job.Server), Job: job.ID, Since: job.window()}
	var end jobs.State
	err := events.NewWatcher(js).Watch(ctx, f, func(d events.Delivered) error {
		if fn != nil {
			fn(d.Event)
		}
		if end = endOf(d.Type); end != "" {
			return events.ErrStopWatching
		}
		return nil
	})
	switch {
	case end != "":
		return end, nil
	case err == nil && ctx.Err() != nil:
		err = ctx.Err()
	case err == nil:
		err = errors.New("the watch ended before the job")
	}
	return "", fmt.Errorf("follow job %s: %w", job.ID, err)
}

// window is how far back Follow reads: to clockSkew before Since, or
// further than any stream keeps events for the zero Since.
func (j JobRef) window() time.Duration {
	if j.Since.IsZero() {
		return 100 * 365 * 24 * time.Hour
	}
	return time.Since(j.Since) + clockSkew
}

// endOf is the state an event of type t ends a job in, or "".
func endOf(t events.Type) jobs.State {
	switch {
	case t == events.RequestRejected:
		return jobs.StateRejected
	case t.Terminal():
		return jobs.State(strings.TrimPrefix(string(t), "tinman.job."))
	}
	return ""
}
