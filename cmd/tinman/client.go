package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/tinmanhq/tinman/events"
)

// natsFlags adds the connection flags of a client command that reads or
// publishes on NATS (watch, publish, the --wait of the others).
func natsFlags(cmd *cobra.Command) {
	cmd.Flags().String("nats-url", "", "NATS server URLs, comma-separated (default: the running tinman dev, else nats://127.0.0.1:4222)")
	natsAuthFlags(cmd)
}

// natsURL resolves the NATS URL: flag or TINMAN_NATS_URL, then a running
// `tinman dev`, then the local default.
func natsURL(cmd *cobra.Command) string {
	if u := mustString(cmd, "nats-url"); u != "" {
		return u
	}
	if c, ok := readDevContext(devContextPath()); ok && c.NATSURL != "" {
		return c.NATSURL
	}
	return nats.DefaultURL
}

// connectJetStream connects a client command to NATS; failure is exit 3.
func connectJetStream(cmd *cobra.Command) (*nats.Conn, jetstream.JetStream, error) {
	target, err := natsTargetOf(cmd, natsURL(cmd))
	if err != nil {
		return nil, nil, err
	}
	url := describeNATS(target.URLs)
	opts := append([]nats.Option{nats.Name("tinman-cli"), nats.Timeout(5 * time.Second),
		nats.MaxReconnects(-1), nats.RetryOnFailedConnect(false)}, target.Options...)
	nc, err := nats.Connect(target.URLs, opts...)
	if err != nil {
		return nil, nil, unreachable(fmt.Errorf("connect to NATS at %s: %w (is `tinman dev` running?)", url, err))
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, unreachable(fmt.Errorf("jetstream at %s: %w", url, err))
	}
	if err := tinmansNATS(cmd.Context(), js, url); err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// tinmansNATS checks that the NATS at url holds Tinman's streams: a client
// that reached another NATS (or one whose JetStream is off) is told so,
// and what to do, instead of "no response from stream".
func tinmansNATS(ctx context.Context, js jetstream.JetStream, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := js.Stream(ctx, events.EventsStream)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jetstream.ErrStreamNotFound), errors.Is(err, jetstream.ErrJetStreamNotEnabled),
		errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return unreachable(fmt.Errorf("NATS at %s has no Tinman streams (%s, %s): it is not Tinman's NATS, or no Tinman role has run on it yet: "+
			"start `tinman dev`, or a role (api, dispatcher, worker) on it, or give the right --nats-url (%w)", url, events.RequestsStream, events.EventsStream, err))
	}
	return unreachable(fmt.Errorf("NATS at %s: read the stream %s: %w", url, events.EventsStream, err))
}
