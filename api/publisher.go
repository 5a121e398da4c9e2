package api

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
)

// JetStreamPublisher publishes job requests on tinman.requests.<type> with
// the job id as Nats-Msg-Id, so that JetStream stores a request once
// however often it is sent within the duplicate window.
type JetStreamPublisher struct {
	js      jetstream.JetStream
	timeout time.Duration
}

// NewJetStreamPublisher returns a publisher on js that waits at most
// timeout (default 5 s) for JetStream's ack.
func NewJetStreamPublisher(js jetstream.JetStream, timeout time.Duration) *JetStreamPublisher {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	return &JetStreamPublisher{js: js, timeout: timeout}
}

// Publish sends req and returns once JetStream has stored it. A connection
// that is not up fails at once, wrapping ErrUnavailable, rather than
// buffering the request until the timeout: a caller told "unavailable"
// retries with the same id, and a duplicate is dropped.
func (p *JetStreamPublisher) Publish(ctx context.Context, req jobs.Request) error {
	if nc := p.js.Conn(); nc != nil && !nc.IsConnected() {
		return fmt.Errorf("publish request %s: NATS is %s: %w", req.ID, nc.Status(), ErrUnavailable)
	}
	data, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("marshal request %s: %w", req.ID, err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	msg := &nats.Msg{Subject: events.RequestSubject(string(req.Type)), Data: data, Header: nats.Header{}}
	msg.Header.Set("Content-Type", "application/json")
	_, err = p.js.PublishMsg(ctx, msg, jetstream.WithMsgID(req.ID), jetstream.WithExpectStream(events.RequestsStream))
	if err != nil {
		return fmt.Errorf("publish request %s: %w: %w", req.ID, ErrUnavailable, err)
	}
	return nil
}
