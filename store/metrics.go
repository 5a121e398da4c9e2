package store

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/tinmanhq/tinman/jobs"
)

// Collector reports, at each scrape, what the store holds that an operator
// watches: the outbox's backlog and the age of its oldest staged event,
// the servers by state, the circuit breakers open and the jobs waiting for
// their server's lease. A scrape costs a
// few round trips and ends within scrapeTimeout.
type Collector struct {
	st                               *Store
	streams, staged, oldest, servers *prometheus.Desc
	breakers, leaseWaits             *prometheus.Desc
}

// scrapeTimeout bounds the Redis reads of one scrape.
const scrapeTimeout = 5 * time.Second

// outboxSample is how many pending outbox streams one scrape looks into
// (all of them when there are fewer; a sample past that).
const outboxSample = 1000

// NewCollector returns the store's collector.
func NewCollector(st *Store) *Collector {
	return &Collector{
		st:         st,
		streams:    prometheus.NewDesc("tinman_outbox_streams_pending", "Outbox streams (a job, or a server's state changes) with events staged and not yet sent to NATS.", nil, nil),
		staged:     prometheus.NewDesc("tinman_outbox_events_staged", "Events staged in the outbox and not yet sent to NATS (of the streams looked at: up to 1000).", nil, nil),
		oldest:     prometheus.NewDesc("tinman_outbox_oldest_event_age_seconds", "Age of the oldest event staged and not yet sent (0: none); it grows while NATS is away.", nil, nil),
		servers:    prometheus.NewDesc("tinman_servers", "Enrolled servers by lifecycle state.", []string{"state"}, nil),
		breakers:   prometheus.NewDesc("tinman_breakers_open", "Servers whose BMC circuit breaker is open (the server in maintenance).", nil, nil),
		leaseWaits: prometheus.NewDesc("tinman_jobs_waiting_for_lease", "Jobs waiting for their server's lease, held by another job (found held within the last minute, not granted since).", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.streams, c.staged, c.oldest, c.servers, c.breakers, c.leaseWaits} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. A series whose read fails is
// left out of the scrape (Prometheus sees it missing, not wrong).
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	if n, staged, age, err := c.st.outbox.backlog(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(c.streams, prometheus.GaugeValue, float64(n))
		ch <- prometheus.MustNewConstMetric(c.staged, prometheus.GaugeValue, float64(staged))
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age.Seconds())
	}
	if open, err := c.st.rdb.SCard(ctx, breakersOpen).Result(); err == nil {
		ch <- prometheus.MustNewConstMetric(c.breakers, prometheus.GaugeValue, float64(open))
	}
	if n, err := c.st.LeaseWaiters(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(c.leaseWaits, prometheus.GaugeValue, float64(n))
	}
	if servers, err := c.st.ListServers(ctx, nil); err == nil {
		count := map[jobs.ServerState]int{}
		for _, srv := range servers {
			count[srv.State]++
		}
		for _, state := range jobs.ServerStates() {
			ch <- prometheus.MustNewConstMetric(c.servers, prometheus.GaugeValue, float64(count[state]), string(state))
		}
	}
}

// backlog counts the pending outbox streams (Pending) and, over up to
// outboxSample of them, the events staged and the age of the oldest. A
// store with no outbox has none.
func (o *Outbox) backlog(ctx context.Context) (streams int64, staged int64, oldest time.Duration, err error) {
	if o == nil {
		return 0, 0, 0, nil
	}
	streams, err = o.Pending(ctx)
	if err != nil || streams == 0 {
		return streams, 0, 0, err
	}
	names, err := o.rdb.SRandMemberN(ctx, outboxPending, outboxSample).Result()
	if err != nil {
		return streams, 0, 0, err
	}
	pipe := o.rdb.Pipeline()
	heads := make([]*redis.StringCmd, len(names))
	lens := make([]*redis.IntCmd, len(names))
	for i, name := range names {
		key := outboxStream(name).listKey()
		heads[i], lens[i] = pipe.LIndex(ctx, key, 0), pipe.LLen(ctx, key)
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return streams, 0, 0, err
	}
	now := time.Now()
	for i := range names {
		staged += lens[i].Val()
		if at, ok := entryTime(heads[i].Val()); ok && now.Sub(at) > oldest {
			oldest = now.Sub(at)
		}
	}
	return streams, staged, oldest, nil
}

// entryTime reads the CloudEvents time of an outbox entry.
func entryTime(entry string) (time.Time, bool) {
	_, data, ok := strings.Cut(entry, "\n")
	if !ok {
		return time.Time{}, false
	}
	var ev struct {
		Time time.Time `json:"time"`
	}
	if json.Unmarshal([]byte(data), &ev) != nil || ev.Time.IsZero() {
		return time.Time{}, false
	}
	return ev.Time, true
}
