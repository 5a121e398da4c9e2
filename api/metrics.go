package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the series the API itself keeps. Other parts of the process
// (workers, dispatcher) register theirs on the same Registry.
type metrics struct {
	registry   *prometheus.Registry
	httpTime   *prometheus.HistogramVec
	inFlight   prometheus.Gauge
	submitted  *prometheus.CounterVec
	sseStreams prometheus.Gauge
	sseEvents  prometheus.Counter
}

// Submission outcomes counted by tinman_api_jobs_submitted_total.
const (
	outcomeAccepted    = "accepted"
	outcomeInvalid     = "invalid"
	outcomeUnavailable = "unavailable"
)

// NewRegistry returns a Prometheus registry with the Go runtime and process
// collectors, ready for Config.Registry.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// newMetrics registers the API's series on reg.
func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		registry: reg,
		httpTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tinman_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by method, route pattern and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route", "status"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tinman_http_requests_in_flight", Help: "HTTP requests being answered now.",
		}),
		submitted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tinman_api_jobs_submitted_total",
			Help: "Job requests submitted over the HTTP API, by job type and outcome (accepted, invalid, unavailable).",
		}, []string{"type", "outcome"}),
		sseStreams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tinman_api_event_streams", Help: "Server-Sent Event streams open now.",
		}),
		sseEvents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tinman_api_events_streamed_total", Help: "Events sent to Server-Sent Event streams.",
		}),
	}
	m.httpTime = register(reg, m.httpTime)
	m.inFlight = register(reg, m.inFlight)
	m.submitted = register(reg, m.submitted)
	m.sseStreams = register(reg, m.sseStreams)
	m.sseEvents = register(reg, m.sseEvents)
	return m
}

// register registers c on reg, or returns the collector registered before
// it under the same name (a second API on one registry shares its series).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	if err != nil {
		panic(fmt.Sprintf("register metric: %v", err)) // a programming error: two series with one name
	}
	return c
}

// observeHTTP records one answered request. Long-lived event streams are
// not timed: their duration says how long a client watched, not how fast
// the API answered. No label takes its value from the request as sent:
// route is a pattern of the API or "unmatched", and see methodLabel and
// statusLabel, so that no client can mint series.
func (m *metrics) observeHTTP(method, route string, status int, took time.Duration) {
	if route == routeEvents && status == http.StatusOK {
		return
	}
	m.httpTime.WithLabelValues(methodLabel(method, route), route, statusLabel(status)).Observe(took.Seconds())
}

// methodLabel is a request's method as a label value: the method when a
// route took the request (then it is one of the few the routes serve), and
// "other" for every request that no route took, whatever its method.
func methodLabel(method, route string) string {
	if route == routeUnmatched {
		return labelOther
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return method
	}
	return labelOther
}

// statusLabel is an answer's status code as a label value; a code outside
// 100-599 (which no handler of ours writes) is "other".
func statusLabel(status int) string {
	if status < 100 || status > 599 {
		return labelOther
	}
	return strconv.Itoa(status)
}

// labelOther is the label value of everything outside a label's known set.
const labelOther = "other"

// submission counts one job submission; an unknown type counts as "unknown"
// so that clients cannot mint label values.
func (m *metrics) submission(jobType, outcome string) {
	if !knownType(jobType) {
		jobType = "unknown"
	}
	m.submitted.WithLabelValues(jobType, outcome).Inc()
}

// handler serves the registry in the Prometheus text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}
