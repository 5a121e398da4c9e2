package dispatch

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tinmanhq/tinman/jobs"
)

// Metrics are the dispatcher's Prometheus series.
type Metrics struct {
	accepted     prometheus.Counter
	rejected     *prometheus.CounterVec
	redeliveries prometheus.Counter
	nakDelay     prometheus.Histogram
}

// NewMetrics registers the dispatcher's series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tinman_dispatch_accepted_total", Help: "Requests turned into a queued job (a duplicate counts once more).",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tinman_dispatch_rejected_total", Help: "Requests refused, by the code of the refusal.",
		}, []string{"code"}),
		redeliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tinman_dispatch_redeliveries_total", Help: "Requests JetStream delivered again (a nak, or an ack that did not arrive in time).",
		}),
		nakDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tinman_dispatch_nak_delay_seconds", Help: "Delays asked of JetStream for requests that could not be dispatched now (Redis or NATS down).",
			Buckets: []float64{.5, 1, 2, 4, 8, 16, 30, 60},
		}),
	}
	reg.MustRegister(m.accepted, m.rejected, m.redeliveries, m.nakDelay)
	return m
}

// reject counts a refusal by its code: the codes are Tinman's own (a
// refusal is a jobs.Error the program made, never text from the request).
func (m *Metrics) reject(err error) {
	if m != nil {
		m.rejected.WithLabelValues(string(jobs.CodeOf(err))).Inc()
	}
}

func (m *Metrics) accept() {
	if m != nil {
		m.accepted.Inc()
	}
}

func (m *Metrics) delivered(n uint64) {
	if m != nil && n > 1 {
		m.redeliveries.Inc()
	}
}

func (m *Metrics) nak(d time.Duration) {
	if m != nil {
		m.nakDelay.Observe(d.Seconds())
	}
}
