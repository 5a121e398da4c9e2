package bmc

import (
	"context"
	"errors"
	"net"
	"regexp"
	"strings"
	"syscall"

	"github.com/tinmanhq/tinman/jobs"
)

// classify turns a bmclib failure into a coded jobs.Error. bmclib wraps
// provider errors in strings, so after the typed checks the message decides.
//
// ipmitool says "Unable to establish IPMI v2 / RMCP+ session" both when the
// BMC refuses the session (wrong user or password, no common cipher suite:
// at once) and when nothing answers (after ~52 s). Every call runs under a
// deadline, so the silent BMC ends as bmc_timeout first and the message
// alone means a refusal; with no cipher suite set bmclib retries with suite
// 17 and reports "invalid authentication algorithm" instead. A host that
// does not resolve says "Address lookup ... failed" before it. An IPMI
// "Invalid command" completion code means the BMC does not implement it.
func classify(ctx context.Context, op string, err error) *jobs.Error {
	msg := strings.ToLower(err.Error())
	switch {
	case errors.Is(ctx.Err(), context.Canceled): // the caller gave up, whatever bmclib made of it
		return jobs.Errorf(jobs.CodeCanceled, true, "%s: %w", op, err)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) ||
		containsAny(msg, "deadline exceeded", "client.timeout exceeded"):
		return jobs.Errorf(jobs.CodeBMCTimeout, true, "%s: BMC did not answer in time: %w", op, err)
	case errors.Is(err, context.Canceled):
		return jobs.Errorf(jobs.CodeCanceled, true, "%s: %w", op, err)
	case errors.Is(err, syscall.ECONNREFUSED) || isNetError(err) ||
		containsAny(msg, "connection refused", "no route to host", "no such host", "i/o timeout", "address lookup", "could not open socket"):
		return jobs.Errorf(jobs.CodeBMCUnreachable, true, "%s: BMC unreachable: %w", op, err)
	case containsAny(msg, "sessionlimitexceeded", "maximum number of user sessions", "session limit", "rac0218"):
		// Redfish's SessionLimitExceeded, iDRAC's RAC0218: every session is taken, often by
		// another tool; one closes in time.
		return jobs.Errorf(jobs.CodeBMCBusy, true, "%s: BMC has no free session: %w", op, err)
	case containsAny(msg, "401", "unauthorized", "authentication", "password", "invalid user", "rakp", "unable to establish ipmi v2"):
		return jobs.Errorf(jobs.CodeBMCAuthFailed, false, "%s: BMC refused the credentials: %w", op, err)
	case containsAny(msg, "not implemented", "not supported", "unsupported", "no provider", "does not implement",
		"invalid command") || lacksInterface.MatchString(msg):
		return jobs.Errorf(jobs.CodeUnsupportedOperation, false, "%s: %w", op, err)
	case containsAny(msg, "503", "busy", "429", "too many"):
		return jobs.Errorf(jobs.CodeBMCBusy, true, "%s: BMC busy: %w", op, err)
	}
	return jobs.Errorf(jobs.CodeBMCError, true, "%s: %w", op, err)
}

// lacksInterface matches bmclib's "not a InventoryGetter implementation:
// *ipmitool.Conn": the provider has no such feature. ("no Opener
// implementations found" follows every failed Open and says nothing.)
var lacksInterface = regexp.MustCompile(`not an? [a-z ]+ implementation`)

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
