package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
)

// GET /v1/events streams events as Server-Sent Events: "id:" is the
// event's sequence in TINMAN_EVENTS (send it back as Last-Event-ID to
// resume after it), "event:" its CloudEvents type, "data:" the CloudEvent.
// A comment every Config.Heartbeat keeps proxies from closing an idle
// stream. The stream ends when the client goes or the server shuts down.

// eventFilter reads the filters of GET /v1/events: server, job, type and
// since as `tinman watch` takes them, and Last-Event-ID (the header, or
// the last_event_id parameter for clients that cannot set headers).
func eventFilter(r *http.Request) (events.Filter, error) {
	q := r.URL.Query()
	var f events.Filter
	if err := onlyParams(q, "server", "job", "type", "since", "last_event_id"); err != nil {
		return f, err
	}
	f.Server, f.Job, f.Type = q.Get("server"), q.Get("job"), q.Get("type")
	switch {
	case f.Server != "" && f.Server != events.NoServer && !jobs.ValidServerID(f.Server):
		return f, jobs.Invalid("server", "must be a server id, or _ for events about no single server")
	case f.Job != "" && !jobs.ValidJobID(f.Job):
		return f, jobs.Invalid("job", "must be a job id")
	case f.Type != "" && !events.ValidTypePattern(f.Type):
		return f, jobs.Invalid("type", `must be a type or pattern that matches an event type, such as "job", "job.failed", "*.failed" or "tinman.job.*"`)
	}
	if err := parseSince(q.Get("since"), &f); err != nil {
		return f, err
	}
	return f, parseLastEventID(r, &f)
}

func parseSince(s string, f *events.Filter) error {
	if s == "" {
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return jobs.Invalid("since", "must be a positive duration such as 10m or 24h")
	}
	f.Since = d
	return nil
}

// parseLastEventID reads where to resume: the Last-Event-ID header, or the
// last_event_id parameter; either given twice, or both with different
// values, is refused, as which would count is a guess.
func parseLastEventID(r *http.Request, f *events.Filter) error {
	header, param := r.Header.Values("Last-Event-ID"), r.URL.Query().Get("last_event_id")
	field, s := "last_event_id", param
	switch {
	case len(header) > 1:
		return jobs.Invalid("Last-Event-ID", fmt.Sprintf("is given %d times: give it once", len(header)))
	case len(header) == 1 && param != "" && param != header[0]:
		return jobs.Invalid("last_event_id", "differs from the Last-Event-ID header: give one of them")
	case len(header) == 1:
		field, s = "Last-Event-ID", header[0]
	}
	if s == "" {
		return nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return jobs.Invalid(field, "must be the id of an event received before (a stream sequence)")
	}
	f.AfterSeq = n
	return nil
}

// streamEvents answers GET /v1/events.
func (a *API) streamEvents(w http.ResponseWriter, r *http.Request) {
	f, err := eventFilter(r)
	if err == nil {
		err = a.placeJob(r.Context(), &f)
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	release, err := a.streamCount.acquire(identityOf(r.Context()).Name)
	if err != nil {
		a.tooMany(w, r, err)
		return
	}
	defer release()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(a.streams, cancel)()
	evc, started, errc := a.watch(ctx, f)
	defer func() { cancel(); <-errc }()
	select { // the open comment says that no new event will be missed
	case <-started:
	case err := <-errc:
		if ctx.Err() == nil {
			fail(w, r, fmt.Errorf("%w: %w", ErrUnavailable, err))
		}
		return
	}
	s := &sseWriter{w: w, rc: http.NewResponseController(w), timeout: a.cfg.Timeouts.Write}
	if err := s.open(); err != nil {
		return
	}
	a.metrics.sseStreams.Inc()
	defer a.metrics.sseStreams.Dec()
	a.pump(ctx, s, evc, errc)
}

// watch runs the watcher for f in its own goroutine, which ends when ctx
// does. The second channel is closed once its consumer exists; its error
// arrives on the third, which is then closed.
func (a *API) watch(ctx context.Context, f events.Filter) (<-chan events.Delivered, <-chan struct{}, <-chan error) {
	evc, started, errc := make(chan events.Delivered, 64), make(chan struct{}), make(chan error, 1)
	f.Started = func() { close(started) }
	go func() {
		defer close(errc)
		errc <- a.cfg.Watcher.Watch(ctx, f, func(d events.Delivered) error {
			select {
			case evc <- d:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	return evc, started, errc
}

// pump writes events and heartbeats until the client goes, the server
// shuts down, or the watch fails (said with an "error" event).
func (a *API) pump(ctx context.Context, s *sseWriter, evc <-chan events.Delivered, errc <-chan error) {
	tick := time.NewTicker(a.cfg.Heartbeat)
	defer tick.Stop()
	for {
		var err error
		select {
		case d := <-evc:
			err = s.event(d)
			a.metrics.sseEvents.Inc()
		case <-tick.C:
			err = s.comment("heartbeat")
		case werr := <-errc:
			if werr != nil && ctx.Err() == nil {
				zerolog.Ctx(ctx).Warn().Err(werr).Msg("event stream failed")
				_ = s.failure(problemOf(fmt.Errorf("%w: %w", ErrUnavailable, werr)))
			}
			return
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

// sseWriter writes the Server-Sent Events wire format. Each write gets
// its own deadline, so a client that stops reading is dropped, while the
// stream as a whole has none.
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

// open lifts the server's read and write deadlines and sends the headers.
func (s *sseWriter) open() error {
	_ = s.rc.SetReadDeadline(time.Time{})
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	s.w.WriteHeader(http.StatusOK)
	return s.comment("stream open")
}

func (s *sseWriter) event(d events.Delivered) error {
	data, err := json.Marshal(d.Event)
	if err != nil {
		return fmt.Errorf("marshal event %s: %w", d.ID, err)
	}
	return s.send(fmt.Sprintf("id: %d\nevent: %s\n%s\n", d.StreamSeq, d.Type, dataLines(data)))
}

func (s *sseWriter) failure(p Problem) error {
	data, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("marshal problem: %w", err)
	}
	return s.send("event: error\n" + dataLines(data) + "\n")
}

func (s *sseWriter) comment(text string) error { return s.send(": " + text + "\n\n") }

func (s *sseWriter) send(text string) error {
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	if _, err := s.w.Write([]byte(text)); err != nil {
		return fmt.Errorf("write event stream: %w", err)
	}
	if err := s.rc.Flush(); err != nil {
		return fmt.Errorf("flush event stream: %w", err)
	}
	return nil
}

// dataLines writes data as "data:" lines, one per line of data.
func dataLines(data []byte) string {
	var b strings.Builder
	for line := range strings.SplitSeq(string(data), "\n") {
		b.WriteString("data: ")
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}
