package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/tinmanhq/tinman/api"
	"github.com/tinmanhq/tinman/bmc"
	"github.com/tinmanhq/tinman/callback"
	"github.com/tinmanhq/tinman/dispatch"
	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/schemas"
	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/submit"
	"github.com/tinmanhq/tinman/workers"
)

// backend is a process's connections to NATS and Redis and what sits on them.
type backend struct {
	log     zerolog.Logger
	metrics *prometheus.Registry
	nc      *nats.Conn
	js      jetstream.JetStream
	rdb     *redis.Client
	redisAt redisTarget // where rdb goes, for what asynq opens itself
	outbox  *store.Outbox
	store   *store.Store
	// submit submits job requests: a deploy's jobs, a webhook's deploys.
	submit *submit.Submitter
}

// backendConfig says where the services are.
type backendConfig struct {
	NATS     natsTarget
	RedisURL string
	Streams  events.StreamConfig
	Name     string // the role, for the NATS connection name and event source
	Logger   zerolog.Logger
	// SecretKey seals BMC credentials; nil: a random one for this process.
	SecretKey []byte
}

// openBackend connects to NATS and Redis and makes sure the streams exist.
// A role waits up to startPatience for each service to answer (a broker or
// Redis restarting during a rolling upgrade is no reason to die); one that
// still cannot be reached is an unreachable error (exit 3).
func openBackend(ctx context.Context, cfg backendConfig) (*backend, error) {
	log := cfg.Logger
	opts := []nats.Option{nats.Name("tinman-" + cfg.Name), nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond), nats.Timeout(5 * time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn().Err(err).Msg("NATS disconnected")
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info().Str("url", c.ConnectedUrlRedacted()).Msg("NATS reconnected") })}
	var nc *nats.Conn
	opts = append(opts, cfg.NATS.Options...)
	err := untilReachable(ctx, log, "NATS at "+describeNATS(cfg.NATS.URLs), func(context.Context) (err error) {
		nc, err = nats.Connect(cfg.NATS.URLs, opts...)
		return err
	})
	if err != nil {
		return nil, err
	}
	// An async publish whose ack never comes fails after the publish
	// timeout, rather than waiting in the client for good.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(events.PublishTimeout))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if err := ensureStreams(ctx, nc, js, cfg.Streams, log); err != nil {
		nc.Close()
		return nil, err
	}
	var (
		rdb     *redis.Client
		redisAt redisTarget
	)
	err = untilReachable(ctx, log, "Redis", func(ctx context.Context) (err error) {
		rdb, redisAt, err = openRedis(ctx, cfg.RedisURL)
		return err
	})
	if err != nil {
		nc.Close()
		return nil, err
	}
	reg := newRegistry(rdb)
	b := &backend{log: log, metrics: reg, nc: nc, js: js, rdb: rdb, redisAt: redisAt}
	if err := b.prepare(ctx, cfg); err != nil {
		nc.Close()
		_ = rdb.Close()
		return nil, err
	}
	return b, nil
}

// prepare readies what the backend opened: the store and its outbox, the Redis key layout migrated,
// the secret key (when one was given) checked against the credentials Redis
// holds, and the process's submitter.
func (b *backend) prepare(ctx context.Context, cfg backendConfig) error {
	outbox, err := store.NewOutbox(b.rdb, events.NewPublisher(b.js), store.OutboxConfig{Logger: b.log, Published: publishCounter(b.metrics)})
	if err != nil {
		return err
	}
	st, err := store.New(b.rdb, outbox, store.Config{Source: eventSource(cfg.Name), Logger: b.log, SecretKey: cfg.SecretKey})
	if err != nil {
		return usageErr("%v", err)
	}
	b.outbox, b.store = outbox, st
	b.metrics.MustRegister(store.NewCollector(st))
	if err := migrate(ctx, b.store, b.log); err != nil {
		return err
	}
	if cfg.SecretKey != nil {
		err := b.store.CheckKey(ctx)
		switch {
		case errors.Is(err, store.ErrWrongKey):
			return usageErr("--secret-key / TINMAN_SECRET_KEY: %v", err)
		case err != nil:
			return unreachable(fmt.Errorf("check the secret key: %w", err))
		}
	}
	b.submit, err = b.submitter(0)
	return err
}

