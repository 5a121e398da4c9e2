package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/tinmanhq/tinman/client"
	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
)

// The one way the commands follow a job to its end (publish --wait, jobs
// cancel --wait, deploy --wait) and print events (those and watch).

// waitFlags adds --wait and what goes with it: its timeout and the NATS
// connection the events come over.
func waitFlags(cmd *cobra.Command, usage string) {
	f := cmd.Flags()
	f.Bool("wait", false, usage)
	f.Duration("wait-timeout", 30*time.Minute, "give up waiting after this long (exit 1)")
	natsFlags(cmd)
}

// followJob prints the job's events from just before job.Since until it
// ends, and returns the state it ended in, following over NATS as the
// command's flags say.
func followJob(cmd *cobra.Command, job client.JobRef) (jobs.State, error) {
	nc, js, err := connectJetStream(cmd)
	if err != nil {
		return "", err
	}
	defer nc.Close()
	return followJobOn(cmd, js, job)
}

// followJobOn is followJob on a connection the command has: through
// client.Follow, for at most --wait-timeout. A watch that NATS fails is
// exit 3; an interrupted one, or one that outlived --wait-timeout, exit 1.
func followJobOn(cmd *cobra.Command, js jetstream.JetStream, job client.JobRef) (jobs.State, error) {
	timeout, _ := cmd.Flags().GetDuration("wait-timeout")
	ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
	defer cancel()
	end, err := client.Follow(ctx, js, job, eventPrinter(cmd))
	switch {
	case err == nil:
		return end, nil
	case ctx.Err() == nil:
		return "", unreachable(err)
	case cmd.Context().Err() != nil:
		return "", failed(fmt.Errorf("job %s: stopped waiting", job.ID))
	}
	return "", failed(fmt.Errorf("job %s: no end after %s (it goes on: see tinman jobs show %s)", job.ID, timeout, job.ID))
}

// eventPrinter prints events as the command's -o and --jq say: one line
// each for a person (coloured as useColor says), one CloudEvent JSON per
// line, or YAML documents. A --jq that fails on one event says so on
// stderr and goes on with the next, as jq does.
func eventPrinter(cmd *cobra.Command) func(events.Event) {
	o, err := newOutput(cmd)
	if err != nil { // the command checked its flags first: not reached
		o = &output{format: "table", stdout: cmd.OutOrStdout(), stderr: cmd.ErrOrStderr()}
	}
	return func(ev events.Event) {
		if err := printEvent(o, ev); err != nil {
			fmt.Fprintln(o.stderr, "tinman:", err)
		}
	}
}

func printEvent(o *output, ev events.Event) error {
	raw, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	return o.item(raw, func(w io.Writer) error {
		_, err := fmt.Fprintln(w, formatEvent(ev, o.color))
		return err
	})
}
