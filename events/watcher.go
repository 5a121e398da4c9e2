package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Filter selects the events a watcher follows. The zero Filter follows every
// new event.
type Filter struct {
	// Server follows one server's events.
	Server string
	// Job follows one job's events.
	Job string
	// Type is a type pattern: "job.failed", "tinman.job.*", "job" (a kind), "" for all.
	Type string
	// Since replays history from now-Since.
	Since time.Duration
	// AfterSeq resumes after this stream sequence (for SSE Last-Event-ID); it wins over Since.
	AfterSeq uint64
}

// Delivered is an event read from the stream, with its place in it.
type Delivered struct {
	Event
	// StreamSeq is the event's sequence in TINMAN_EVENTS.
	StreamSeq uint64
}

// Watcher follows TINMAN_EVENTS through an ordered consumer: no state on the
// server beyond its life, gaps recovered by the client library.
type Watcher struct {
	js jetstream.JetStream
}

// NewWatcher returns a Watcher on js.
func NewWatcher(js jetstream.JetStream) *Watcher { return &Watcher{js: js} }

// ErrStopWatching may be returned by a Watch callback to end the watch with no error.
var ErrStopWatching = errors.New("stop watching")

// Watch calls fn for each event that matches f, in stream order, until ctx
// ends or fn returns an error. Events that fail to decode are skipped.
func (w *Watcher) Watch(ctx context.Context, f Filter, fn func(Delivered) error) error {
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{FilterSubject(f.Server, f.Type)},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	}
	switch {
	case f.AfterSeq > 0:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, f.AfterSeq+1
	case f.Since > 0:
		start := time.Now().Add(-f.Since)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	cons, err := w.js.OrderedConsumer(ctx, EventsStream, cfg)
	if err != nil {
		return fmt.Errorf("watch events: %w", err)
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("watch events: %w", err)
	}
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	defer it.Stop()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return ctx.Err()
			}
			return fmt.Errorf("watch events: %w", err)
		}
		d, ok := decodeDelivered(msg)
		if !ok || !f.matchJob(d.Event) {
			continue
		}
		if err := fn(d); err != nil {
			if errors.Is(err, ErrStopWatching) {
				return nil
			}
			return err
		}
	}
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
