package workers

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/internal/confcheck"
	"github.com/tinmanhq/tinman/jobs"
)

// Config configures a Worker: start from DefaultConfig, New refuses a
// zero or negative setting.
type Config struct {
	// Concurrency is how many jobs on servers run at once in this process
	// (default 64); the jobs on no server (deploys) run beside them, 4 at a
	// time. BMC calls mostly wait on the network, so this is well above the
	// core count.
	Concurrency int
	// Queues weighs the priorities (default critical 6, default 3, low 1),
	// within each site served.
	Queues map[string]int
	// Sites are the sites whose servers this worker reaches (default: the
	// default site): it takes their jobs, and the jobs on no server
	// (deploys), from the queues jobs.QueueName names.
	Sites []string
	// TaskCheckInterval is how long an idle worker waits before looking for
	// work again (default 10 ms; asynq's own default of 1 s adds a second to every pick-up).
	TaskCheckInterval time.Duration
	// DelayedTaskCheckInterval is how often retries that are due are moved back
	// to their queue (default 500 ms; asynq's default of 5 s delays every retry).
	DelayedTaskCheckInterval time.Duration
	// ShutdownTimeout is how long running jobs get to finish on shutdown before
	// they are handed back to the queue (default 30 s).
	ShutdownTimeout time.Duration
	// Retry is the retry policy (default DefaultRetryPolicy).
	Retry RetryPolicy
	// LeaseTTL is how long a server lease lives without renewal (default
	// 10 s); it is renewed every third of it while the job runs. A job whose
	// worker died is resumed by another once it lapses (see rescue.go).
	LeaseTTL time.Duration
	// BMCConcurrency caps the BMC calls in flight in this process (default 32).
	BMCConcurrency int
	// MinCommandInterval is the least time between two commands to one BMC,
	// by provider (default: IPMI 1 s, Redfish none). Ironic uses 5 s for IPMI.
	MinCommandInterval map[jobs.Provider]time.Duration
	// BreakerThreshold is how many consecutive bmc_unreachable answers open a
	// server's circuit breaker (default 3) within BreakerWindow (default 10 min).
	BreakerThreshold int
	BreakerWindow    time.Duration
	// ProbeInterval is how often a BMC whose breaker is open is tried again (default 30 s).
	ProbeInterval time.Duration
	// WaitPoll is how often a waiting workflow looks again when nothing wakes
	// it sooner (default 5 s; a callback wakes it at once).
	WaitPoll time.Duration
	// DeployPoll is how often a deploy looks at its running batch when
	// nothing wakes it sooner (default 5 s; the last job of the batch to
	// end wakes it at once).
	DeployPoll time.Duration
	// InstallerTimeout bounds each wait for an installer callback (default 60 min).
	InstallerTimeout time.Duration
	// InstallerImage names the catalogue image whose kernel and initrd boot
	// the wiper of a deprovision that names none ("": the image the server
	// was last provisioned with).
	InstallerImage string
	// BootURL is the boot service's public base URL, on which an image's
	// relative ISO URL is resolved for virtual media ("": such an image
	// cannot boot from virtual media).
	BootURL string
	// WatchdogInterval is how often stuck servers are looked for (default 1 min).
	WatchdogInterval time.Duration
	// RescueInterval is how often jobs whose worker died are looked for
	// (default 1 s): one is resumed once its server lease has lapsed.
	RescueInterval time.Duration
	// StateDeadlines bound the transitional states (default jobs.StateDeadlines).
	StateDeadlines map[jobs.ServerState]time.Duration
	// Metrics receives the worker's series (nil: none).
	Metrics *Metrics
	// Submitter publishes the jobs a deploy runs (nil: deploys fail).
	Submitter Submitter
	// PowerVerifyTimeout bounds the readback after a power change (default 60 s).
	PowerVerifyTimeout time.Duration
	// Logger receives the worker's logs, each with its component (worker,
	// asynq, breaker, rescue, watchdog); every job line carries job_id,
	// server, type, attempt.
	Logger zerolog.Logger
}

// DefaultConfig returns the documented defaults; change what you need and
// give it to New.
func DefaultConfig() Config {
	return Config{
		Concurrency:              64,
		Queues:                   DefaultQueues(),
		Sites:                    []string{jobs.DefaultSite},
		TaskCheckInterval:        10 * time.Millisecond,
		DelayedTaskCheckInterval: 500 * time.Millisecond,
		ShutdownTimeout:          30 * time.Second,
		Retry:                    DefaultRetryPolicy(),
		LeaseTTL:                 10 * time.Second,
		BMCConcurrency:           32,
		MinCommandInterval:       map[jobs.Provider]time.Duration{jobs.ProviderIPMI: time.Second, jobs.ProviderRedfish: 0},
		BreakerThreshold:         3,
		BreakerWindow:            10 * time.Minute,
		ProbeInterval:            30 * time.Second,
		WaitPoll:                 5 * time.Second,
		DeployPoll:               5 * time.Second,
		InstallerTimeout:         time.Hour,
		WatchdogInterval:         time.Minute,
		RescueInterval:           time.Second,
		StateDeadlines:           jobs.StateDeadlines,
		PowerVerifyTimeout:       60 * time.Second,
		Logger:                   zerolog.Nop(),
	}
}

