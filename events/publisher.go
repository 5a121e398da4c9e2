package events

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Publisher publishes events to JetStream and waits for the ack. The event id
// is the Nats-Msg-Id, so a re-published event is stored once.
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

// PublishRaw publishes an encoded event on subject with message id.
func (p *Publisher) PublishRaw(ctx context.Context, subject, id string, data []byte) error {
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	msg.Header.Set("Content-Type", "application/cloudevents+json")
	if _, err := p.js.PublishMsg(ctx, msg, jetstream.WithMsgID(id), jetstream.WithExpectStream(EventsStream)); err != nil {
		return fmt.Errorf("publish event %s on %s: %w", id, subject, err)
	}
	return nil
}
