package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/tinmanhq/tinman/api"
	"github.com/tinmanhq/tinman/bmc"
	"github.com/tinmanhq/tinman/dispatch"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/workers"
)

func newDispatcherCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dispatcher",
		Short: "Turn requests from NATS into asynq tasks (run any number)",
		Args:  requireNoArgs,
	}
	roleFlags(cmd)
	s := dispatcherFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg := s.config(cmd)
		if err := s.refused(cfg.Validate()); err != nil {
			return err
		}
		b, err := roleBackend(cmd, "dispatcher")
		if err != nil {
			return err
		}
		defer b.Close()
		d, q, err := b.dispatcher(cfg)
		if err != nil {
			return s.refused(err)
		}
		defer q.Close()
		cb := b.callbacks()
		receive := func(ctx context.Context) error { return cb.Run(ctx, b.js) }
		return runAll(cmd.Context(), b.outbox.Run, d.Run, receive, b.healthServer(cmd))
	}
	return cmd
}

func newWorkerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Perform jobs on BMCs (run any number)",
		Args:  requireNoArgs,
	}
	roleFlags(cmd)
	secretFlags(cmd)
	s := workerFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		// The settings are checked before the backend waits for NATS and
		// Redis: a mistake is told at once.
		if err := s.check(); err != nil {
			return err
		}
		b, err := roleBackend(cmd, "worker")
		if err != nil {
			return err
		}
		defer b.Close()
		wcfg, bcfg := s.configs()
		w, err := b.worker(wcfg, bcfg, nil)
		if err != nil {
			return s.refused(err)
		}
		return runAll(cmd.Context(), b.outbox.Run, w.Run, b.healthServer(cmd))
	}
	return cmd
}

func roleFlags(cmd *cobra.Command) {
	serviceFlags(cmd)
	streamFlags(cmd)
	cmd.Flags().String("health-addr", "", "serve /healthz, /readyz and /metrics on this address (empty: none)")
	cmd.Flags().Bool("pprof", false, "also serve Go's profiles on --health-addr, under /debug/pprof/ (they show the process's insides: keep that address private)")
}

// dispatcherSettings are the dispatcher's flags, bound to its Config.
type dispatcherSettings struct {
	*settings
	cfg dispatch.Config
}

func dispatcherFlags(cmd *cobra.Command) *dispatcherSettings {
	const dc = "dispatch.Config"
	s := &dispatcherSettings{settings: newSettings(cmd.Flags()), cfg: dispatch.DefaultConfig()}
	s.intVar(&s.cfg.Concurrency, dc, "Concurrency", "dispatch-concurrency", "requests handled at once by this dispatcher")
	s.durationVar(&s.cfg.AckWait, dc, "AckWait", "ack-wait", "how long a request may stay unacknowledged before redelivery")
	s.intVar(&s.cfg.MaxBatchSize, dc, "MaxBatchSize", "max-batch-size", "the largest batch_size a deploy may ask for")
	s.bind(dc, "Retention", "duplicate-window")
	return s
}

// config is the dispatcher's Config: its flags, and the streams'
// duplicate window as the time a finished task is kept.
func (s *dispatcherSettings) config(cmd *cobra.Command) dispatch.Config {
	cfg := s.cfg
	cfg.Retention, _ = cmd.Flags().GetDuration("duplicate-window")
	return cfg
}

// workerSettings are the worker's flags, bound to its Config and its BMC
// dialer's.
type workerSettings struct {
	*settings
	worker              workers.Config
	bmc                 bmc.Config
	ipmiGap, redfishGap time.Duration
}

func workerFlags(cmd *cobra.Command) *workerSettings {
	const wc, bc = "workers.Config", "bmc.Config"
	s := &workerSettings{settings: newSettings(cmd.Flags()), worker: workers.DefaultConfig(), bmc: bmc.DefaultConfig()}
	s.ipmiGap = s.worker.MinCommandInterval[jobs.ProviderIPMI]
	s.redfishGap = s.worker.MinCommandInterval[jobs.ProviderRedfish]
	s.intVar(&s.worker.Concurrency, wc, "Concurrency", "concurrency", "jobs on servers run at once by this worker (deploys run beside them, 4 at a time)")
	s.durationVar(&s.worker.TaskCheckInterval, wc, "TaskCheckInterval", "task-check-interval", "how often an idle worker looks for work")
	s.durationVar(&s.worker.ShutdownTimeout, wc, "ShutdownTimeout", "shutdown-timeout", "how long running jobs get to finish on shutdown")
	s.durationVar(&s.bmc.CallTimeout, bc, "CallTimeout", "bmc-timeout", "deadline of each BMC call")
	s.durationVar(&s.worker.PowerVerifyTimeout, wc, "PowerVerifyTimeout", "power-verify-timeout", "how long a power change may take to read back")
	s.stringVar(&s.bmc.IpmitoolPath, bc, "IpmitoolPath", "ipmitool-path", "ipmitool binary (default: found on PATH)")
	s.intVar(&s.worker.BMCConcurrency, wc, "BMCConcurrency", "bmc-concurrency", "BMC calls in flight at once in this worker")
	s.durationVar(&s.ipmiGap, wc, "MinCommandInterval[ipmi]", "ipmi-min-interval", "least time between two commands to one IPMI BMC")
	s.durationVar(&s.redfishGap, wc, "MinCommandInterval[redfish]", "redfish-min-interval", "least time between two commands to one Redfish BMC")
	s.intVar(&s.worker.BreakerThreshold, wc, "BreakerThreshold", "breaker-threshold", "consecutive unreachable answers that put a server in maintenance")
	s.durationVar(&s.worker.LeaseTTL, wc, "LeaseTTL", "lease-ttl", "life of a server lease without renewal (a dead worker frees its servers after it)")
	s.durationVar(&s.worker.WaitPoll, wc, "WaitPoll", "wait-poll", "how often a waiting workflow looks again when no callback wakes it")
	s.durationVar(&s.worker.DeployPoll, wc, "DeployPoll", "deploy-poll", "how often a deploy looks at its running batch when no job of it wakes it")
	s.durationVar(&s.worker.InstallerTimeout, wc, "InstallerTimeout", "installer-timeout", "how long a workflow waits for each installer callback")
	s.stringSliceVar(&s.worker.Sites, wc, "Sites", "sites", "the sites whose servers this worker reaches (comma-separated): it takes their jobs, and deploys")
	s.stringVar(&s.worker.InstallerImage, wc, "InstallerImage", "installer-image", "catalogue image whose kernel and initrd boot the wiper of a deprovision that names none (default: the image the server was provisioned with)")
	s.stringVar(&s.worker.BootURL, wc, "BootURL", "boot-url", "the boot service's URL, on which an image's relative iso_url is resolved for --boot virtual-media")
	return s
}

