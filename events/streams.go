package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream names of the contract.
const (
	RequestsStream = "TINMAN_REQUESTS"
	EventsStream   = "TINMAN_EVENTS"
)

// ErrInvalidStreamConfig is wrapped by every StreamConfig validation error.
var ErrInvalidStreamConfig = errors.New("invalid stream config")

// StreamConfig sizes the two streams. The zero value is not valid: start from
// DefaultStreamConfig.
type StreamConfig struct {
	// RequestsMaxAge is how long an unconsumed request is kept (default 7 days).
	RequestsMaxAge time.Duration
	// EventsMaxAge is how long events are kept for replay (default 7 days).
	EventsMaxAge time.Duration
	// EventsMaxBytes caps the events stream; the oldest go first (default 1 GiB).
	EventsMaxBytes int64
	// DuplicateWindow is how long a Nats-Msg-Id is remembered (default 2 hours).
	DuplicateWindow time.Duration
	// Replicas for clustered JetStream (default 1).
	Replicas int
	// Storage is file (default) or memory.
	Storage jetstream.StorageType
}

// DefaultStreamConfig returns the documented defaults.
func DefaultStreamConfig() StreamConfig {
	return StreamConfig{
		RequestsMaxAge:  7 * 24 * time.Hour,
		EventsMaxAge:    7 * 24 * time.Hour,
		EventsMaxBytes:  1 << 30,
		DuplicateWindow: 2 * time.Hour,
		Replicas:        1,
		Storage:         jetstream.FileStorage,
	}
}

// Validate reports the first invalid setting by name.
func (c StreamConfig) Validate() error {
	switch {
	case c.RequestsMaxAge <= 0:
		return fmt.Errorf("%w: requests max age must be positive", ErrInvalidStreamConfig)
	case c.EventsMaxAge <= 0:
		return fmt.Errorf("%w: events max age must be positive", ErrInvalidStreamConfig)
	case c.EventsMaxBytes <= 0:
		return fmt.Errorf("%w: events max bytes must be positive", ErrInvalidStreamConfig)
	case c.DuplicateWindow <= 0 || c.DuplicateWindow > c.RequestsMaxAge || c.DuplicateWindow > c.EventsMaxAge:
		return fmt.Errorf("%w: duplicate window must be positive and at most each max age", ErrInvalidStreamConfig)
	case c.Replicas < 1 || c.Replicas > 5:
		return fmt.Errorf("%w: replicas must be 1 to 5", ErrInvalidStreamConfig)
	case c.Storage != jetstream.FileStorage && c.Storage != jetstream.MemoryStorage:
		return fmt.Errorf("%w: storage must be file or memory", ErrInvalidStreamConfig)
	}
	return nil
}

// Streams returns the JetStream configuration of both streams.
func (c StreamConfig) Streams() []jetstream.StreamConfig {
	return []jetstream.StreamConfig{
		{
			Name:        RequestsStream,
			Description: "Tinman job requests and installer callbacks",
			Subjects:    []string{RequestPrefix + ">", CallbackPrefix + ">"},
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      c.RequestsMaxAge,
			Duplicates:  c.DuplicateWindow,
			Storage:     c.Storage,
			Replicas:    c.Replicas,
			Discard:     jetstream.DiscardOld,
		},
		{
			Name:        EventsStream,
			Description: "Tinman events: the public record",
			Subjects:    []string{SubjectPrefix + ">"},
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      c.EventsMaxAge,
			MaxBytes:    c.EventsMaxBytes,
			Duplicates:  c.DuplicateWindow,
			Storage:     c.Storage,
			Replicas:    c.Replicas,
			Discard:     jetstream.DiscardOld,
		},
	}
}

// EnsureStreams creates or updates both streams.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, c StreamConfig) error {
	if err := c.Validate(); err != nil {
		return err
	}
	for _, sc := range c.Streams() {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("ensure stream %s: %w", sc.Name, err)
		}
	}
	return nil
}
