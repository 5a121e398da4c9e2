package bmc

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"

	"github.com/tinmanhq/tinman/jobs"
)

// classify turns a bmclib failure into a coded jobs.Error. bmclib wraps
// provider errors in strings, so after the typed checks the message decides.
func classify(ctx context.Context, op string, err error) *jobs.Error {
	msg := strings.ToLower(err.Error())
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return jobs.Errorf(jobs.CodeBMCTimeout, true, "%s: BMC did not answer in time: %w", op, err)
	case errors.Is(err, context.Canceled):
		return jobs.Errorf(jobs.CodeCanceled, true, "%s: %w", op, err)
	case errors.Is(err, syscall.ECONNREFUSED) || isNetError(err) || containsAny(msg, "connection refused", "no route to host", "unable to establish", "no such host", "i/o timeout"):
		return jobs.Errorf(jobs.CodeBMCUnreachable, true, "%s: BMC unreachable: %w", op, err)
	case containsAny(msg, "401", "unauthorized", "authentication", "password", "invalid user", "rakp"):
		return jobs.Errorf(jobs.CodeBMCAuthFailed, false, "%s: BMC refused the credentials: %w", op, err)
	case containsAny(msg, "not implemented", "not supported", "unsupported", "no provider", "does not implement"):
		return jobs.Errorf(jobs.CodeUnsupportedOperation, false, "%s: %w", op, err)
	case containsAny(msg, "503", "busy", "429", "too many"):
		return jobs.Errorf(jobs.CodeBMCBusy, true, "%s: BMC busy: %w", op, err)
	}
	return jobs.Errorf(jobs.CodeBMCError, true, "%s: %w", op, err)
}

func isNetError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
