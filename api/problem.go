package api

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"

	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/client"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

// ProblemContentType is the media type of every error answer (RFC 9457).
const ProblemContentType = client.ProblemContentType

// problemTypeBase prefixes the type URI of every problem: the code follows.
const problemTypeBase = "urn:tinman:problem:"

// Problem is an RFC 9457 problem detail, the body of every error answer.
// Code is the stable machine-readable code (a jobs.Code, or one of the
// HTTP-only codes below); Field names the request field at fault. It is the
// Go client's wire type, so both ends read one definition.
type Problem = client.Problem

// HTTP-only problem codes, beside the jobs codes.
const (
	codeUnauthorized   = "unauthorized"
	codeForbidden      = "forbidden"
	codeTooLarge       = "too_large"
	codeUnavailable    = "unavailable"
	codeNotImplemented = "not_implemented"
	codeMethod         = "method_not_allowed"
	codeUnsupported    = "unsupported_media_type"
)

// newProblem returns the problem of status with code, detail and field.
func newProblem(status int, code, detail, field string) Problem {
	return Problem{Type: problemTypeBase + code, Title: http.StatusText(status), Status: status,
		Detail: detail, Code: code, Field: field}
}

// writeProblem answers with p.
func writeProblem(w http.ResponseWriter, r *http.Request, p Problem) {
	if info := infoOf(r.Context()); info != nil {
		p.Instance = info.requestID
	}
	if p.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	w.Header().Set("Content-Type", ProblemContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// problem answers with a problem built from its parts.
func problem(w http.ResponseWriter, r *http.Request, status int, code, detail, field string) {
	writeProblem(w, r, newProblem(status, code, detail, field))
}

// fail answers with the problem that err stands for: a coded jobs.Error
// keeps its code, field and message; a backing service that cannot be
// reached is 503; anything else is a 500 whose detail hides the cause,
// which is logged instead.
func fail(w http.ResponseWriter, r *http.Request, err error) {
	p := problemOf(err)
	if p.Status >= 500 {
		zerolog.Ctx(r.Context()).Error().Err(err).Int("status", p.Status).Msg("request failed")
	}
	writeProblem(w, r, p)
}

// problemOf translates err at the HTTP edge.
func problemOf(err error) Problem {
	var mbe *http.MaxBytesError
	var je *jobs.Error
	switch {
	case errors.As(err, &mbe):
		return newProblem(http.StatusRequestEntityTooLarge, codeTooLarge,
			"the body is larger than "+strconv.FormatInt(mbe.Limit, 10)+" bytes", "")
	case errors.Is(err, errForbidden):
		return newProblem(http.StatusForbidden, codeForbidden, err.Error(), "")
	case errors.Is(err, errUnsupportedMedia):
		return newProblem(http.StatusUnsupportedMediaType, codeUnsupported, err.Error(), "")
	case unavailable(err):
		return newProblem(http.StatusServiceUnavailable, codeUnavailable, "a backing service (NATS or Redis) is unavailable: try again", "")
	case errors.As(err, &je) && je.Code != jobs.CodeInternal && je.Code != jobs.CodePanic:
		return newProblem(statusOf(je.Code), string(je.Code), je.Message, je.Field)
	}
	return newProblem(http.StatusInternalServerError, string(jobs.CodeInternal), "internal error: see the API's log", "")
}

// statusOf maps a domain code to its HTTP status.
func statusOf(c jobs.Code) int {
	switch c {
	case jobs.CodeInvalidRequest:
		return http.StatusBadRequest
	case jobs.CodeNotFound:
		return http.StatusNotFound
	case jobs.CodeConflict, jobs.CodeCanceled:
		return http.StatusConflict
	case jobs.CodeUnsupportedOperation:
		return http.StatusUnprocessableEntity
	}
	return http.StatusInternalServerError
}

// ErrUnavailable is wrapped by errors that mean a backing service did not
// answer in time: the API answers them with 503.
var ErrUnavailable = errors.New("service unavailable")

// unavailable reports whether err means NATS or Redis could not be reached.
func unavailable(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		store.Unreachable(err) ||
		errors.As(err, &oe) || errors.As(err, &ne) && ne.Timeout()
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
