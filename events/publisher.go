package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// PublishTimeout bounds each publish, whatever the caller's context allows:
// a job's attempt may run for hours, and a NATS blip must not stall it. An
// event that could not be published stays in the outbox, and the sweep sends
// it later.
const PublishTimeout = 5 * time.Second

// ErrDisconnected says NATS is not connected: a publish fails at once rather
// than waiting in the client's reconnect buffer.
var ErrDisconnected = errors.New("NATS not connected")

// Publisher publishes events to JetStream and waits for the ack, at most
// PublishTimeout. The event id is the Nats-Msg-Id, so a re-published event is
// stored once.
type Publisher struct {
	js jetstream.JetStream
}

// NewPublisher returns a Publisher on js.
func NewPublisher(js jetstream.JetStream) *Publisher { return &Publisher{js: js} }

// Publish publishes ev and returns once JetStream has stored it.
func (p *Publisher) Publish(ctx context.Context, ev Event) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("marshal event %s: %w", ev.ID, err)
	}
	return p.PublishRaw(ctx, ev.NATSSubject(), ev.ID, data)
}

// PublishRaw publishes an encoded event on subject with message id. It
// fails at once with ErrDisconnected while NATS is away.
func (p *Publisher) PublishRaw(ctx context.Context, subject, id string, data []byte) error {
	if nc := p.js.Conn(); nc != nil && !nc.IsConnected() {
		return fmt.Errorf("publish event %s: NATS is %s: %w", id, nc.Status(), ErrDisconnected)
	}
	ctx, cancel := context.WithTimeout(ctx, PublishTimeout)
	defer cancel()
	if _, err := p.js.PublishMsg(ctx, Raw{subject, id, data}.msg(), jetstream.WithMsgID(id), jetstream.WithExpectStream(EventsStream)); err != nil {
		return fmt.Errorf("publish event %s on %s: %w", id, subject, err)
	}
	return nil
}

// Raw is an encoded event, as PublishAll publishes it.
type Raw struct {
	Subject, ID string
	Data        []byte
}

func (r Raw) msg() *nats.Msg {
	msg := &nats.Msg{Subject: r.Subject, Data: r.Data, Header: nats.Header{}}
	msg.Header.Set("Content-Type", "application/cloudevents+json")
	return msg
}

// PublishAll publishes evs in their order, every publish sent before the
// first ack is awaited, and waits for the acks together, at most
// PublishTimeout: one round trip for the lot. It returns one error per event
// (nil: JetStream stored it); all fail at once with ErrDisconnected while
// NATS is away.
func (p *Publisher) PublishAll(ctx context.Context, evs []Raw) []error {
	errs := make([]error, len(evs))
	if nc := p.js.Conn(); nc != nil && !nc.IsConnected() {
		for i, ev := range evs {
			errs[i] = fmt.Errorf("publish event %s: NATS is %s: %w", ev.ID, nc.Status(), ErrDisconnected)
		}
		return errs
	}
	futures := make([]jetstream.PubAckFuture, len(evs))
	for i, ev := range evs {
		var err error
		if futures[i], err = p.js.PublishMsgAsync(ev.msg(), jetstream.WithMsgID(ev.ID), jetstream.WithExpectStream(EventsStream)); err != nil {
			errs[i] = fmt.Errorf("publish event %s on %s: %w", ev.ID, ev.Subject, err)
		}
	}
	wait, cancel := context.WithTimeout(ctx, PublishTimeout)
	defer cancel()
	for i, f := range futures {
		if f != nil {
			errs[i] = acked(wait, evs[i], f)
		}
	}
	return errs
}

// acked is AwaitAck of ev's publish, its error naming ev.
func acked(wait context.Context, ev Raw, f jetstream.PubAckFuture) error {
	if err := AwaitAck(wait, f); err != nil {
		return fmt.Errorf("publish event %s on %s: %w", ev.ID, ev.Subject, err)
	}
	return nil
}

// AwaitAck waits for JetStream's ack of an async publish until wait ends;
// an ack that came is taken even when wait has ended too. It returns the
// publish's error, or one that says no ack came.
func AwaitAck(wait context.Context, f jetstream.PubAckFuture) error {
	select {
	case <-f.Ok():
		return nil
	case err := <-f.Err():
		return err
	case <-wait.Done():
	}
	select {
	case <-f.Ok():
		return nil
	default:
		return fmt.Errorf("no ack: %w", wait.Err())
	}
}
