package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tinmanhq/tinman/client"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/workers"
)

// jobFlags names the flag that sets each field the API may refuse.
var jobFlags = map[string]string{"server": "--server", "state": "--state", "type": "--type", "limit": "--limit", "after": "--after"}

func newJobsCmd() *cobra.Command {
	cmd := groupCmd("jobs", "List, show and cancel jobs (over the HTTP API)")
	cmd.Long = "Jobs, over the HTTP API. Exit codes: 0 done; 1 the operation failed (a cancel the API refused\n" +
		"because the job already ended, or a job that did not end canceled under --wait); 2 bad usage, bad\n" +
		"input, an unknown job or a token that may not do this; 3 the API or NATS could not be reached."
	cmd.AddCommand(newJobsListCmd(), newJobsShowCmd(), newJobsCancelCmd(), newJobsWatchCmd())
	return cmd
}

func newJobsListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "list [--server ID] [--state S] [--type T] [--limit N] [--after ID]",
		Aliases: []string{"ls"},
		Short:   "List jobs: ID, TYPE, SERVER, STATE, ATTEMPT, UPDATED, ERROR",
		Example: "  tinman jobs list --server srv-042\n  tinman jobs list --state failed --type provision --limit 20 -o json",
		Args:    requireNoArgs,
		RunE:    runJobsList,
	}
	operatorFlags(cmd)
	outputFlags(cmd)
	f := cmd.Flags()
	f.String("server", "", "only this server's jobs")
	f.String("state", "", "only jobs in this state: queued, running, retrying, succeeded, failed, canceled")
	f.String("type", "", "only jobs of this type: "+joinTypeNames())
	f.Int("limit", 0, "at most this many jobs, 1 to 1000 (default: the API's)")
	f.String("after", "", "the page after this job (the cursor a full page prints)")
	_ = cmd.RegisterFlagCompletionFunc("server", serverIDs)
	_ = cmd.RegisterFlagCompletionFunc("state", fixedValues(jobStates))
	_ = cmd.RegisterFlagCompletionFunc("type", fixedValues(enumNames(jobs.Types())))
	return cmd
}

func runJobsList(cmd *cobra.Command, _ []string) error {
	q, err := jobQuery(cmd)
	if err != nil {
		return err
	}
	o, c, err := operatorCall(cmd)
	if err != nil {
		return err
	}
	list, ans, err := c.Jobs(cmd.Context(), q)
	if err != nil {
		return withFlags(err, jobFlags)
	}
	if err := o.object(ans.Body, func(w io.Writer) error { return printJobs(w, list.Jobs, o.color, time.Now()) }); err != nil {
		return err
	}
	if list.Next != "" {
		o.note("more: tinman jobs list --after %s (with the same filters)", list.Next)
	}
	return nil
}

// jobQuery is the filter of jobs list. A --limit out of 1-1000 is refused
// here: the client leaves a limit of 0 to the API.
func jobQuery(cmd *cobra.Command) (client.JobQuery, error) {
	q := client.JobQuery{Server: mustString(cmd, "server"), State: jobs.State(mustString(cmd, "state")),
		Type: jobs.Type(mustString(cmd, "type")), After: mustString(cmd, "after")}
	if q.State != "" {
		if err := checkValue("job state (--state)", string(q.State), jobStates); err != nil {
			return q, err
		}
	}
	if q.Type != "" {
		if err := checkValue("job type (--type)", string(q.Type), enumNames(jobs.Types())); err != nil {
			return q, err
		}
	}
	if cmd.Flags().Changed("limit") {
		q.Limit, _ = cmd.Flags().GetInt("limit")
		if q.Limit < 1 || q.Limit > 1000 {
			return q, usageErr("limit (--limit): must be a whole number from 1 to 1000")
		}
	}
	return q, nil
}

// printJobs writes jobs as a table.
func printJobs(w io.Writer, list []jobs.Job, color bool, now time.Time) error {
	t := newTable(w, color)
	t.row("ID", "TYPE", "SERVER", t.head("STATE"), "ATTEMPT", "UPDATED", "ERROR")
	for _, j := range list {
		t.row(j.ID, string(j.Type), j.Server, t.paint(string(j.State)), attemptText(j), age(j.UpdatedAt, now),
			truncate(errorText(j.Error), 60))
	}
	return t.flush()
}

func attemptText(j jobs.Job) string {
	switch {
	case j.MaxAttempts > 0:
		return fmt.Sprintf("%d/%d", j.Attempt, j.MaxAttempts)
	case j.Attempt > 0:
		return strconv.Itoa(j.Attempt)
	}
	return ""
}

func errorText(e *jobs.Error) string {
	if e == nil {
		return ""
	}
	return string(e.Code) + ": " + e.Message
}

func newJobsShowCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:               "show ID",
		Aliases:           []string{"get"},
		Short:             "Show a job: state, attempts, params, error, result (a deploy's batches)",
		Args:              oneID("job"),
		ValidArgsFunction: firstArg(jobIDs),
		RunE:              runJobsShow,
	}
	operatorFlags(cmd)
	outputFlags(cmd)
	return cmd
}

func runJobsShow(cmd *cobra.Command, args []string) error {
	o, c, err := operatorCall(cmd)
	if err != nil {
		return err
	}
	job, ans, err := c.Job(cmd.Context(), args[0])
	if err != nil {
		return err
	}
	return o.object(ans.Body, func(w io.Writer) error { return printJob(w, job, time.Now()) })
}

