package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
)

func newWatchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Follow the event stream",
		Example: "  tinman watch --server sim-03 --since 10m\n" +
			"  tinman watch --type job.failed -o json",
		Args: requireNoArgs,
		RunE: runWatch,
	}
	natsFlags(cmd)
	outputFlags(cmd)
	f := cmd.Flags()
	f.String("server", "", "only this server's events (_: those about no single server, such as deploys')")
	f.String("job", "", "only this job's events (give --server too: else the job's server is found from its queued event)")
	f.String("type", "", "only these types: job.failed, job.*, job, tinman.server.state_changed")
	f.Duration("since", 0, "replay history from this long ago (10m, 2h)")
	_ = cmd.RegisterFlagCompletionFunc("type", fixedValues(eventTypeNames()))
	_ = cmd.RegisterFlagCompletionFunc("server", serverIDs)
	return cmd
}

func runWatch(cmd *cobra.Command, _ []string) error {
	f := events.Filter{Server: mustString(cmd, "server"), Job: mustString(cmd, "job"), Type: mustString(cmd, "type")}
	f.Since, _ = cmd.Flags().GetDuration("since")
	if f.Server != "" && f.Server != events.NoServer && !jobs.ValidServerID(f.Server) {
		return usageErr("--server %q: must match ^[a-z0-9][a-z0-9-]{0,62}$, or be _ (events about no single server)", f.Server)
	}
	if f.Type != "" && !events.ValidTypePattern(f.Type) {
		return badEventType(f.Type)
	}
	if f.Since < 0 {
		return usageErr("--since %s: must be positive", f.Since)
	}
	if _, err := newOutput(cmd); err != nil {
		return err
	}
	nc, js, err := connectJetStream(cmd)
	if err != nil {
		return err
	}
	defer nc.Close()
	show := eventPrinter(cmd)
	err = events.NewWatcher(js).Watch(cmd.Context(), f, func(d events.Delivered) error {
		show(d.Event)
		return nil
	})
	if err != nil && !errors.Is(err, cmd.Context().Err()) {
		return unreachable(fmt.Errorf("watch: %w", err))
	}
	return nil
}

// badEventType is the usage error of a --type that is no event type or
// pattern, with the nearest type when one is close.
func badEventType(typ string) error {
	if best := closest(strings.TrimPrefix(typ, "tinman."), eventTypeNames()); best != "" {
		return usageErr("unknown event type (--type) %q: did you mean %q?", typ, best)
	}
	return usageErr("--type %q: not an event type or pattern (job.failed, job.*, job, tinman.server.state_changed)", typ)
}

// eventTypeNames are the event types as --type takes them: job.failed.
func eventTypeNames() []string {
	var names []string
	for _, t := range events.Types() {
		names = append(names, strings.TrimPrefix(string(t), "tinman."))
	}
	return names
}
