package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/jobs"
)

// The queue monitor (asynqmon) answers its errors with http.Error: plain
// text, and a 500 for anything asynq says, a queue that does not exist
// included. monitorProblems lets every success through untouched, streamed
// as asynqmon writes it, and turns every error answer into a problem:
// only an error's body is held, and only its first maxMonitorError bytes.

// maxMonitorError bounds the error text kept from asynqmon, for the log.
const maxMonitorError = 4 << 10

// monitorPing bounds the check of the monitor's Redis after a 5xx.
const monitorPing = time.Second

// queueMonitor is asynqmon, read-only, with problem answers.
type queueMonitor struct {
	ui   *asynqmon.HTTPHandler
	insp *asynq.Inspector // asks whether the queues' Redis answers
}

// newQueueMonitor mounts asynqmon under /monitor on the Redis of opt.
func newQueueMonitor(opt asynq.RedisConnOpt) *queueMonitor {
	return &queueMonitor{
		ui:   asynqmon.New(asynqmon.Options{RootPath: "/monitor", RedisConnOpt: opt, ReadOnly: true}),
		insp: asynq.NewInspector(opt),
	}
}

// Close releases the monitor's Redis connections.
func (m *queueMonitor) Close() error {
	return errors.Join(m.ui.Close(), m.insp.Close())
}

// ping reports whether the queues' Redis answers within ctx. asynq's
// inspector takes no context: its call runs on, bounded by its client's
// own timeouts, in a goroutine that ends with it.
func (m *queueMonitor) ping(ctx context.Context) error {
	done := make(chan error, 1)
	go func() {
		_, err := m.insp.Queues()
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("ping the queues' Redis: %w", ctx.Err())
	}
}

// ServeHTTP serves asynqmon; its errors become problems.
func (m *queueMonitor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	mw := &monitorWriter{ResponseWriter: w}
	m.ui.ServeHTTP(mw, r)
	if mw.status == 0 {
		return
	}
	p := m.problemOf(r.Context(), mw.status, mw.text())
	if p.Status >= 500 {
		zerolog.Ctx(r.Context()).Error().Int("monitor_status", mw.status).Str("monitor_error", mw.text()).
			Int("status", p.Status).Msg("queue monitor failed")
	}
	w.Header().Del("Content-Length")
	writeProblem(w, r, p)
}

// problemOf is the problem of an asynqmon error answer: its status kept,
// but what asynq did not find (a 500 to asynqmon: "NOT_FOUND: queue ...
// does not exist", "queue not found") is 404 and a 5xx while the queues'
// Redis does not answer is 503. A 4xx keeps asynqmon's words; a
// 5xx's text, which may name internal addresses, is only logged.
func (m *queueMonitor) problemOf(ctx context.Context, status int, text string) Problem {
	switch {
	case status == http.StatusNotFound || strings.Contains(text, "NOT_FOUND") || strings.Contains(text, "not found"):
		return newProblem(http.StatusNotFound, string(jobs.CodeNotFound), "queue monitor: "+text, "")
	case status == http.StatusMethodNotAllowed:
		return newProblem(status, codeMethod, "the queue monitor is read-only: use GET", "")
	case status < 500:
		return newProblem(status, string(jobs.CodeInvalidRequest), "queue monitor: "+text, "")
	}
	pctx, cancel := context.WithTimeout(ctx, monitorPing)
	defer cancel()
	if err := m.ping(pctx); err != nil {
		return newProblem(http.StatusServiceUnavailable, codeUnavailable, "the queue monitor cannot reach Redis: try again", "")
	}
	return newProblem(http.StatusInternalServerError, string(jobs.CodeInternal), "the queue monitor failed: see the API's log", "")
}

// monitorWriter passes a success through and holds back an error answer:
// its status, and the start of its text.
type monitorWriter struct {
	http.ResponseWriter
	status int          // the error status, once asynqmon wrote one
	began  bool         // a success has begun: nothing more is held
	body   bytes.Buffer // the start of the error's text
}

// WriteHeader passes a success status on and holds an error status.
func (m *monitorWriter) WriteHeader(code int) {
	switch {
	case m.began || m.status != 0:
		return
	case code >= 400:
		m.status = code
		return
	case code >= 200:
		m.began = true
	}
	m.ResponseWriter.WriteHeader(code)
}

// Write passes a success's body on and keeps the start of an error's.
func (m *monitorWriter) Write(b []byte) (int, error) {
	if m.status != 0 {
		m.body.Write(b[:min(len(b), maxMonitorError-m.body.Len())])
		return len(b), nil
	}
	m.began = true
	return m.ResponseWriter.Write(b)
}

// Flush passes a flush on for a success.
func (m *monitorWriter) Flush() {
	if m.status == 0 {
		_ = http.NewResponseController(m.ResponseWriter).Flush()
	}
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (m *monitorWriter) Unwrap() http.ResponseWriter { return m.ResponseWriter }

// text is the error's text, one line of valid UTF-8.
func (m *monitorWriter) text() string {
	s := strings.TrimSpace(strings.ToValidUTF8(m.body.String(), "\uFFFD"))
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == utf8.RuneError || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if s == "" {
		return http.StatusText(m.status)
	}
	return s
}
