package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/internal/confcheck"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

// Store is what the API reads and changes in Tinman's records
// (implemented by *store.Store).
type Store interface {
	Job(ctx context.Context, id string) (jobs.Job, error)
	ListJobs(ctx context.Context, f store.JobFilter) ([]jobs.Job, error)
	CancelJob(ctx context.Context, id, by string) (jobs.Job, error)
	Server(ctx context.Context, id string) (jobs.Server, error)
	ListServers(ctx context.Context, selector map[string]string) ([]jobs.Server, error)
	ListServersJSON(ctx context.Context, selector map[string]string) ([]json.RawMessage, error)
	EnrollServer(ctx context.Context, srv jobs.Server, creds jobs.Credentials) error
	UpdateServer(ctx context.Context, id string, change store.ServerChange) (jobs.Server, error)
	UpdateServerSettings(ctx context.Context, id string, change func(srv *jobs.Server) error) (jobs.Server, error)
	RemoveServer(ctx context.Context, id string) error
	SubmittedJob(ctx context.Context, id string) (store.Submitted, error)
	AddImage(ctx context.Context, img jobs.Image) (jobs.Image, error)
	Image(ctx context.Context, name string) (jobs.Image, error)
	Images(ctx context.Context) ([]jobs.Image, error)
	RemoveImage(ctx context.Context, name string) error
	Inventory(ctx context.Context, id string) (jobs.Inventory, error)
	ServerIDs(ctx context.Context) ([]string, error)
	ServersByID(ctx context.Context, ids []string) ([]jobs.Server, error)
	CheckServersFree(ctx context.Context, id string, servers []string) error
	DeployServers(ctx context.Context, id string, start, stop int64) ([]string, error)
}

// Submitter records a job request as submitted and puts it on NATS,
// returning once JetStream has stored it (a *submit.Submitter with the
// store as its recorder). admit runs between the two, told whether the
// record is new. An error means nothing was accepted: the API answers 4xx
// or 503, never 202.
type Submitter interface {
	Submit(ctx context.Context, req jobs.Request, admit func(created bool) error) (bool, error)
}

// Watcher follows the event stream (implemented by *events.Watcher).
type Watcher interface {
	Watch(ctx context.Context, f events.Filter, fn func(events.Delivered) error) error
}

// Validator checks a raw request against its JSON Schema (implemented by
// *schemas.Validator).
type Validator interface {
	Request(data []byte) error
}

// Webhooks serves the deploy-trigger webhooks; each request carries its
// own HMAC signature, so bearer tokens are not asked for.
type Webhooks interface {
	ServeGitHub(w http.ResponseWriter, r *http.Request)
	ServeGeneric(w http.ResponseWriter, r *http.Request)
}

// Callbacks serves installer callbacks, authenticated by a per-job token.
type Callbacks interface {
	ServeCallback(w http.ResponseWriter, r *http.Request)
}

// Config configures the API. Store, Submitter, Watcher and Validator
// are required; the rest have documented defaults.
type Config struct {
	// Logger receives one line per request and every failure (the API
	// names its components: api, http).
	Logger zerolog.Logger
	// Store reads and changes jobs and servers (a *store.Store).
	Store Store
	// Submitter submits job requests (see package submit).
	Submitter Submitter
	// Watcher feeds GET /v1/events.
	Watcher Watcher
	// Validator checks job requests against schemas/request.json.
	Validator Validator
	// Health answers /healthz and /readyz (default: one with no checks).
	Health *Health
	// Tokens are the accepted bearer tokens. With none, every route that
	// needs a role answers 401, unless InsecureNoAuth.
	Tokens *Tokens
	// InsecureNoAuth lets every request act as an admin, with no token.
	InsecureNoAuth bool
	// Webhooks and Callbacks serve their routes; nil answers 501.
	Webhooks  Webhooks
	Callbacks Callbacks
	// Registry receives the API's metrics and is served at /metrics
	// (default: NewRegistry()). Register other series on it.
	Registry *prometheus.Registry
	// Monitor is the Redis of the asynq queues, for the read-only asynqmon
	// under /monitor/ (nil: /monitor/ answers 501).
	Monitor asynq.RedisConnOpt
	// Timeouts of the HTTP server (zero values take the defaults).
	Timeouts Timeouts
	// Heartbeat is the interval of comments on an idle event stream (default 15 s).
	Heartbeat time.Duration
	// Streams caps the event streams open at once (see StreamLimits).
	Streams StreamLimits
	// Console serves the web console under /ui/ (package ui; nil: 501),
	// and Vitals the figures of its health strip at /v1/vitals (nil: 501).
	Console http.Handler
	Vitals  Vitals
}

// Timeouts harden the HTTP server against slow and greedy clients.
type Timeouts struct {
	// ReadHeader bounds reading a request's headers (default 5 s).
	ReadHeader time.Duration
	// Read bounds reading a whole request, body included (default 30 s).
	Read time.Duration
	// Write bounds answering a request (default 30 s); event streams lift it.
	Write time.Duration
	// Idle bounds a keep-alive connection between requests (default 120 s).
	Idle time.Duration
	// MaxHeaderBytes bounds a request's headers (default 64 KiB).
	MaxHeaderBytes int
	// DrainDelay is how long the server keeps answering, /readyz saying
	// 503, after shutdown begins, so that load balancers stop sending
	// (default 0).
	DrainDelay time.Duration
	// Shutdown bounds the wait for in-flight requests (default 15 s).
	Shutdown time.Duration
}

