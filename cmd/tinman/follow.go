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

// waitFlags adds --wait and what goes with it.
func waitFlags(cmd *cobra.Command, usage string) {
	f := cmd.Flags()
	f.Bool("wait", false, usage)
	f.Duration("wait-timeout", 30*time.Minute, "give up waiting after this long (exit 1)")
	f.Bool("json", false, "with --wait, print events as CloudEvents JSON lines (so does -o json)")
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

// eventsAsJSON reports whether events print as CloudEvents JSON lines: with
// --json, or with -o json, so that stdout stays JSON.
func eventsAsJSON(cmd *cobra.Command) bool {
	asJSON, _ := cmd.Flags().GetBool("json")
	output, _ := cmd.Flags().GetString("output") // "" for a command without -o
	return asJSON || output == "json"
}

// eventPrinter prints events on the command's stdout: JSON lines as
// eventsAsJSON says, else one line each, coloured as useColor says.
func eventPrinter(cmd *cobra.Command) func(events.Event) {
	out := cmd.OutOrStdout()
	asJSON, color := eventsAsJSON(cmd), useColor(out)
	return func(ev events.Event) { printEvent(out, ev, asJSON, color) }
}

func printEvent(out io.Writer, ev events.Event, asJSON, color bool) {
	if asJSON {
		data, _ := json.Marshal(ev)
		fmt.Fprintln(out, string(data))
		return
	}
	fmt.Fprintln(out, formatEvent(ev, color))
}
