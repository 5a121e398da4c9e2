// Package wake runs a parked asynq task now: what a job's end does for the
// workflow that waits on it.
package wake

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hibiken/asynq"
)

// Runner runs a parked task now (implemented by *asynq.Inspector).
type Runner interface {
	RunTask(queue, id string) error
}

// Retry is how often, and how long, a task that is running is tried
// again: it may be about to park, its wake having come while it looked.
const (
	retryEvery = 50 * time.Millisecond
	retryFor   = 2 * time.Second
)

// Task runs task id of queue now. A task that is running is tried again
// every 50 ms for up to 2 s, so that a wake that came while it was about
// to park is not lost; a task that is queued, or gone, needs nothing.
func Task(ctx context.Context, r Runner, queue, id string) error {
	deadline := time.Now().Add(retryFor)
	for {
		err := r.RunTask(queue, id)
		switch {
		case err == nil, errors.Is(err, asynq.ErrTaskNotFound), strings.Contains(fmt.Sprint(err), "already in pending state"):
			return nil
		case !strings.Contains(err.Error(), "already running") || time.Now().After(deadline):
			return fmt.Errorf("wake task %s: %w", id, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wake task %s: %w", id, ctx.Err())
		case <-time.After(retryEvery):
		}
	}
}
