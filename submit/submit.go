// Package submit puts job requests on TINMAN_REQUESTS. It is the one way a
// request enters Tinman from inside it: the HTTP API, the webhooks, a
// deploy's jobs and `tinman publish` all submit through a Submitter, so the
// subject, the Nats-Msg-Id, the ack timeout and the submitted record are the
// same whoever asks.
//
// A request is published with its job id as Nats-Msg-Id, so JetStream
// stores it once however often it is sent within the duplicate window.
// Before publishing, a Submitter with a Recorder writes the request's
// submitted record, so the job is readable at once; when NATS does not ack,
// the record this call made is removed again, and nothing was accepted.
package submit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
)

// ErrUnavailable is wrapped by a failure to reach NATS: nothing was
// accepted, and submitting the same request again (same id) is safe.
var ErrUnavailable = errors.New("NATS unavailable")

// ErrInvalidConfig is wrapped by New's refusals.
var ErrInvalidConfig = errors.New("invalid submit config")

// DefaultTimeout bounds the wait for JetStream's ack.
const DefaultTimeout = 5 * time.Second

// removeTimeout bounds the removal of a record after a failed publish, which
// runs even when the caller has gone.
const removeTimeout = 5 * time.Second

// Recorder keeps submitted records (implemented by *store.Store).
type Recorder interface {
	CreateSubmitted(ctx context.Context, req jobs.Request) (bool, error)
	RemoveSubmitted(ctx context.Context, id string) error
}

// BatchRecorder writes the submitted records of many requests at once
// (implemented by *store.Store): per request, whether it made the record,
// or why not.
type BatchRecorder interface {
	CreateSubmittedAll(ctx context.Context, reqs []jobs.Request) ([]bool, []error)
}

// Config configures a Submitter.
type Config struct {
	// Timeout bounds the wait for JetStream's ack (default DefaultTimeout).
	Timeout time.Duration
	// Recorder writes the submitted record before each publish; nil
	// publishes only (a client with no Redis, such as tinman publish).
	Recorder Recorder
	// Logger receives the failures that are not returned.
	Logger zerolog.Logger
}

// Submitter submits job requests. It is safe for concurrent use.
type Submitter struct {
	js  jetstream.JetStream
	cfg Config
}

// New returns a Submitter that publishes through js.
func New(js jetstream.JetStream, cfg Config) (*Submitter, error) {
	switch {
	case js == nil:
		return nil, fmt.Errorf("%w: JetStream is required", ErrInvalidConfig)
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("%w: Timeout %s is negative", ErrInvalidConfig, cfg.Timeout)
	case cfg.Timeout == 0:
		cfg.Timeout = DefaultTimeout
	}
	return &Submitter{js: js, cfg: cfg}, nil
}

// Submit records req as submitted (with a Recorder), calls admit with
// whether this call made the record (false: the id was known: admit decides
// whether a repeat is acceptable, and may refuse it), then publishes req. It
// reports whether it made the record. When the publish fails, the record it
// made is removed and the error wraps ErrUnavailable. admit may be nil.
func (s *Submitter) Submit(ctx context.Context, req jobs.Request, admit func(created bool) error) (bool, error) {
	created := true
	if s.cfg.Recorder != nil {
		var err error
		if created, err = s.cfg.Recorder.CreateSubmitted(ctx, req); err != nil {
			return false, err
		}
	}
	if admit != nil {
		if err := admit(created); err != nil {
			s.forget(ctx, req.ID, created)
			return false, err
		}
	}
	if _, err := s.Publish(ctx, req); err != nil {
		s.forget(ctx, req.ID, created)
		return false, err
	}
	return created, nil
}

// forget removes the record of a request that was not accepted, if this
// call made it.
func (s *Submitter) forget(ctx context.Context, id string, created bool) {
	if !created || s.cfg.Recorder == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), removeTimeout)
	defer cancel()
	if err := s.cfg.Recorder.RemoveSubmitted(ctx, id); err != nil {
		s.cfg.Logger.Warn().Err(err).Str("job_id", id).Msg("a submitted record outlives its failed publish")
	}
}