// migrate brings Redis to the key layout of this tinman (store.Migrate),
// waiting up to startPatience for another process that migrates it.
func migrate(ctx context.Context, st *store.Store, log zerolog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, startPatience)
	defer cancel()
	n, err := st.Migrate(ctx)
	switch {
	case errors.Is(err, store.ErrNewerLayout):
		return usageErr("%v", err)
	case err != nil:
		return unreachable(fmt.Errorf("migrate the Redis key layout: %w", err))
	case n > 0:
		log.Info().Int("keys", n).Msg("Redis keys of the previous layout migrated in place")
	}
	return nil
}

// startPatience is how long a role waits at start for JetStream to answer:
// a broker restarting during a rolling upgrade is no reason to die.
const startPatience = time.Minute

// ensureStreams creates or updates the streams, trying again while JetStream
// does not answer, for up to startPatience.
// JetStream's error codes (nats-server's jetstream_errors_generated.go)
// that nats.go does not name.
const (
	jsErrReplicasNotSupported  jetstream.ErrorCode = 10074 // replicas > 1 not supported in non-clustered mode
	jsErrInsufficientResources jetstream.ErrorCode = 10023
	jsErrClusterNoPeers        jetstream.ErrorCode = 10005 // no suitable peers for placement
)

func ensureStreams(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, streams events.StreamConfig, log zerolog.Logger) error {
	if streams.Replicas > 1 && nc.ConnectedClusterName() == "" {
		return usageErr("--stream-replicas %d: NATS at %s is one server, not a cluster: use 1, or a cluster of at least %d JetStream servers",
			streams.Replicas, nc.ConnectedUrlRedacted(), streams.Replicas)
	}
	return untilReachable(ctx, log, "JetStream", func(ctx context.Context) error {
		err := events.EnsureStreams(ctx, js, streams)
		var apiErr *jetstream.APIError
		switch {
		case errors.Is(err, events.ErrInvalidStreamConfig):
			return usageErr("%w", err)
		case errors.As(err, &apiErr) && apiErr.ErrorCode == jsErrReplicasNotSupported:
			return usageErr("--stream-replicas %d: %v", streams.Replicas, err)
		case errors.As(err, &apiErr) && (apiErr.ErrorCode == jsErrInsufficientResources || apiErr.ErrorCode == jsErrClusterNoPeers):
			// A cluster whose servers are still starting cannot place the
			// replicas yet: wait, but say which setting asks for them.
			return fmt.Errorf("--stream-replicas %d: the NATS cluster %s cannot place them yet: %w", streams.Replicas, nc.ConnectedClusterName(), err)
		}
		return err
	})
}

// untilReachable runs try, 5 s at most each time, until it succeeds, fails
// with a usage error (final), or startPatience has passed: then the last
// failure is an unreachable error (exit 3).
func untilReachable(ctx context.Context, log zerolog.Logger, what string, try func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, startPatience)
	defer cancel()
	for delay := 250 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		err := try(actx)
		acancel()
		var e *exitError
		if err == nil || errors.As(err, &e) && e.code == exitUsage {
			return err
		}
		log.Warn().Err(err).Dur("retry_in_ms", delay).Msgf("%s not ready", what)
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				return ctx.Err() // stopped while starting: not a failure
			}
			return unreachable(err)
		case <-time.After(delay):
		}
	}
}

func eventSource(role string) string {
	return "/tinman/" + role + "/" + hostname()
}

// Close drains NATS (publishes in flight are sent) and closes Redis.
func (b *backend) Close() {
	if err := b.nc.Drain(); err != nil {
		b.nc.Close()
	}
	_ = b.rdb.Close()
}

