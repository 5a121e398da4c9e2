package callback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
)

// ServeCallback is POST /v1/servers/{id}/callbacks: 204 when recorded, 400
// naming the field, 401 for a wrong token (nothing recorded), 409 for a
// report out of order (booted before installed), 503 when the records
// cannot be reached. Errors are RFC 9457 problem+json.
func (r *Receiver) ServeCallback(w http.ResponseWriter, req *http.Request) {
	server := req.PathValue("id")
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, 64<<10))
	if err != nil {
		problem(w, http.StatusRequestEntityTooLarge, "callback too large", err.Error(), "")
		return
	}
	err = r.Receive(req.Context(), server, body)
	var je *jobs.Error
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, ErrUnauthorized):
		problem(w, http.StatusUnauthorized, "callback not authorized", "wrong job or token", "")
	case errors.As(err, &je) && je.Code == jobs.CodeInvalidRequest:
		problem(w, http.StatusBadRequest, "invalid callback", je.Error(), je.Field)
	case errors.As(err, &je) && je.Code == jobs.CodeConflict:
		problem(w, http.StatusConflict, "callback out of order", je.Error(), je.Field)
	default:
		r.log.Warn().Err(err).Msg("callback not recorded")
		problem(w, http.StatusServiceUnavailable, "callback not recorded", "try again", "")
	}
}

func problem(w http.ResponseWriter, status int, title, detail, field string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	body := map[string]any{"type": "about:blank", "title": title, "status": status, "detail": detail}
	if field != "" {
		body["field"] = field
	}
	_ = json.NewEncoder(w).Encode(body)
}

// Run consumes tinman.callbacks.> with a durable consumer until ctx ends.
// A bad or unauthorized report is terminated; one that could not be
// recorded comes back later.
func (r *Receiver) Run(ctx context.Context, js jetstream.JetStream) error {
	cons, err := r.consumer(ctx, js)
	if err != nil || cons == nil {
		return err
	}
	stream, err := js.Stream(ctx, events.RequestsStream)
	if err != nil {
		return fmt.Errorf("callbacks stream: %w", err)
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		if r.handle(ctx, msg) {
			forget(ctx, stream, msg)
		}
	})
	if err != nil {
		return fmt.Errorf("consume callbacks: %w", err)
	}
	<-ctx.Done()
	cc.Stop()
	<-cc.Closed()
	return nil
}

// consumer creates the durable callbacks consumer, trying again while
// JetStream does not answer; nil, nil when ctx ends first.
func (r *Receiver) consumer(ctx context.Context, js jetstream.JetStream) (jetstream.Consumer, error) {
	cfg := jetstream.ConsumerConfig{
		Durable: "tinman-callbacks", FilterSubject: events.CallbackPrefix + ">",
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, MaxDeliver: -1,
	}
	for delay := 250 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cons, err := js.CreateOrUpdateConsumer(actx, events.RequestsStream, cfg)
		cancel()
		if err == nil {
			return cons, nil
		}
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, fmt.Errorf("create callbacks consumer: %w", err)
		}
		r.log.Warn().Err(err).Dur("retry_in_ms", delay).Msg("create callbacks consumer")
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(delay):
		}
	}
}

// handle receives one report; it reports whether the report is done with
// (recorded, or refused for good).
func (r *Receiver) handle(ctx context.Context, msg jetstream.Msg) bool {
	server := strings.TrimPrefix(msg.Subject(), events.CallbackPrefix)
	err := r.Receive(context.WithoutCancel(ctx), server, msg.Data())
	var je *jobs.Error
	switch {
	case err == nil:
		_ = msg.Ack()
		return true
	case errors.Is(err, ErrUnauthorized) || errors.As(err, &je) && !je.Retryable:
		r.log.Warn().Err(err).Str("server", server).Msg("callback refused")
		_ = msg.TermWithReason(err.Error())
		return true
	default:
		r.log.Warn().Err(err).Str("server", server).Msg("callback not recorded: will come back")
		_ = msg.NakWithDelay(2 * time.Second)
		return false
	}
}

// forgetTimeout bounds the removal of a handled report from the stream.
const forgetTimeout = 5 * time.Second

// forget removes a handled report from TINMAN_REQUESTS: its token is no
// use to anyone once recorded, and must not sit in the stream's seven days
// of retention for whoever can read it.
func forget(ctx context.Context, stream jetstream.Stream, msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), forgetTimeout)
	defer cancel()
	_ = stream.DeleteMsg(ctx, meta.Sequence.Stream) // best effort: it expires with the stream's age
}
