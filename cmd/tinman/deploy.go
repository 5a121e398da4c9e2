package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/tinmanhq/tinman/api"
	"github.com/tinmanhq/tinman/client"
	"github.com/tinmanhq/tinman/jobs"
)

// deployFlags names the flag that sets each field the API may refuse.
var deployFlags = map[string]string{
	"id": "--id", "priority": "--priority", "params.image": "--image", "params.selector": "--selector",
	"params.servers": "--servers", "params.batch_size": "--batch-size", "params.max_failures": "--max-failures",
	"selector": "--selector",
}

func newDeployCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deploy --image IMG (--selector k=v,... | --servers a,b) [--batch-size N] [--max-failures N] [--id ID] [--wait]",
		Short: "Start a rolling deploy of an image; prints its job id",
		Long: "Submits a deploy job over the HTTP API: the servers of the selector or list are re-provisioned with\n" +
			"the image, batch by batch; the rollout halts when failures pass --max-failures. Prints the job id.\n" +
			"Without --id the id is made here, so that the same command with --id ID is safe to repeat.\n" +
			"With --wait, follows the deploy's events (over NATS) and its batches: exit 0 when it succeeded,\n" +
			"1 when it failed, halted or was canceled. Bad input is exit 2, an unreachable API or NATS exit 3.",
		Example: "  tinman deploy --image ubuntu-24.04 --selector rack=r12 --batch-size 4 --max-failures 1 --wait\n" +
			"  tinman deploy --image ubuntu-24.04 --servers srv-041,srv-042",
		Args: requireNoArgs,
		RunE: runDeploy,
	}
	operatorFlags(cmd)
	outputFlags(cmd)
	waitFlags(cmd, "follow the deploy to its end; the exit code says how it ended")
	f := cmd.Flags()
	f.String("image", "", "the OS image to install (required)")
	f.String("selector", "", "the servers with all these labels: KEY=VALUE,KEY=VALUE")
	f.StringSlice("servers", nil, "these servers: ID,ID")
	f.Int("batch-size", 0, "servers per batch (default: the deploy's, one)")
	f.Int("max-failures", 0, "failed servers tolerated before the rollout halts")
	f.String("id", "", "the deploy's job id, the idempotency key (default: a new ULID)")
	f.String("priority", "", "critical, default or low")
	_ = cmd.RegisterFlagCompletionFunc("image", imageNames)
	_ = cmd.RegisterFlagCompletionFunc("servers", serverIDs)
	_ = cmd.RegisterFlagCompletionFunc("priority", fixedValues(priorities))
	return cmd
}

func runDeploy(cmd *cobra.Command, _ []string) error {
	req, err := deployRequest(cmd)
	if err != nil {
		return err
	}
	o, c, err := operatorCall(cmd)
	if err != nil {
		return err
	}
	submitted := time.Now()
	sub, ans, err := c.SubmitJob(cmd.Context(), req)
	if err != nil {
		return deployError(err, req.ID)
	}
	wait, _ := cmd.Flags().GetBool("wait")
	if wait {
		o.note("%s", sub.JobID) // stdout is the events'
	} else if err := o.object(ans.Body, func(w io.Writer) error { _, err := fmt.Fprintln(w, sub.JobID); return err }); err != nil {
		return err
	}
	if sub.State != jobs.StateSubmitted {
		fmt.Fprintf(cmd.ErrOrStderr(), "deploy %s was submitted before: it is the same job, now %s\n", sub.JobID, sub.State)
	}
	if !wait {
		return nil
	}
	if sub.State.Terminal() { // a repeat of a deploy that ended: its events are history
		return deployEnd(cmd, c, sub.JobID, sub.State)
	}
	return waitDeploy(cmd, c, sub.JobID, submitted)
}

// deployRequest builds the request from the flags; what the flags cannot
// say wrong is left to the API to check.
func deployRequest(cmd *cobra.Command) (jobs.Request, error) {
	f := cmd.Flags()
	p := jobs.DeployParams{Image: mustString(cmd, "image")}
	p.Servers, _ = f.GetStringSlice("servers")
	p.MaxFailures, _ = f.GetInt("max-failures")
	selector := mustString(cmd, "selector")
	switch {
	case p.Image == "":
		return jobs.Request{}, usageErr("--image is required")
	case (selector == "") == (len(p.Servers) == 0):
		return jobs.Request{}, usageErr("give the servers to deploy to: either --selector k=v,... or --servers a,b")
	case selector != "":
		sel, err := api.ParseSelector(selector)
		if err != nil || len(sel) == 0 {
			return jobs.Request{}, usageErr("--selector %q: must be KEY=VALUE pairs separated by commas", selector)
		}
		p.Selector = sel
	}
	if f.Changed("batch-size") {
		n, _ := f.GetInt("batch-size")
		p.BatchSize = &n
	}
	params, err := json.Marshal(p)
	if err != nil {
		return jobs.Request{}, fmt.Errorf("encode deploy params: %w", err)
	}
	req := jobs.Request{ID: mustString(cmd, "id"), Type: jobs.Deploy, Params: params,
		Priority: jobs.Priority(mustString(cmd, "priority"))}
	if req.ID == "" {
		req.ID = jobs.NewID(time.Now())
	}
	return req, nil
}

// deployError names the flag at fault, and when the API could not take the
// deploy says how to try again without starting a second one.
func deployError(err error, id string) error {
	err = withFlags(err, deployFlags)
	if exitCode(err) == exitUnreachable {
		return unreachable(fmt.Errorf("%w (the deploy may not have started: retry with --id %s, which cannot start it twice)", err, id))
	}
	return err
}

// waitDeploy follows the deploy's own events (its batches and its end:
// they have subject "_") and each state change of its jobs, a line each
// (a JSON line each with -o json), then prints where the rollout ended.
func waitDeploy(cmd *cobra.Command, c *restClient, id string, since time.Time) error {
	nc, js, err := connectJetStream(cmd)
	if err != nil {
		return err
	}
	defer nc.Close()
	sharedOut(cmd)
	ctx, cancel := context.WithCancel(cmd.Context())
	stopped := followChildren(ctx, js, id, since, eventPrinter(cmd))
	end, err := followJobOn(cmd, js, client.JobRef{ID: id, Since: since})
	cancel()
	stopped()
	if err != nil {
		return err
	}
	return deployEnd(cmd, c, id, end)
}

// deployEnd prints where the rollout ended and turns its end into the
// exit code: 0 succeeded, 1 failed, halted or canceled.
func deployEnd(cmd *cobra.Command, c *restClient, id string, end jobs.State) error {
	summary := ""
	if job, _, err := c.Job(cmd.Context(), id); err == nil {
		summary = deploySummary(job)
	}
	if summary != "" {
		fmt.Fprintf(notesOut(cmd), "deploy %s %s: %s\n", id, end, summary)
	}
	switch end {
	case jobs.StateSucceeded:
		return nil
	case jobs.StateRejected:
		return usageErr("deploy %s: request rejected (see the event above)", id)
	}
	return failed(fmt.Errorf("deploy %s %s", id, end))
}