// Validate names every field of c that cannot be used: counts and
// intervals must be more than 0, command intervals 0 or more.
func (c Config) Validate() error {
	v := confcheck.For("workers.Config")
	confcheck.Positive(v, "Concurrency", c.Concurrency)
	v.Require(len(c.Queues) > 0, "Queues", c.Queues, "must name at least one queue")
	for q, weight := range c.Queues {
		v.Require(jobs.Priority(q).Queue() == q && q != "", "Queues["+q+"]", q, "must be a priority: critical, default or low")
		confcheck.Positive(v, "Queues["+q+"]", weight)
	}
	v.Require(len(c.Sites) > 0, "Sites", c.Sites, "must name at least one site")
	for i, site := range c.Sites {
		v.Require(jobs.ValidSite(site), "Sites", site, "each must match ^[a-z0-9][a-z0-9-]{0,62}$")
		v.Require(!slices.Contains(c.Sites[:i], site), "Sites", site, "each site once")
	}
	confcheck.Positive(v, "TaskCheckInterval", c.TaskCheckInterval)
	confcheck.Positive(v, "DelayedTaskCheckInterval", c.DelayedTaskCheckInterval)
	confcheck.Positive(v, "ShutdownTimeout", c.ShutdownTimeout)
	confcheck.Positive(v, "LeaseTTL", c.LeaseTTL)
	confcheck.Positive(v, "BMCConcurrency", c.BMCConcurrency)
	for p, gap := range c.MinCommandInterval {
		confcheck.NotNegative(v, "MinCommandInterval["+string(p)+"]", gap)
	}
	confcheck.Positive(v, "BreakerThreshold", c.BreakerThreshold)
	confcheck.Positive(v, "BreakerWindow", c.BreakerWindow)
	confcheck.Positive(v, "ProbeInterval", c.ProbeInterval)
	confcheck.Positive(v, "WaitPoll", c.WaitPoll)
	confcheck.Positive(v, "DeployPoll", c.DeployPoll)
	confcheck.Positive(v, "InstallerTimeout", c.InstallerTimeout)
	confcheck.Positive(v, "WatchdogInterval", c.WatchdogInterval)
	confcheck.Positive(v, "RescueInterval", c.RescueInterval)
	v.Require(c.StateDeadlines != nil, "StateDeadlines", "<nil>", "must be set (jobs.StateDeadlines)")
	confcheck.Positive(v, "PowerVerifyTimeout", c.PowerVerifyTimeout)
	v.Require(c.InstallerImage == "" || jobs.ValidImageName(c.InstallerImage), "InstallerImage", c.InstallerImage, "must be an image name of the catalogue")
	v.Require(c.BootURL == "" || validBaseURL(c.BootURL), "BootURL", c.BootURL, "must be an http:// or https:// URL with a host")
	return errors.Join(v.Err(), c.Retry.Validate())
}

// queues are the asynq queues of the jobs on servers the worker serves,
// weighed: each priority of each of its sites.
func (c Config) queues() map[string]int {
	out := map[string]int{}
	for p, weight := range c.Queues {
		for _, site := range c.Sites {
			out[jobs.QueueName(site, jobs.Priority(p), true)] = weight
		}
	}
	return out
}

// fleetQueues are the asynq queues of the jobs on no server (deploys), weighed.
func (c Config) fleetQueues() map[string]int {
	out := map[string]int{}
	for p, weight := range c.Queues {
		out[jobs.QueueName("", jobs.Priority(p), false)] = weight
	}
	return out
}

// The jobs on no server (deploys: each run submits a batch and parks) are
// taken by an asynq server of their own, fleetConcurrency at once, looking
// every fleetTaskCheckInterval when idle. asynq's dequeue costs a Redis
// round trip per queue it looks in, in a random weighed order until one has
// a task: served with the servers' jobs, the three fleet queues, empty
// nearly always, made 4.9 round trips of every job's dequeue instead of 2.
const (
	fleetConcurrency       = 4
	fleetTaskCheckInterval = 100 * time.Millisecond
)

func validBaseURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil
}

