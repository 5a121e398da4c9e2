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
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	msg.Header.Set("Content-Type", "application/cloudevents+json")
	if _, err := p.js.PublishMsg(ctx, msg, jetstream.WithMsgID(id), jetstream.WithExpectStream(EventsStream)); err != nil {
		return fmt.Errorf("publish event %s on %s: %w", id, subject, err)
	}
	return nil
}