// SubmitAll is Submit, without admission, for many requests at once: their
// records in one round trip when the Recorder is a BatchRecorder, then
// every publish sent before the first ack is awaited, all within one
// Timeout. It returns one error per request (nil: JetStream stored it); a
// request that failed has the record this call made removed, and its
// error wraps ErrUnavailable when NATS did not take it.
func (s *Submitter) SubmitAll(ctx context.Context, reqs []jobs.Request) []error {
	created, errs := s.recordAll(ctx, reqs)
	futures := make([]jetstream.PubAckFuture, len(reqs))
	nc := s.js.Conn()
	for i, req := range reqs {
		if errs[i] != nil {
			continue
		}
		if nc != nil && !nc.IsConnected() {
			errs[i] = fmt.Errorf("publish request %s: NATS is %s: %w", req.ID, nc.Status(), ErrUnavailable)
			continue
		}
		msg, err := requestMsg(req)
		if err == nil {
			futures[i], err = s.js.PublishMsgAsync(msg, jetstream.WithMsgID(req.ID), jetstream.WithExpectStream(events.RequestsStream))
		}
		if err != nil {
			errs[i] = fmt.Errorf("publish request %s: %w: %w", req.ID, ErrUnavailable, err)
		}
	}
	wait, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	for i, f := range futures {
		if f != nil {
			errs[i] = acked(wait, reqs[i].ID, f)
		}
	}
	for i, err := range errs {
		if err != nil {
			s.forget(ctx, reqs[i].ID, created[i])
		}
	}
	return errs
}

// recordAll writes the submitted records of reqs: in one round trip with a
// BatchRecorder, one by one with another Recorder, none without.
func (s *Submitter) recordAll(ctx context.Context, reqs []jobs.Request) ([]bool, []error) {
	created, errs := make([]bool, len(reqs)), make([]error, len(reqs))
	switch r := s.cfg.Recorder.(type) {
	case nil:
	case BatchRecorder:
		return r.CreateSubmittedAll(ctx, reqs)
	default:
		for i, req := range reqs {
			created[i], errs[i] = r.CreateSubmitted(ctx, req)
		}
	}
	return created, errs
}

// acked waits for JetStream's ack of request id's publish until wait ends
// (events.AwaitAck).
func acked(wait context.Context, id string, f jetstream.PubAckFuture) error {
	if err := events.AwaitAck(wait, f); err != nil {
		return fmt.Errorf("publish request %s: %w: %w", id, ErrUnavailable, err)
	}
	return nil
}

// requestMsg is req as it is published.
func requestMsg(req jobs.Request) (*nats.Msg, error) {
	data, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("marshal request %s: %w", req.ID, err)
	}
	msg := &nats.Msg{Subject: events.RequestSubject(string(req.Type)), Data: data, Header: nats.Header{}}
	msg.Header.Set("Content-Type", "application/json")
	return msg, nil
}

// Publish sends req and returns once JetStream has stored it, reporting
// whether JetStream already had it (a duplicate within its window). A
// connection that is not up fails at once rather than buffering the request
// until the timeout: a caller told "unavailable" retries with the same id.
func (s *Submitter) Publish(ctx context.Context, req jobs.Request) (duplicate bool, err error) {
	if nc := s.js.Conn(); nc != nil && !nc.IsConnected() {
		return false, fmt.Errorf("publish request %s: NATS is %s: %w", req.ID, nc.Status(), ErrUnavailable)
	}
	msg, err := requestMsg(req)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	ack, err := s.js.PublishMsg(ctx, msg, jetstream.WithMsgID(req.ID), jetstream.WithExpectStream(events.RequestsStream))
	if err != nil {
		return false, fmt.Errorf("publish request %s: %w: %w", req.ID, ErrUnavailable, err)
	}
	return ack.Duplicate, nil
}