// printJob writes a job's details, one per line.
func printJob(w io.Writer, j jobs.Job, now time.Time) error {
	d := newDetails(w)
	d.add("ID", j.ID)
	d.add("Type", string(j.Type))
	d.add("Server", j.Server)
	d.add("State", string(j.State))
	d.add("Attempt", attemptText(j))
	d.add("Priority", string(j.Priority))
	d.add("Requested by", j.RequestedBy)
	d.add("Params", compact(j.Params))
	if j.WaitingFor != "" {
		until := ""
		if j.WaitDeadline != nil {
			until = " until " + j.WaitDeadline.Local().Format("2006-01-02 15:04:05")
		}
		d.add("Waiting for", j.WaitingFor+until)
	}
	d.add("Checkpoint", j.Checkpoint)
	d.add("Error", errorText(j.Error))
	if j.Type == jobs.Deploy {
		d.add("Deploy", deploySummary(j))
	} else {
		d.add("Result", compact(j.Result))
	}
	d.add("Created", timestamp(j.CreatedAt, now))
	d.add("Updated", timestamp(j.UpdatedAt, now))
	return d.flush()
}

// compact writes JSON on one line.
func compact(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// deploySummary says where a deploy is, from the plan it keeps in its
// result: counts, and a few of the servers that failed.
func deploySummary(j jobs.Job) string {
	var plan workers.DeployPlan
	if len(j.Result) == 0 || json.Unmarshal(j.Result, &plan) != nil || plan.Batches == 0 {
		return ""
	}
	s := fmt.Sprintf("image %s, %s in %s: %d succeeded, %d failed", plan.Image, workers.Plural(plan.Servers, "server", "servers"),
		workers.Plural(plan.Batches, "batch", "batches"), plan.Succeeded, plan.Failed)
	if plan.Failed > 0 {
		s += " (" + failedNames(plan, 5) + ")"
	}
	switch {
	case plan.Halted:
		s += fmt.Sprintf("; halted after batch %d of %d", plan.Current, plan.Batches)
	case plan.Current < plan.Batches:
		s += fmt.Sprintf("; at batch %d of %d", plan.Current+1, plan.Batches)
	}
	return s
}

// failedNames names at most max of the servers that failed, and says how
// many more did.
func failedNames(plan workers.DeployPlan, max int) string {
	names := make([]string, 0, max)
	for _, f := range plan.Failures[:min(len(plan.Failures), max)] {
		names = append(names, f.Server)
	}
	s := strings.Join(names, ", ")
	if more := plan.Failed - len(names); more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	return s
}

func newJobsWatchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "watch ID",
		Short: "Follow a job's events to its end; exit 0 when it succeeded, 1 when it ended otherwise",
		Long: "Attaches to a job, running or ended: prints its events so far and those to come (over NATS) and\n" +
			"exits when it ends: 0 succeeded; 1 failed, canceled or rejected, or --wait-timeout passed.",
		Example:           "  tinman jobs watch 01JD3...\n  tinman jobs watch 01JD3... --jq .data.state",
		Args:              oneID("job"),
		ValidArgsFunction: firstArg(jobIDs),
		RunE:              runJobsWatch,
	}
	operatorFlags(cmd)
	natsFlags(cmd)
	outputFlags(cmd)
	cmd.Flags().Duration("wait-timeout", 30*time.Minute, "give up waiting after this long (exit 1)")
	return cmd
}

func runJobsWatch(cmd *cobra.Command, args []string) error {
	_, c, err := operatorCall(cmd)
	if err != nil {
		return err
	}
	job, _, err := c.Job(cmd.Context(), args[0])
	if err != nil {
		return err
	}
	end, err := followJob(cmd, client.JobRef{ID: job.ID, Server: job.Server, Since: job.CreatedAt})
	if err != nil {
		return err
	}
	if end != jobs.StateSucceeded {
		return failed(fmt.Errorf("job %s ended %s", job.ID, end))
	}
	return nil
}

func newJobsCancelCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cancel ID [--wait]",
		Short: "Cancel a job",
		Long: "Asks the API to cancel the job: a job that waits is canceled at once; a running one stops at its\n" +
			"next step. With --wait, follows the job's events (over NATS) to its end: exit 0 when it ended\n" +
			"canceled, 1 when it ended otherwise (it finished first). A job that already ended is exit 1.",
		Example:           "  tinman jobs cancel 01JD3... --wait",
		Args:              oneID("job"),
		ValidArgsFunction: firstArg(jobIDs),
		RunE:              runJobsCancel,
	}
	operatorFlags(cmd)
	outputFlags(cmd)
	waitFlags(cmd, "follow the job to its end; exit 0 when it ended canceled")
	return cmd
}

func runJobsCancel(cmd *cobra.Command, args []string) error {
	o, c, err := operatorCall(cmd)
	if err != nil {
		return err
	}
	asked := time.Now()
	job, ans, err := c.CancelJob(cmd.Context(), args[0])
	if err != nil {
		return asFailure(err, http.StatusConflict)
	}
	said := fmt.Sprintf("job %s is %s: asked to stop at its next step", job.ID, job.State)
	if job.State.Terminal() {
		said = fmt.Sprintf("job %s %s", job.ID, job.State)
	}
	wait, _ := cmd.Flags().GetBool("wait")
	if wait && o.data() { // stdout is the events'
		o.note("%s", said)
	} else if err := o.object(ans.Body, func(w io.Writer) error { _, err := fmt.Fprintln(w, said); return err }); err != nil {
		return err
	}
	if !wait {
		return nil
	}
	end := job.State
	if !end.Terminal() {
		if end, err = followJob(cmd, client.JobRef{ID: job.ID, Server: job.Server, Since: asked}); err != nil {
			return err
		}
	}
	if end != jobs.StateCanceled {
		return failed(fmt.Errorf("job %s ended %s: it was not canceled", job.ID, end))
	}
	return nil
}