func (t *Timeouts) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.ReadHeader, 5*time.Second)
	def(&t.Read, 30*time.Second)
	def(&t.Write, 30*time.Second)
	def(&t.Idle, 120*time.Second)
	def(&t.Shutdown, 15*time.Second)
	if t.MaxHeaderBytes <= 0 {
		t.MaxHeaderBytes = 64 << 10
	}
}

func (c *Config) setDefaults() {
	c.Timeouts.setDefaults()
	if c.Health == nil {
		c.Health = NewHealth(time.Second)
	}
	if c.Registry == nil {
		c.Registry = NewRegistry()
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 15 * time.Second
	}
	c.Streams.setDefaults()
}

// API is Tinman's HTTP face: the routes of the contract behind auth,
// logging, metrics and panic recovery.
type API struct {
	cfg     Config
	log     zerolog.Logger
	health  *Health
	metrics *metrics
	monitor *queueMonitor
	mux     *http.ServeMux
	handler http.Handler
	// streamCount caps the event streams open at once.
	streamCount *streamCounter
	// streams ends every event stream when the server shuts down.
	streams     context.Context
	stopStreams context.CancelFunc
}

// Validate names every setting of c that cannot be used: a negative
// timeout, heartbeat or stream cap (zero takes the default).
func (c Config) Validate() error {
	v := confcheck.For("api.Config")
	for _, d := range []struct {
		field string
		value time.Duration
	}{
		{"Timeouts.ReadHeader", c.Timeouts.ReadHeader}, {"Timeouts.Read", c.Timeouts.Read}, {"Timeouts.Write", c.Timeouts.Write},
		{"Timeouts.Idle", c.Timeouts.Idle}, {"Timeouts.Shutdown", c.Timeouts.Shutdown}, {"Heartbeat", c.Heartbeat},
		{"Streams.RetryAfter", c.Streams.RetryAfter},
	} {
		confcheck.NotNegative(v, d.field, d.value)
	}
	confcheck.NotNegative(v, "Timeouts.MaxHeaderBytes", c.Timeouts.MaxHeaderBytes)
	confcheck.NotNegative(v, "Streams.PerToken", c.Streams.PerToken)
	confcheck.NotNegative(v, "Streams.Total", c.Streams.Total)
	return v.Err()
}

// New returns the API of cfg, or an error naming the setting it cannot use.
func New(cfg Config) (*API, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("API: %w", err)
	}
	if _, err := openAPIDoc(); err != nil {
		return nil, fmt.Errorf("API: openapi document: %w", err)
	}
	cfg.setDefaults()
	a := &API{cfg: cfg, log: cfg.Logger.With().Str("component", "api").Logger(), health: cfg.Health, metrics: newMetrics(cfg.Registry)}
	a.streamCount = newStreamCounter(cfg.Streams)
	if cfg.Monitor != nil {
		a.monitor = newQueueMonitor(cfg.Monitor)
	}
	a.streams, a.stopStreams = context.WithCancel(context.Background())
	a.mux = http.NewServeMux()
	for _, rt := range a.routes() {
		a.mux.Handle(rt.pattern, route(rt.pattern, a.authorize(rt)))
	}
	a.handler = a.observe(recoverPanics(http.HandlerFunc(a.serveMux)))
	return a, nil
}

// Handler returns the API as one http.Handler.
func (a *API) Handler() http.Handler { return a.handler }

// Registry is the Prometheus registry served at /metrics.
func (a *API) Registry() *prometheus.Registry { return a.cfg.Registry }

// Health is the API's health, which Serve drains on shutdown.
func (a *API) Health() *Health { return a.health }

// Close releases the queue monitor's Redis connections.
func (a *API) Close() error {
	a.stopStreams()
	if a.monitor != nil {
		return a.monitor.Close()
	}
	return nil
}

// serveMux routes the request; what no route matches gets a problem
// answer (404, or 405 with Allow) instead of the mux's plain text.
func (a *API) serveMux(w http.ResponseWriter, r *http.Request) {
	h, pattern := a.mux.Handler(r)
	if pattern != "" {
		a.mux.ServeHTTP(w, r)
		return
	}
	cw := &captureWriter{header: http.Header{}}
	h.ServeHTTP(cw, r)
	switch {
	case cw.status == http.StatusMethodNotAllowed:
		w.Header().Set("Allow", cw.header.Get("Allow"))
		problem(w, r, http.StatusMethodNotAllowed, codeMethod, r.Method+" is not allowed here; allowed: "+cw.header.Get("Allow"), "")
	case cw.status >= 300 && cw.status < 400:
		http.Redirect(w, r, cw.header.Get("Location"), cw.status)
	default:
		problem(w, r, http.StatusNotFound, string(jobs.CodeNotFound), "no route "+r.URL.Path, "")
	}
}

// captureWriter keeps the status and headers the mux's own answer would
// have had, and drops its body.
type captureWriter struct {
	header http.Header
	status int
}

func (c *captureWriter) Header() http.Header         { return c.header }
func (c *captureWriter) Write(b []byte) (int, error) { return len(b), nil }
func (c *captureWriter) WriteHeader(code int)        { c.status = code }