// DefaultQueues returns the queue weights: critical 6, default 3, low 1.
func DefaultQueues() map[string]int {
	return map[string]int{
		string(jobs.PriorityCritical): 6,
		string(jobs.PriorityDefault):  3,
		string(jobs.PriorityLow):      1,
	}
}

// Worker runs jobs from the asynq queues.
type Worker struct {
	cfg Config
	// The store, one port per kind of record (port.go).
	records  JobRecords
	servers  ServerRecords
	leases   Leases
	breakers Breakers
	pacing   Pacing
	boot     BootConfigs
	images   Images
	rounds   Rounds
	deploys  Deploys
	connect  Connector
	log      zerolog.Logger // component worker: the job lines
	srv      *asynq.Server  // the jobs on servers
	fleet    *asynq.Server  // the jobs on no server
	calls    chan struct{}  // the BMC call budget: one slot per call in flight
	// inspector and client serve the rescue of jobs whose worker died.
	inspector *asynq.Inspector
	client    *asynq.Client
}

// New returns a Worker that takes tasks from rdb, or an error naming what
// of its arguments and cfg cannot be used (start from DefaultConfig).
func New(rdb redis.UniversalClient, store Store, connect Connector, cfg Config) (*Worker, error) {
	v := confcheck.For("workers.New")
	v.Present("rdb", rdb)
	v.Present("store", store)
	v.Present("connect", connect)
	if err := errors.Join(v.Err(), cfg.Validate()); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	w := &Worker{cfg: cfg, records: store, servers: store, leases: store, breakers: store, pacing: store, boot: store, images: store, rounds: store, deploys: store,
		connect: connect, log: cfg.Logger.With().Str("component", "worker").Logger(), calls: make(chan struct{}, cfg.BMCConcurrency),
		inspector: asynq.NewInspectorFromRedisClient(rdb), client: asynq.NewClientFromRedisClient(rdb)}
	w.srv = asynq.NewServerFromRedisClient(rdb, cfg.asynqConfig(cfg.Concurrency, cfg.queues(), cfg.TaskCheckInterval))
	w.fleet = asynq.NewServerFromRedisClient(rdb, cfg.asynqConfig(fleetConcurrency, cfg.fleetQueues(), max(cfg.TaskCheckInterval, fleetTaskCheckInterval)))
	return w, nil
}

// asynqConfig is the configuration of an asynq server of the worker's that
// runs concurrency tasks at once from queues.
func (c Config) asynqConfig(concurrency int, queues map[string]int, taskCheck time.Duration) asynq.Config {
	return asynq.Config{
		Concurrency:              concurrency,
		Queues:                   queues,
		TaskCheckInterval:        taskCheck,
		DelayedTaskCheckInterval: c.DelayedTaskCheckInterval,
		ShutdownTimeout:          c.ShutdownTimeout,
		RetryDelayFunc:           c.Retry.retryDelay,
		IsFailure:                isFailure,
		Logger:                   asynqLogger{c.Logger.With().Str("component", "asynq").Logger()},
		LogLevel:                 asynq.WarnLevel,
		// The status middleware has logged every failure with its job's fields.
		ErrorHandler: asynq.ErrorHandlerFunc(func(context.Context, *asynq.Task, error) {}),
	}
}

// Mux returns the handler of every job type, wrapped in the middleware.
func (w *Worker) Mux() *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.Use(w.track, recoverPanic)
	mux.HandleFunc(string(jobs.Power), w.power)
	mux.HandleFunc(string(jobs.BootDevice), w.bootDevice)
	mux.HandleFunc(string(jobs.Inspect), w.inspect)
	mux.HandleFunc(string(jobs.BMCReset), w.bmcReset)
	mux.HandleFunc(string(jobs.Provision), w.provision)
	mux.HandleFunc(string(jobs.Deprovision), w.deprovision)
	mux.HandleFunc(string(jobs.Deploy), w.deploy)
	return mux
}

// Run processes tasks until ctx ends, then shuts down: no new task is taken,
// running ones get ShutdownTimeout to finish, the rest go back to the queue.
func (w *Worker) Run(ctx context.Context) error {
	mux := w.Mux()
	if err := w.srv.Start(mux); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	if err := w.fleet.Start(mux); err != nil {
		w.srv.Shutdown()
		return fmt.Errorf("start worker (jobs on no server): %w", err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { w.watchdog(ctx) })
	wg.Go(func() { w.rescue(ctx) })
	w.probeBreakers(ctx)
	wg.Wait()
	wg.Go(w.fleet.Shutdown) // both within one ShutdownTimeout
	w.srv.Shutdown()
	wg.Wait()
	return nil
}
