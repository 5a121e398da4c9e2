package main

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/tinmanhq/tinman/events"
)

// childProgress says whether an event is a state change of one of the
// deploy's jobs (its queued, started, retrying and end, or its rejection):
// what deploy --wait shows of each server beside the deploy's own events.
func childProgress(ev events.Event, deploy string) bool {
	switch ev.Type {
	case events.JobProgress, events.ServerStateChanged:
		return false
	}
	d, err := ev.JobData()
	return err == nil && strings.HasPrefix(d.JobID, deploy+".")
}

// followChildren prints each state change of the deploy's jobs, from
// since, until ctx ends; it returns once its watch is started, so that no
// change after that is missed. Its lines go through print.
func followChildren(ctx context.Context, js jetstream.JetStream, deploy string, since time.Time, print func(events.Event)) func() {
	started := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		f := events.Filter{Since: time.Since(since) + time.Second, Started: func() { close(started) }}
		err := events.NewWatcher(js).Watch(ctx, f, func(d events.Delivered) error {
			if childProgress(d.Event, deploy) {
				print(d.Event)
			}
			return nil
		})
		if err != nil && !errors.Is(err, context.Canceled) {
			select {
			case <-started:
			default:
				close(started) // the watch failed before it began: the deploy's own events still show
			}
		}
	}()
	select {
	case <-started:
	case <-done:
	case <-ctx.Done():
	}
	return func() { <-done }
}

// sharedWriter serialises whole writes of the printers that share stdout.
type sharedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *sharedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// sharedOut makes the command's stdout safe for two printers: a terminal
// or file takes each line in one write already (and keeps its colours).
func sharedOut(cmd *cobra.Command) {
	if _, ok := cmd.OutOrStdout().(*os.File); !ok {
		cmd.SetOut(&sharedWriter{w: cmd.OutOrStdout()})
	}
}
