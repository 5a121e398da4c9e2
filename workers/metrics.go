package workers

import (
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tinmanhq/tinman/jobs"
)

// Metrics are the worker's Prometheus series.
type Metrics struct {
	jobs       *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	endToEnd   *prometheus.HistogramVec
	leaseWaits *prometheus.CounterVec
	bmcCalls   *prometheus.HistogramVec
}

// NewMetrics registers the worker's series on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tinman_jobs_total", Help: "Job attempts by type and outcome (succeeded, retrying, failed, canceled).",
		}, []string{"type", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tinman_job_attempt_seconds", Help: "Duration of one run of a job's handler by type (a workflow's run ends when it parks to wait: the whole job is tinman_job_duration_seconds).",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800},
		}, []string{"type"}),
		endToEnd: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tinman_job_duration_seconds", Help: "Jobs from queued to their end (every attempt, retry delay and parked wait included), by type and outcome.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200, 21600, 86400},
		}, []string{"type", "outcome"}),
		leaseWaits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tinman_job_lease_waits_total", Help: "Times a job found its server's lease held by another job and came back later (no attempt spent).",
		}, []string{"type"}),
		bmcCalls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tinman_bmc_call_seconds", Help: "BMC call latency by provider, operation and outcome (ok or an error code).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"provider", "op", "outcome"}),
	}
	reg.MustRegister(m.jobs, m.duration, m.endToEnd, m.leaseWaits, m.bmcCalls)
	return m
}

func (m *Metrics) attempt(t jobs.Type, outcome string, took time.Duration) {
	if m == nil {
		return
	}
	m.jobs.WithLabelValues(string(t), outcome).Inc()
	m.duration.WithLabelValues(string(t)).Observe(took.Seconds())
}

// ended observes a job's whole life, queued to its end.
func (m *Metrics) ended(t jobs.Type, outcome string, took time.Duration) {
	if m != nil {
		m.endToEnd.WithLabelValues(string(t), outcome).Observe(took.Seconds())
	}
}

func (m *Metrics) leaseWait(t jobs.Type) {
	if m != nil {
		m.leaseWaits.WithLabelValues(string(t)).Inc()
	}
}

func (m *Metrics) bmcCall(provider jobs.Provider, op string, err error, took time.Duration) {
	if m == nil {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = string(jobs.CodeOf(err))
	}
	m.bmcCalls.WithLabelValues(string(provider), op, outcome).Observe(took.Seconds())
}

// QueueCollector reports the depth of every asynq queue at each scrape.
type QueueCollector struct {
	insp                     *asynq.Inspector
	depth                    *prometheus.Desc
	siteWaiting, siteWorkers *prometheus.Desc
}

// NewQueueCollector returns a collector over insp.
func NewQueueCollector(insp *asynq.Inspector) *QueueCollector {
	return &QueueCollector{insp: insp, depth: prometheus.NewDesc("tinman_queue_tasks",
		"Tasks in each asynq queue by state.", []string{"queue", "state"}, nil),
		siteWaiting: prometheus.NewDesc("tinman_site_jobs_waiting", "Jobs waiting in a site's queues (pending, scheduled, retrying).", []string{"site"}, nil),
		siteWorkers: prometheus.NewDesc("tinman_site_workers", "Live worker processes serving a site: 0 with jobs waiting means they wait for one.", []string{"site"}, nil)}
}

// Describe implements prometheus.Collector.
func (c *QueueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.siteWaiting
	ch <- c.siteWorkers
}

// Collect implements prometheus.Collector: each queue's info is read
// once, for its sizes and for its site's.
func (c *QueueCollector) Collect(ch chan<- prometheus.Metric) {
	queues, err := queueInfos(c.insp)
	if err != nil {
		return
	}
	for _, info := range queues {
		for state, n := range map[string]int{"pending": info.Pending, "active": info.Active, "scheduled": info.Scheduled,
			"retry": info.Retry, "archived": info.Archived} {
			ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(n), info.Queue, state)
		}
	}
	if sites, err := sitesOf(c.insp, queues); err == nil {
		for site, l := range sites {
			ch <- prometheus.MustNewConstMetric(c.siteWaiting, prometheus.GaugeValue, float64(l.Waiting), site)
			ch <- prometheus.MustNewConstMetric(c.siteWorkers, prometheus.GaugeValue, float64(l.Workers), site)
		}
	}
}