// configs are the worker's and its dialer's Configs, as the flags set them.
func (s *workerSettings) configs() (workers.Config, bmc.Config) {
	cfg := s.worker
	cfg.MinCommandInterval = map[jobs.Provider]time.Duration{jobs.ProviderIPMI: s.ipmiGap, jobs.ProviderRedfish: s.redfishGap}
	return cfg, s.bmc
}

// check refuses, by flag name, any setting the worker or its dialer would.
func (s *workerSettings) check() error {
	cfg, bcfg := s.configs()
	_, err := bmc.NewDialer(bcfg)
	return s.refused(errors.Join(cfg.Validate(), err))
}

// roleBackend opens the backend of a production role.
func roleBackend(cmd *cobra.Command, role string) (*backend, error) {
	log, err := newLogger(cmd)
	if err != nil {
		return nil, err
	}
	natsTarget, err := natsTargetOf(cmd, nats.DefaultURL)
	if err != nil {
		return nil, err
	}
	redisURL := mustString(cmd, "redis-url")
	if redisURL == "" {
		redisURL = "redis://127.0.0.1:6379/0"
	}
	log = log.With().Str("role", role).Logger()
	var key []byte // the dispatcher reads no credentials: it has no key flag
	if cmd.Flags().Lookup("secret-key") != nil {
		if key, err = secretKey(cmd); err != nil {
			return nil, err
		}
		if key == nil {
			return nil, usageErr("the %s reads BMC credentials: give the secret key (TINMAN_SECRET_KEY or --secret-key-file)", role)
		}
	}
	return openBackend(cmd.Context(), backendConfig{NATS: natsTarget, RedisURL: redisURL,
		Streams: streamConfig(cmd), Name: role, Logger: log, SecretKey: key})
}

// healthServer serves /healthz, /readyz and /metrics on --health-addr, if
// set, and with --pprof the profiles.
func (b *backend) healthServer(cmd *cobra.Command) func(context.Context) error {
	addr := mustString(cmd, "health-addr")
	profiles, _ := cmd.Flags().GetBool("pprof")
	return func(ctx context.Context) error {
		if addr == "" {
			<-ctx.Done()
			return nil
		}
		h := api.NewHealth(time.Second, b.checks()...)
		mux := http.NewServeMux()
		mux.HandleFunc("GET /healthz", h.Healthz)
		mux.HandleFunc("GET /readyz", h.Readyz)
		mux.Handle("GET /metrics", promhttp.HandlerFor(b.metrics, promhttp.HandlerOpts{}))
		if profiles {
			mux.HandleFunc("GET /debug/pprof/", pprof.Index) // the named profiles: heap, goroutine, ...
			mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
			mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
			mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
		}
		return serveHTTP(ctx, addr, mux, h)
	}
}

// serveHTTP serves handler on addr until ctx ends.
func serveHTTP(ctx context.Context, addr string, handler http.Handler, h *api.Health) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return usageErr("listen on %s: %v", addr, err)
	}
	return serveListener(ctx, ln, handler, h)
}

// serveListener serves handler on ln until ctx ends, then drains readiness
// and lets in-flight requests finish.
func serveListener(ctx context.Context, ln net.Listener, handler http.Handler, h *api.Health) error {
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 0, IdleTimeout: 120 * time.Second}
	hctx, stopHealth := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHealth()
	go h.Run(hctx)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	h.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// runAll runs every fn until ctx ends or one fails; then cancels the rest
// and waits for all. It returns the first failure.
func runAll(ctx context.Context, fns ...func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for _, fn := range fns {
		wg.Go(func() {
			if err := fn(ctx); err != nil {
				once.Do(func() { first = err })
				cancel()
			}
		})
	}
	wg.Wait()
	return first
}
