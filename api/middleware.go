package api

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/jobs"
)

// RequestIDHeader carries the request id: taken from the client when it is
// a sane token, else made up, and always sent back.
const RequestIDHeader = "X-Request-Id"

// MaxBodyBytes bounds every request body (413 beyond).
const MaxBodyBytes = 1 << 20

// requestInfo is what the middleware learns about a request as it goes
// down the chain, shared by pointer so the outer layers can log it.
type requestInfo struct {
	requestID string
	route     string
	identity  string
}

type infoKey struct{}
type identityKey struct{}

func infoOf(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(infoKey{}).(*requestInfo)
	return info
}

func withIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// identityOf returns the caller's identity on an authorized route.
func identityOf(ctx context.Context) Identity {
	id, _ := ctx.Value(identityKey{}).(Identity)
	return id
}

// statusWriter records the status and size of an answer. Unwrap lets
// http.ResponseController reach the connection (flush, deadlines).
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

// WriteHeader records the first status written.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200 and counts bytes.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe is the outermost layer: it gives the request its id and logger,
// caps its body, and once answered logs it and records its metrics.
func (a *API) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &requestInfo{requestID: requestID(r), route: routeUnmatched}
		w.Header().Set(RequestIDHeader, info.requestID)
		log := a.log.With().Str("request_id", info.requestID).Logger()
		ctx := log.WithContext(context.WithValue(r.Context(), infoKey{}, info))
		r = r.WithContext(ctx)
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		}
		sw := &statusWriter{ResponseWriter: w}
		a.metrics.inFlight.Inc()
		defer func() {
			a.metrics.inFlight.Dec()
			a.done(r, sw, info, time.Since(start))
		}()
		next.ServeHTTP(sw, r)
	})
}

// done logs an answered request and records its latency. Probes and
// scrapes log at debug level: they come by the thousand.
func (a *API) done(r *http.Request, sw *statusWriter, info *requestInfo, took time.Duration) {
	status := sw.status
	if status == 0 {
		status = http.StatusOK
	}
	a.metrics.observeHTTP(r.Method, info.route, status, took)
	level := zerolog.InfoLevel
	switch {
	case status >= 500:
		level = zerolog.WarnLevel
	case info.route == routeHealthz || info.route == routeReadyz || info.route == routeMetrics:
		level = zerolog.DebugLevel
	}
	ev := a.log.WithLevel(level).Str("request_id", info.requestID).Str("method", r.Method).
		Str("route", info.route).Str("path", r.URL.Path).Int("status", status).
		Dur("duration_ms", took).Int64("bytes", sw.bytes).Str("remote", r.RemoteAddr)
	if info.identity != "" {
		ev = ev.Str("identity", info.identity)
	}
	ev.Msg("http request")
}

// requestID returns the client's X-Request-Id when it is short and plain,
// else a new ULID.
func requestID(r *http.Request) string {
	if id := r.Header.Get(RequestIDHeader); id != "" && len(id) <= 64 && jobs.ValidJobID(id) {
		return id
	}
	return jobs.NewID(time.Now())
}

// recoverPanics turns a panic in a handler into a logged 500 problem. The
// panic that net/http uses to abort a response is let through.
func recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			zerolog.Ctx(r.Context()).Error().Str("panic", fmt.Sprint(v)).Bytes("stack", debug.Stack()).Msg("handler panicked")
			if sw, ok := w.(*statusWriter); ok && sw.status != 0 {
				return // the answer has begun: nothing more can be said
			}
			problem(w, r, http.StatusInternalServerError, string(jobs.CodePanic), "internal error: see the API's log", "")
		}()
		next.ServeHTTP(w, r)
	})
}

// route marks the request with its route pattern, for logs and metrics.
func route(pattern string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info := infoOf(r.Context()); info != nil {
			info.route = pattern
		}
		next.ServeHTTP(w, r)
	})
}
