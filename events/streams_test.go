package events_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/events/eventstest"
	"github.com/tinmanhq/tinman/servicetest"
)

func TestStreamConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*events.StreamConfig)
		want   string // the setting the error names; "" when valid
	}{
		{"default", func(*events.StreamConfig) {}, ""},
		{"memory storage", func(c *events.StreamConfig) { c.Storage = jetstream.MemoryStorage }, ""},
		{"five replicas", func(c *events.StreamConfig) { c.Replicas = 5 }, ""},
		{"window equal to max ages", func(c *events.StreamConfig) { c.DuplicateWindow = 7 * 24 * time.Hour }, ""},
		{"zero requests max age", func(c *events.StreamConfig) { c.RequestsMaxAge = 0 }, "requests max age"},
		{"negative requests max age", func(c *events.StreamConfig) { c.RequestsMaxAge = -time.Hour }, "requests max age"},
		{"zero events max age", func(c *events.StreamConfig) { c.EventsMaxAge = 0 }, "events max age"},
		{"zero events max bytes", func(c *events.StreamConfig) { c.EventsMaxBytes = 0 }, "events max bytes"},
		{"unlimited events max bytes", func(c *events.StreamConfig) { c.EventsMaxBytes = -1 }, "events max bytes"},
		{"zero duplicate window", func(c *events.StreamConfig) { c.DuplicateWindow = 0 }, "duplicate window"},
		{"window past requests max age", func(c *events.StreamConfig) { c.RequestsMaxAge = time.Hour }, "duplicate window"},
		{"window past events max age", func(c *events.StreamConfig) { c.EventsMaxAge = time.Hour }, "duplicate window"},
		{"zero replicas", func(c *events.StreamConfig) { c.Replicas = 0 }, "replicas"},
		{"six replicas", func(c *events.StreamConfig) { c.Replicas = 6 }, "replicas"},
		// Else it fails later, in EnsureStreams, with nats.go's "can not marshal".
		{"unknown storage", func(c *events.StreamConfig) { c.Storage = jetstream.StorageType(7) }, "storage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := events.DefaultStreamConfig()
			tt.change(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, events.ErrInvalidStreamConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want ErrInvalidStreamConfig naming %q", err, tt.want)
			}
		})
	}
}

func TestStreams(t *testing.T) {
	t.Parallel()
	c := events.DefaultStreamConfig()
	got := c.Streams()
	if len(got) != 2 {
		t.Fatalf("Streams() = %d streams, want 2", len(got))
	}
	want := map[string][]string{
		events.RequestsStream: {"tinman.requests.>", "tinman.callbacks.>"},
		events.EventsStream:   {"tinman.events.>"},
	}
	for _, s := range got {
		if !slices.Equal(s.Subjects, want[s.Name]) {
			t.Errorf("stream %s subjects = %q, want %q", s.Name, s.Subjects, want[s.Name])
		}
		if s.Duplicates != c.DuplicateWindow || s.Replicas != 1 || s.Storage != jetstream.FileStorage {
			t.Errorf("stream %s = %+v", s.Name, s)
		}
	}
	if got[1].MaxAge != c.EventsMaxAge || got[1].MaxBytes != c.EventsMaxBytes || got[0].MaxAge != c.RequestsMaxAge {
		t.Errorf("limits: requests %+v, events %+v", got[0], got[1])
	}
}

func TestEnsureStreams(t *testing.T) {
	t.Parallel()
	_, js := servicetest.JetStream(t, servicetest.NATS(t))
	ctx := eventstest.Context(t)
	c := events.DefaultStreamConfig()
	bad := c
	bad.Replicas = 0
	if err := events.EnsureStreams(ctx, js, bad); !errors.Is(err, events.ErrInvalidStreamConfig) {
		t.Fatalf("EnsureStreams(invalid) = %v, want ErrInvalidStreamConfig", err)
	}
	if _, err := js.Stream(ctx, events.EventsStream); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("an invalid config created a stream: %v", err)
	}
	for range 2 {
		if err := events.EnsureStreams(ctx, js, c); err != nil {
			t.Fatalf("EnsureStreams: %v", err)
		}
	}
	eventstest.Publish(t, events.NewPublisher(js), eventstest.JobEvent(t, events.JobQueued, "job-1", "srv-1", 1))
	c.EventsMaxAge = 24 * time.Hour
	if err := events.EnsureStreams(ctx, js, c); err != nil {
		t.Fatalf("EnsureStreams(updated): %v", err)
	}
	s, err := js.Stream(ctx, events.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.MaxAge != 24*time.Hour || info.State.Msgs != 1 {
		t.Errorf("after update: max age %s, %d messages; want 24h and the event kept", info.Config.MaxAge, info.State.Msgs)
	}
	names := js.StreamNames(ctx)
	var all []string
	for n := range names.Name() {
		all = append(all, n)
	}
	slices.Sort(all)
	if !slices.Equal(all, []string{events.EventsStream, events.RequestsStream}) {
		t.Errorf("streams = %q", all)
	}
}
