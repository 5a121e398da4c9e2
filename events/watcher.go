package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Filter selects the events a watcher follows. The zero Filter follows every
// new event.
type Filter struct {
	// Server follows one server's events (NoServer: those about no single
	// server, such as a deploy's).
	Server string
	// Job follows one job's events. The job's events are all on its
	// server's subjects: give Server too when it is known, so the
	// consumer reads only that server's events.
	Job string
	// Type is a type pattern: "job.failed", "tinman.job.*", "job" (a kind), "" for all.
	Type string
	// Since replays history from now-Since.
	Since time.Duration
	// AfterSeq resumes after this stream sequence (for SSE Last-Event-ID); it wins over Since.
	AfterSeq uint64
	// Started, when set, is called once the watch's consumer exists: from
	// then on no new event that matches is missed.
	Started func()
}

// Subject is the subject filter of the consumer that follows f: the
// server and type are matched by NATS, so only the job is matched here.
func (f Filter) Subject() string { return FilterSubject(f.Server, f.Type) }

// replays reports whether f asks for history.
func (f Filter) replays() bool { return f.AfterSeq > 0 || f.Since > 0 }

// Delivered is an event read from the stream, with its place in it.
type Delivered struct {
	Event
	// StreamSeq is the event's sequence in TINMAN_EVENTS.
	StreamSeq uint64
}

// WatchInactiveThreshold is the inactive threshold of a watch's consumer:
// should a watcher vanish without deleting it (a killed process, a lost
// connection), NATS removes it this long after its last pull.
const WatchInactiveThreshold = 10 * time.Second

// deleteTimeout bounds the deletion of a watch's consumer once it ends.
const deleteTimeout = 5 * time.Second

// Watcher follows TINMAN_EVENTS through an ordered consumer: gaps are
// recovered by the client library, and the consumer is deleted when the
// watch ends (WatchInactiveThreshold is the backstop).
type Watcher struct {
	js jetstream.JetStream
	// InactiveThreshold is the inactive threshold of its consumers
	// (default WatchInactiveThreshold).
	InactiveThreshold time.Duration
}

// NewWatcher returns a Watcher on js.
func NewWatcher(js jetstream.JetStream) *Watcher {
	return &Watcher{js: js, InactiveThreshold: WatchInactiveThreshold}
}

// ErrStopWatching may be returned by a Watch callback to end the watch with no error.
var ErrStopWatching = errors.New("stop watching")

// Watch calls fn for each event that matches f, in stream order, until ctx
// ends or fn returns an error. Events that fail to decode are skipped.
// The consumer's subject filter carries f's server and type; a job with
// no server that asks for history is first located (see locate).
func (w *Watcher) Watch(ctx context.Context, f Filter, fn func(Delivered) error) error {
	if f.Job != "" && f.Server == "" && f.replays() {
		server, err := w.locate(ctx, f)
		if err != nil {
			return fmt.Errorf("watch events: locate job %s: %w", f.Job, err)
		}
		f.Server = server
	}
	return w.follow(ctx, w.consumerConfig(f, f.Subject()), false, f.Started, func(msg jetstream.Msg) error {
		d, ok := decodeDelivered(msg)
		if !ok || !f.matchJob(d.Event) {
			return nil
		}
		return fn(d)
	})
}

// consumerConfig is the ordered consumer of f's start point on subjects.
func (w *Watcher) consumerConfig(f Filter, subjects ...string) jetstream.OrderedConsumerConfig {
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects:    subjects,
		DeliverPolicy:     jetstream.DeliverNewPolicy,
		InactiveThreshold: w.InactiveThreshold,
	}
	if cfg.InactiveThreshold <= 0 {
		cfg.InactiveThreshold = WatchInactiveThreshold
	}
	switch {
	case f.AfterSeq > 0:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, f.AfterSeq+1
	case f.Since > 0:
		start := time.Now().Add(-f.Since)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	return cfg
}

// follow runs an ordered consumer of cfg, calls started (if any) once it
// exists, then fn for each message until ctx ends or fn returns an error
// (ErrStopWatching: none); with history, also once it has read what the
// stream held when it started. The consumer is deleted before follow
// returns.
func (w *Watcher) follow(ctx context.Context, cfg jetstream.OrderedConsumerConfig, history bool, started func(), fn func(jetstream.Msg) error) error {
	cons, err := w.js.OrderedConsumer(ctx, EventsStream, cfg)
	if err != nil {
		return fmt.Errorf("watch events: %w", err)
	}
	defer w.remove(ctx, cons)
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("watch events: %w", err)
	}
	defer it.Stop()
	defer context.AfterFunc(ctx, it.Stop)()
	if started != nil {
		started()
	}
	if info := cons.CachedInfo(); history && info != nil && info.NumPending == 0 {
		return nil
	}
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return ctx.Err()
			}
			return fmt.Errorf("watch events: %w", err)
		}
		if err := fn(msg); err != nil {
			if errors.Is(err, ErrStopWatching) {
				return nil
			}
			return err
		}
		if meta, err := msg.Metadata(); history && err == nil && meta.NumPending == 0 {
			return nil
		}
	}
}

// remove deletes the consumer behind cons, which the client library leaves
// on the server when its iterator stops. A failure is logged: the inactive
// threshold removes the consumer anyway.
func (w *Watcher) remove(ctx context.Context, cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil {
		return // never created
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deleteTimeout)
	defer cancel()
	err := w.js.DeleteConsumer(dctx, EventsStream, info.Name)
	if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		zerolog.Ctx(ctx).Warn().Err(err).Str("consumer", info.Name).
			Msg("delete a watch's consumer: NATS removes it after its inactive threshold")
	}
}

// locate returns the server of f.Job from the job's first event within f's
// window, its tinman.job.queued or its tinman.request.rejected, reading
// only those two subjects; "" (any server) when the window holds neither,
// say for a job queued before it.
func (w *Watcher) locate(ctx context.Context, f Filter) (string, error) {
	server := ""
	cfg := w.consumerConfig(f, FilterSubject("", string(JobQueued)), FilterSubject("", string(RequestRejected)))
	err := w.follow(ctx, cfg, true, nil, func(msg jetstream.Msg) error {
		if d, ok := decodeDelivered(msg); ok && f.matchJob(d.Event) {
			server = subjectServer(msg.Subject())
			return ErrStopWatching
		}
		return nil
	})
	return server, err
}

// subjectServer is the <server> of tinman.events.<server>.<kind>.<what>.
func subjectServer(subject string) string {
	rest, _ := strings.CutPrefix(subject, SubjectPrefix)
	server, _, _ := strings.Cut(rest, ".")
	return server
}

func decodeDelivered(msg jetstream.Msg) (Delivered, bool) {
	ev, err := Decode(msg.Data())
	if err != nil {
		return Delivered{}, false
	}
	d := Delivered{Event: ev}
	if meta, err := msg.Metadata(); err == nil {
		d.StreamSeq = meta.Sequence.Stream
	}
	return d, true
}

func (f Filter) matchJob(ev Event) bool {
	if f.Job == "" {
		return true
	}
	var d struct {
		JobID string `json:"job_id"`
	}
	return json.Unmarshal(ev.Data, &d) == nil && d.JobID == f.Job
}