// sitesEvery is how often the sites check reads asynq (it costs a few
// round trips a queue): between, it answers its last finding.
const sitesEvery = 10 * time.Second

// sitesCheck is the advisory readiness check that names the sites whose
// jobs wait with no live worker to serve them.
func (b *backend) sitesCheck() api.Check {
	insp := asynq.NewInspectorFromRedisClient(b.rdb)
	var (
		mu   sync.Mutex
		at   time.Time
		last error
	)
	return api.Check{Name: "sites", Advisory: true, Probe: func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(at) < sitesEvery {
			return last
		}
		at = time.Now()
		sites, err := workers.Sites(insp)
		switch {
		case err != nil:
			last = err
		case sites.Unserved() != "":
			last = errors.New(sites.Unserved())
		default:
			last = nil
		}
		return last
	}}
}

// checks are the readiness probes of this backend.
func (b *backend) checks() []api.Check {
	return []api.Check{
		{Name: "nats", Probe: func(context.Context) error {
			if s := b.nc.Status(); s != nats.CONNECTED {
				return fmt.Errorf("NATS is %s", s)
			}
			return nil
		}},
		{Name: "redis", Probe: func(ctx context.Context) error { return b.rdb.Ping(ctx).Err() }},
	}
}

// dispatcher builds the dispatcher role on this backend.
func (b *backend) dispatcher(cfg dispatch.Config) (*dispatch.Dispatcher, *asynq.Client, error) {
	v, err := schemas.New()
	if err != nil {
		return nil, nil, fmt.Errorf("load schemas: %w", err)
	}
	q := asynq.NewClientFromRedisClient(b.rdb)
	cfg.Logger = b.log
	cfg.Source = eventSource("dispatcher")
	if cfg.Waker == nil { // a deploy whose last running job is rejected is woken at once
		cfg.Waker = asynq.NewInspectorFromRedisClient(b.rdb)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = dispatch.NewMetrics(b.metrics)
	}
	d, err := dispatch.New(b.js, b.store, q, v, cfg)
	if err != nil {
		_ = q.Close()
		return nil, nil, err
	}
	return d, q, nil
}

// worker builds the worker role on this backend; it reaches BMCs through
// connect, or through bmclib with bmcCfg when connect is nil.
func (b *backend) worker(cfg workers.Config, bmcCfg bmc.Config, connect workers.Connector) (*workers.Worker, error) {
	cfg.Logger = b.log
	if cfg.Metrics == nil {
		cfg.Metrics = workers.NewMetrics(b.metrics)
	}
	if connect == nil {
		bmcCfg.Logger = b.log
		d, err := bmc.NewDialer(bmcCfg)
		if err != nil {
			return nil, err
		}
		connect = bmclibConnector(d)
	}
	if cfg.Submitter == nil {
		cfg.Submitter = requestSubmitter{b.submit}
	}
	return workers.New(b.rdb, b.store, connect, cfg)
}

// bmclibConnector opens BMC sessions through bmclib. A failed Open returns a
// nil interface, never a nil *bmc.Session inside a non-nil workers.Session: that
// typed nil would pass every "!= nil" check and panic at its first call.
func bmclibConnector(d *bmc.Dialer) workers.Connector {
	return func(ctx context.Context, srv jobs.Server, creds jobs.Credentials) (workers.Session, error) {
		s, err := d.Open(ctx, srv, creds)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}

// submitter is the one way this process submits job requests: the
// submitted record in the store, then JetStream, timeout bounding the ack
// (0: submit.DefaultTimeout).
func (b *backend) submitter(timeout time.Duration) (*submit.Submitter, error) {
	s, err := submit.New(b.js, submit.Config{Timeout: timeout, Recorder: b.store, Logger: b.log})
	if err != nil {
		return nil, usageErr("%v", err)
	}
	return s, nil
}

// requestSubmitter submits with no admission of its own: for the jobs of a
// deploy and the deploys of webhooks, whose ids are derived, so a repeat is
// the same request.
type requestSubmitter struct{ s *submit.Submitter }

// Submit records and publishes req; it returns once JetStream has stored it.
func (r requestSubmitter) Submit(ctx context.Context, req jobs.Request) error {
	_, err := r.s.Submit(ctx, req, nil)
	return err
}

// SubmitAll records and publishes reqs at once; one error per request.
func (r requestSubmitter) SubmitAll(ctx context.Context, reqs []jobs.Request) []error {
	return r.s.SubmitAll(ctx, reqs)
}

// newRegistry is the process's Prometheus registry: the Go runtime, the
// process, and the depth of the asynq queues.
func newRegistry(rdb *redis.Client) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		workers.NewQueueCollector(asynq.NewInspectorFromRedisClient(rdb)), buildInfo())
	return reg
}

