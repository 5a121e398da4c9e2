package main

import (
	"context"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tinmanhq/tinman/client"
)

func newStatusCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the system's vitals: each queue's tasks, open BMC breakers, the outbox backlog",
		Long: "Reads GET /v1/vitals of the API (any role): the figures of the web console's health strip.\n" +
			"Exit codes: 0 read; 2 bad usage or a token refused; 3 the API could not be reached or could not serve.",
		Example: "  tinman status\n  tinman status --jq .outbox_backlog",
		Args:    requireNoArgs,
		RunE:    runStatus,
	}
	operatorFlags(cmd)
	outputFlags(cmd)
	return cmd
}

func runStatus(cmd *cobra.Command, _ []string) error {
	o, c, err := operatorCall(cmd)
	if err != nil {
		return err
	}
	v, ans, err := c.Vitals(cmd.Context())
	if err != nil {
		return err
	}
	return o.object(ans.Body, func(w io.Writer) error { return printVitals(w, v) })
}

// printVitals writes the queues as a table, then the breakers and the backlog.
func printVitals(w io.Writer, v client.Vitals) error {
	t := newTable(w, false)
	t.row("QUEUE", "PENDING", "ACTIVE", "SCHEDULED", "RETRY", "ARCHIVED")
	for _, q := range v.Queues {
		t.row(q.Name, strconv.Itoa(q.Pending), strconv.Itoa(q.Active), strconv.Itoa(q.Scheduled), strconv.Itoa(q.Retry), strconv.Itoa(q.Archived))
	}
	if err := t.flush(); err != nil {
		return err
	}
	d := newDetails(w)
	d.add("Breakers open", orNone(strings.Join(v.BreakersOpen, ", ")))
	d.add("Outbox backlog", strconv.FormatInt(v.OutboxBacklog, 10))
	return d.flush()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// Vitals reads the health strip's figures: GET /v1/vitals.
func (c *restClient) Vitals(ctx context.Context) (client.Vitals, *client.Response, error) {
	v, resp, err := c.api.Vitals(ctx)
	return v, resp, c.explain(err)
}
