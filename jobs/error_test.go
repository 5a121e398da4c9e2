package jobs_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/tinmanhq/tinman/jobs"
)

func TestErrorString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		e    *jobs.Error
		want string
	}{
		{jobs.Invalid("params.action", "is required"), "params.action: is required"},
		{jobs.Invalid("", "not JSON"), "not JSON"},
		{&jobs.Error{Code: jobs.CodeBMCTimeout, Message: "power on: timeout"}, "power on: timeout"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	e := jobs.Invalid("server", "is required")
	if e.Code != jobs.CodeInvalidRequest || e.Retryable || e.Field != "server" || e.Message != "is required" || e.Unwrap() != nil {
		t.Errorf("Invalid = %+v", e)
	}
}

func TestErrorf(t *testing.T) {
	t.Parallel()
	e := jobs.Errorf(jobs.CodeBMCTimeout, true, "set power %s: %w", "on", io.ErrUnexpectedEOF)
	if e.Code != jobs.CodeBMCTimeout || !e.Retryable || e.Field != "" {
		t.Errorf("Errorf = %+v", e)
	}
	if e.Message != "set power on: unexpected EOF" {
		t.Errorf("Message = %q", e.Message)
	}
	if !errors.Is(e, io.ErrUnexpectedEOF) || e.Unwrap() != io.ErrUnexpectedEOF {
		t.Error("the %w cause is lost")
	}
	if plain := jobs.Errorf(jobs.CodeConflict, false, "job %s exists", "j"); plain.Unwrap() != nil || plain.Message != "job j exists" {
		t.Errorf("Errorf without %%w = %+v, cause %v", plain, plain.Unwrap())
	}
}

func TestErrorfWrapsSeveral(t *testing.T) {
	t.Parallel()
	var syntax *json.SyntaxError
	bad := json.Unmarshal([]byte("{"), &struct{}{})
	e := jobs.Errorf(jobs.CodeInternal, true, "store %s: %w, then %w", "j", io.ErrShortWrite, bad)
	if e.Message != "store j: short write, then "+bad.Error() {
		t.Errorf("Message = %q", e.Message)
	}
	if e.Unwrap() == nil || !errors.Is(e, io.ErrShortWrite) || !errors.As(e, &syntax) {
		t.Errorf("a cause of %v is lost: Unwrap() = %v", e, e.Unwrap())
	}
}

func TestAsError(t *testing.T) {
	t.Parallel()
	coded := jobs.Errorf(jobs.CodeBMCAuthFailed, false, "login refused")
	plain := errors.New("disk full")
	tests := []struct {
		name string
		err  error
		want *jobs.Error
	}{
		{"nil", nil, nil},
		{"coded", coded, coded},
		{"wrapped coded", fmt.Errorf("provision: %w", coded), coded},
		{"joined coded", errors.Join(plain, coded), coded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := jobs.AsError(tt.err); got != tt.want {
				t.Errorf("AsError = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAsErrorUncoded(t *testing.T) {
	t.Parallel()
	plain := fmt.Errorf("write state: %w", io.ErrShortWrite)
	e := jobs.AsError(plain)
	if e.Code != jobs.CodeInternal || !e.Retryable || e.Message != plain.Error() || e.Field != "" {
		t.Errorf("AsError(uncoded) = %+v", e)
	}
	if !errors.Is(e, io.ErrShortWrite) {
		t.Error("the cause is lost")
	}
}

func TestErrorJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		e    *jobs.Error
		want string
	}{
		{jobs.Invalid("params.action", "is required"), `{"code":"invalid_request","message":"is required","retryable":false,"field":"params.action"}`},
		{jobs.Errorf(jobs.CodeBMCBusy, true, "busy: %w", io.EOF), `{"code":"bmc_busy","message":"busy: EOF","retryable":true}`},
	}
	for _, tt := range tests {
		got, err := json.Marshal(tt.e)
		if err != nil || string(got) != tt.want {
			t.Errorf("Marshal = %s, %v; want %s", got, err, tt.want)
		}
	}
}
