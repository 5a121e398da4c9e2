package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/rs/zerolog"
)

// answer is the JSON body of every answer that is not a problem.
type answer struct {
	Status string `json:"status"` // pong, ignored, duplicate, accepted
	Reason string `json:"reason,omitempty"`
	JobID  string `json:"job_id,omitempty"`
	Rule   string `json:"rule,omitempty"`
	Image  string `json:"image,omitempty"`
	code   int
}

func pong() answer { return answer{Status: "pong", code: http.StatusOK} }

func ignored(format string, args ...any) answer {
	return answer{Status: "ignored", Reason: fmt.Sprintf(format, args...), code: http.StatusAccepted}
}

func duplicate(jobID string) answer {
	return answer{Status: "duplicate", JobID: jobID, code: http.StatusOK}
}

// problem is an RFC 9457 problem detail, and the error that carries it out
// of the steps of a delivery. Its cause is logged and never answered.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	// Field names the body field at fault; Header the header; Rule the rule.
	Field  string `json:"field,omitempty"`
	Header string `json:"header,omitempty"`
	Rule   string `json:"rule,omitempty"`
	cause  error
}

func (p *problem) Error() string { return p.Detail }

func newProblem(status int, format string, args ...any) *problem {
	return &problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: fmt.Sprintf(format, args...)}
}

// unavailable is a 503 whose cause, which may name internal addresses, is
// logged but not answered.
func unavailable(format string, args ...any) *problem {
	p := newProblem(http.StatusServiceUnavailable, "the deploy could not be started; deliver it again later")
	p.cause = fmt.Errorf(format, args...)
	return p
}

// respond writes the answer of a delivery, or its problem, and logs it.
func (h *Handler) respond(w http.ResponseWriter, log zerolog.Logger, a answer, err error) {
	if err != nil {
		p := asProblem(err)
		ev := log.Info()
		switch {
		case p.Status >= 500:
			ev = log.Error().AnErr("cause", p.cause)
		case p.Status == http.StatusUnauthorized:
			ev = log.Warn() // a forged or misconfigured sender
		}
		ev.Int("status", p.Status).Str("detail", p.Detail).Msg("webhook refused")
		writeJSON(w, "application/problem+json", p.Status, p)
		return
	}
	log.Info().Int("status", a.code).Str("outcome", a.Status).Str("reason", a.Reason).
		Str("job_id", a.JobID).Str("rule", a.Rule).Str("image", a.Image).Msg("webhook answered")
	writeJSON(w, "application/json", a.code, a)
}

func asProblem(err error) *problem {
	var p *problem
	if errors.As(err, &p) {
		return p
	}
	p = newProblem(http.StatusInternalServerError, "internal error")
	p.cause = err
	return p
}

func writeJSON(w http.ResponseWriter, contentType string, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil { // unreachable: answers and problems hold only strings and ints
		contentType, status = "application/problem+json", http.StatusInternalServerError
		body = []byte(`{"type":"about:blank","title":"Internal Server Error","status":500,"detail":"internal error"}`)
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
