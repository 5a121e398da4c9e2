package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/tinmanhq/tinman/client"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/schemas"
	"github.com/tinmanhq/tinman/submit"
)

// linesInFlight is how many requests of --lines wait for their ack at once.
const linesInFlight = 64

// runPublishLines publishes every request of the --lines file, checked
// whole before the first is sent, and prints their job ids in order.
func runPublishLines(cmd *cobra.Command, args []string, name string) error {
	wait, _ := cmd.Flags().GetBool("wait")
	if len(args) > 0 || mustString(cmd, "file") != "" || mustString(cmd, "id") != "" || wait {
		return usageErr("--lines takes its requests from the file alone: no TYPE, -f, --id or --wait beside it")
	}
	reqs, err := readRequestLines(cmd, name)
	if err != nil {
		return err
	}
	nc, js, err := connectJetStream(cmd)
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := publishRequests(cmd.Context(), js, reqs); err != nil {
		return unreachable(err)
	}
	out := bufio.NewWriter(cmd.OutOrStdout())
	for _, req := range reqs {
		fmt.Fprintln(out, req.ID)
	}
	return out.Flush()
}

// readRequestLines reads one JSON request a line (blank lines skipped),
// fills each one's id and requested_by, and checks it as publish -f does;
// a bad line is a usage error naming --lines and the line.
func readRequestLines(cmd *cobra.Command, name string) ([]jobs.Request, error) {
	var r io.Reader = cmd.InOrStdin()
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, usageErr("--lines: %v", err)
		}
		defer f.Close()
		r = f
	}
	v, err := schemas.New()
	if err != nil {
		return nil, fmt.Errorf("load schemas: %w", err)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), jobs.MaxRequestSize)
	var reqs []jobs.Request
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		req, err := requestLine(v, sc.Bytes())
		if err != nil {
			return nil, usageErr("--lines %s line %d: %v", name, n, err)
		}
		reqs = append(reqs, req)
	}
	if err := sc.Err(); err != nil {
		return nil, usageErr("--lines %s: %v", name, err)
	}
	if len(reqs) == 0 {
		return nil, usageErr("--lines %s: no request in it", name)
	}
	return reqs, nil
}

// requestLine decodes and checks one line's request, its id and
// requested_by filled when missing.
func requestLine(v *schemas.Validator, line []byte) (jobs.Request, error) {
	var req jobs.Request
	if err := json.Unmarshal(line, &req); err != nil {
		return req, fmt.Errorf("not a JSON request: %w", err)
	}
	_, err := finishRequest(v, &req)
	return req, err
}

// publishRequests publishes reqs, linesInFlight at a time, each waiting for its
// ack; the first failure stops the rest and is returned.
func publishRequests(ctx context.Context, js jetstream.JetStream, reqs []jobs.Request) error {
	s, err := submit.New(js, submit.Config{Timeout: client.PublishTimeout})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan jobs.Request)
	var wg sync.WaitGroup
	for range linesInFlight {
		wg.Go(func() {
			for req := range next {
				if _, err := s.Publish(ctx, req); err != nil {
					cancel(fmt.Errorf("publish %s: %w", req.ID, err))
				}
			}
		})
	}
	for _, req := range reqs {
		select {
		case next <- req:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}
