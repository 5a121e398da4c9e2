package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// ErrUnreachable is wrapped by the error of a call that got no answer: the
// API refused the connection, did not answer within Config.Timeout, or cut
// the answer short. Nothing is known of what the call did: a job submitted
// with its id may be submitted again safely.
var ErrUnreachable = errors.New("the API did not answer")

// ErrUnexpectedAnswer is wrapped by the error of a call whose success answer
// this client cannot read: an API of another version, or not an API at all.
var ErrUnexpectedAnswer = errors.New("unexpected answer")

// ErrInvalidConfig is wrapped by New's refusals, which name the field.
var ErrInvalidConfig = errors.New("invalid client config")

// Error is an error answer of the API: its problem (RFC 9457), with the
// call that got it. Find it with errors.As. A status of 500 or more means
// the API could not serve the call (503: a backing service is down, try
// again); 4xx means it refused the call, Code saying why and Field naming
// the request field at fault.
type Error struct {
	// Method and Path are the call: "POST", "/v1/jobs".
	Method, Path string
	// Status is the HTTP status.
	Status int
	// Code is the problem's stable code: a jobs.Code ("invalid_request",
	// "not_found", "conflict", ...) or an HTTP-only one ("unauthorized",
	// "forbidden", "unavailable", ...). Empty when the answer was no
	// problem, say a proxy's error page.
	Code string
	// Field names the request field at fault ("params.action",
	// "bmc.address"), when one is.
	Field string
	// Title is the problem's title, else the status text.
	Title string
	// Detail says what was wrong: the problem's detail, or the start of an
	// answer that was no problem.
	Detail string
	// Instance is the request id the API logged the call under.
	Instance string
}

// Error reads "POST /v1/jobs: 400 Bad Request: params.action: must be one of ...".
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.Path, e.Status, e.Title)
	if e.Field != "" {
		fmt.Fprintf(&b, ": %s", e.Field)
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, ": %s", e.Detail)
	}
	return b.String()
}

// maxDetail bounds the detail kept of an error answer that is no problem.
const maxDetail = 200

// decodeProblem reads an error answer: a problem+json body, or whatever
// else a proxy in between may have answered.
func decodeProblem(method, path string, status int, body []byte) *Error {
	e := &Error{Method: method, Path: path, Status: status, Title: http.StatusText(status)}
	var p Problem
	if json.Unmarshal(body, &p) == nil && (p.Title != "" || p.Detail != "") {
		e.Detail, e.Code, e.Field, e.Instance = p.Detail, p.Code, p.Field, p.Instance
		if p.Title != "" {
			e.Title = p.Title
		}
		return e
	}
	e.Detail = strings.TrimSpace(string(body))
	if len(e.Detail) > maxDetail {
		e.Detail = e.Detail[:maxDetail] + "..."
	}
	return e
}

// CallError is a call that got no answer the client could use: the API
// could not be reached (errors.Is(err, ErrUnreachable)), its success answer
// could not be read (ErrUnexpectedAnswer), or the caller's context ended
// first (errors.Is(err, context.Canceled) or context.DeadlineExceeded).
type CallError struct {
	// Method and Path are the call.
	Method, Path string
	// URL is the API's base URL.
	URL string
	// Err is the cause: the transport's, the decoder's or the context's error.
	Err error
	// kind is ErrUnreachable, ErrUnexpectedAnswer, or nil: the caller's context.
	kind error
}

// Error says which call failed, and how.
func (e *CallError) Error() string {
	switch e.kind {
	case ErrUnreachable:
		return fmt.Sprintf("reach the API at %s: %s %s: %v", e.URL, e.Method, e.Path, e.Err)
	case ErrUnexpectedAnswer:
		return fmt.Sprintf("%s %s: the API's answer is not what this client expects (%v): is it a Tinman API of another version?",
			e.Method, e.Path, e.Err)
	}
	return fmt.Sprintf("%s %s: %v", e.Method, e.Path, e.Err)
}

// Unwrap returns the kind (ErrUnreachable or ErrUnexpectedAnswer) and the cause.
func (e *CallError) Unwrap() []error {
	if e.kind == nil {
		return []error{e.Err}
	}
	return []error{e.kind, e.Err}
}
