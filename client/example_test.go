package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tinmanhq/tinman/client"
	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
)

// Drive Tinman from Go: submit a power job over the HTTP API, then follow
// its events over NATS to its end. apiURL, token and natsURL say where
// Tinman listens (`tinman dev` prints them; here the test's own Tinman).
func Example() {
	check := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := client.New(client.Config{URL: apiURL, Token: token})
	check(err)
	req := jobs.Request{Type: jobs.Power, Server: "sim-01", Params: json.RawMessage(`{"action":"on"}`)}
	sub, _, err := c.SubmitJob(ctx, req)
	check(err)
	nc, err := nats.Connect(natsURL)
	check(err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	check(err)
	end, err := client.Follow(ctx, js, client.JobRef{ID: sub.JobID, Server: req.Server}, func(ev events.Event) { fmt.Println(ev.Type) })
	check(err)
	fmt.Println(sub.State, "->", end)
	// Output:
	// tinman.job.queued
	// tinman.job.started
	// tinman.job.succeeded
	// submitted -> succeeded
}