// publishCounter counts the events published to NATS, and the failures.
func publishCounter(reg prometheus.Registerer) func(error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tinman_events_published_total", Help: "Events published to TINMAN_EVENTS by outcome (ok, failed).",
	}, []string{"outcome"})
	reg.MustRegister(c)
	ok, failed := c.WithLabelValues("ok"), c.WithLabelValues("failed")
	return func(err error) {
		if err != nil {
			failed.Inc()
			return
		}
		ok.Inc()
	}
}

// callbacks builds the receiver of installer callbacks on this backend.
func (b *backend) callbacks() *callback.Receiver {
	return callback.NewReceiver(b.store, asynq.NewInspectorFromRedisClient(b.rdb), b.log)
}

// serviceFlags adds the flags every role and client shares.
func serviceFlags(cmd *cobra.Command) {
	cmd.Flags().String("nats-url", "", "NATS server URLs, comma-separated for a cluster (default: nats://127.0.0.1:4222)")
	natsAuthFlags(cmd)
	cmd.Flags().String("redis-url", "", "Redis URL (default: redis://127.0.0.1:6379/0)")
}

func secretFlags(cmd *cobra.Command) {
	cmd.Flags().String("secret-key", "", "key that seals BMC credentials: 32 bytes in base64 or hex (prefer TINMAN_SECRET_KEY)")
	cmd.Flags().String("secret-key-file", "", "file holding the secret key")
}

// secretKey reads --secret-key or --secret-key-file; nil when neither is set.
func secretKey(cmd *cobra.Command) ([]byte, error) {
	text, file := mustString(cmd, "secret-key"), mustString(cmd, "secret-key-file")
	switch {
	case text != "" && file != "":
		return nil, usageErr("give --secret-key or --secret-key-file, not both")
	case file != "":
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, usageErr("--secret-key-file: %v", err)
		}
		text = string(data)
	case text == "":
		return nil, nil
	}
	key, err := store.ParseKey(text)
	if err != nil {
		return nil, usageErr("secret key: %v", err)
	}
	return key, nil
}

func streamFlags(cmd *cobra.Command) {
	d := events.DefaultStreamConfig()
	cmd.Flags().Duration("events-max-age", d.EventsMaxAge, "how long events are kept for replay")
	cmd.Flags().Int64("events-max-bytes", d.EventsMaxBytes, "size cap of the events stream (oldest dropped first)")
	cmd.Flags().Duration("duplicate-window", d.DuplicateWindow, "how long a request or event id is remembered for deduplication")
	cmd.Flags().Int("stream-replicas", d.Replicas, "replicas of each stream in a NATS cluster (1 to 5; 3 for high availability)")
}

func streamConfig(cmd *cobra.Command) events.StreamConfig {
	c := events.DefaultStreamConfig()
	c.EventsMaxAge, _ = cmd.Flags().GetDuration("events-max-age")
	c.EventsMaxBytes, _ = cmd.Flags().GetInt64("events-max-bytes")
	c.DuplicateWindow, _ = cmd.Flags().GetDuration("duplicate-window")
	c.Replicas, _ = cmd.Flags().GetInt("stream-replicas")
	return c
}
