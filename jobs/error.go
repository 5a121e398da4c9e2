package jobs

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable error code carried in events and API answers.
type Code string

// Error codes shared by every edge. BMC codes are listed in the contract.
const (
	CodeInvalidRequest Code = "invalid_request"
	CodeConflict       Code = "conflict"
	CodeNotFound       Code = "not_found"
	CodeInternal       Code = "internal"
	CodePanic          Code = "panic"
	CodeCanceled       Code = "canceled"

	CodeBMCUnreachable       Code = "bmc_unreachable"
	CodeBMCAuthFailed        Code = "bmc_auth_failed"
	CodeBMCTimeout           Code = "bmc_timeout"
	CodeBMCBusy              Code = "bmc_busy"
	CodeUnsupportedOperation Code = "unsupported_operation"
	CodeBMCError             Code = "bmc_error"
	CodePowerStateUnverified Code = "power_state_unverified"

	// CodeChecksumMismatch: the installer found that the disk image it
	// downloaded does not have the catalogue's SHA-256, and wrote nothing.
	CodeChecksumMismatch Code = "checksum_mismatch"
	// CodeInstallerFailed: the installer or wiper reported another failure.
	CodeInstallerFailed Code = "installer_failed"
)

// Error is a coded domain error. Retryable says whether trying again may help.
type Error struct {
	Code      Code   `json:"code"`
	Message   string `json:"message"`
	Retryable bool   `json:"retryable"`
	// Field names the request field at fault, for invalid_request.
	Field string `json:"field,omitempty"`
	err   error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return e.Message
}

// Unwrap returns the cause, if any.
func (e *Error) Unwrap() error { return e.err }

// Errorf returns an Error with a formatted message. A %w verb keeps the cause;
// with several, errors.Is and errors.As find each of them.
func Errorf(code Code, retryable bool, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: err.Error(), Retryable: retryable, err: cause(err)}
}

// cause is what the result of fmt.Errorf wraps: the error of its one %w, or
// with several the result itself (errors.Unwrap, which has one error to give,
// returns nil for it), or nil for none.
func cause(err error) error {
	if _, multi := err.(interface{ Unwrap() []error }); multi {
		return err
	}
	return errors.Unwrap(err)
}

// Invalid returns an invalid_request error about field.
func Invalid(field, message string) *Error {
	return &Error{Code: CodeInvalidRequest, Field: field, Message: message}
}

// AsError returns err as an *Error. An error with no code becomes a retryable
// internal error, so that nothing uncoded reaches an event.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternal, Message: err.Error(), Retryable: true, err: err}
}

// CodeOf returns err's code: "" for nil, internal for an uncoded error.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	return AsError(err).Code
}
