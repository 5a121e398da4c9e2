package wake_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/tinmanhq/tinman/internal/wake"
)

// runner answers RunTask from a script of errors, then nil.
type runner struct {
	errs  []error
	calls int
}

func (r *runner) RunTask(string, string) error {
	r.calls++
	if len(r.errs) == 0 {
		return nil
	}
	err := r.errs[0]
	r.errs = r.errs[1:]
	return err
}

func TestTask(t *testing.T) {
	t.Parallel()
	running := errors.New("asynq: FAILED_PRECONDITION: task is already running")
	for _, tt := range []struct {
		name    string
		errs    []error
		calls   int
		wantErr bool
	}{
		{"parked", nil, 1, false},
		{"about to park", []error{running, running}, 3, false},
		{"gone", []error{fmt.Errorf("asynq: %w", asynq.ErrTaskNotFound)}, 1, false},
		{"queued already", []error{errors.New("asynq: FAILED_PRECONDITION: task is already in pending state")}, 1, false},
		{"redis down", []error{errors.New("dial tcp: connection refused")}, 1, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := &runner{errs: tt.errs}
			err := wake.Task(context.Background(), r, "q", "id")
			if (err != nil) != tt.wantErr || r.calls != tt.calls {
				t.Errorf("Task = %v after %d calls; want error %v after %d", err, r.calls, tt.wantErr, tt.calls)
			}
		})
	}
}
