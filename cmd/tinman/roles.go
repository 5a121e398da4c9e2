package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

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
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := roleBackend(cmd, "dispatcher")
			if err != nil {
				return err
			}
			defer b.Close()
			d, q, err := b.dispatcher(dispatcherConfig(cmd))
			if err != nil {
				return err
			}
			defer q.Close()
			cb := b.callbacks()
			receive := func(ctx context.Context) error { return cb.Run(ctx, b.js) }
			return runAll(cmd.Context(), b.outbox.Run, d.Run, receive, b.healthServer(cmd))
		},
	}
	roleFlags(cmd)
	dispatcherFlags(cmd)
	return cmd
}

func newWorkerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Perform jobs on BMCs (run any number)",
		Args:  requireNoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := positiveFlags(cmd, "concurrency", "task-check-interval", "shutdown-timeout", "bmc-timeout",
				"power-verify-timeout", "bmc-concurrency", "breaker-threshold", "lease-ttl", "wait-poll", "installer-timeout"); err != nil {
				return err
			}
			if err := nonNegativeFlags(cmd, "ipmi-min-interval", "redfish-min-interval"); err != nil {
				return err
			}
			b, err := roleBackend(cmd, "worker")
			if err != nil {
				return err
			}
			defer b.Close()
			wcfg, bcfg := workerConfig(cmd)
			w := b.worker(wcfg, bcfg, nil)
			return runAll(cmd.Context(), b.outbox.Run, w.Run, b.healthServer(cmd))
		},
	}
	roleFlags(cmd)
	secretFlags(cmd)
	workerFlags(cmd)
	return cmd
}

func roleFlags(cmd *cobra.Command) {
	serviceFlags(cmd)
	streamFlags(cmd)
	cmd.Flags().String("health-addr", "", "serve /healthz, /readyz and /metrics on this address (empty: none)")
}

func dispatcherFlags(cmd *cobra.Command) {
	cmd.Flags().Int("dispatch-concurrency", 32, "requests handled at once by this dispatcher")
	cmd.Flags().Duration("ack-wait", 30*time.Second, "how long a request may stay unacknowledged before redelivery")
}

func dispatcherConfig(cmd *cobra.Command) dispatch.Config {
	n, _ := cmd.Flags().GetInt("dispatch-concurrency")
	ackWait, _ := cmd.Flags().GetDuration("ack-wait")
	dup, _ := cmd.Flags().GetDuration("duplicate-window")
	return dispatch.Config{Concurrency: n, AckWait: ackWait, Retention: dup}
}

func workerFlags(cmd *cobra.Command) {
	cmd.Flags().Int("concurrency", 64, "jobs run at once by this worker")
	cmd.Flags().Duration("task-check-interval", 10*time.Millisecond, "how often an idle worker looks for work")
	cmd.Flags().Duration("shutdown-timeout", 30*time.Second, "how long running jobs get to finish on shutdown")
	cmd.Flags().Duration("bmc-timeout", 30*time.Second, "deadline of each BMC call")
	cmd.Flags().Duration("power-verify-timeout", 60*time.Second, "how long a power change may take to read back")
	cmd.Flags().String("ipmitool-path", "", "ipmitool binary (default: found on PATH)")
	cmd.Flags().Int("bmc-concurrency", 32, "BMC calls in flight at once in this worker")
	cmd.Flags().Duration("ipmi-min-interval", time.Second, "least time between two commands to one IPMI BMC")
	cmd.Flags().Duration("redfish-min-interval", 0, "least time between two commands to one Redfish BMC")
	cmd.Flags().Int("breaker-threshold", 3, "consecutive unreachable answers that put a server in maintenance")
	cmd.Flags().Duration("lease-ttl", 10*time.Second, "life of a server lease without renewal (a dead worker frees its servers after it)")
	cmd.Flags().Duration("wait-poll", 5*time.Second, "how often a waiting workflow looks again when no callback wakes it")
	cmd.Flags().Duration("installer-timeout", time.Hour, "how long a workflow waits for each installer callback")
}

// positiveFlags refuses, naming it, any of the flags whose value is 0 or
// less: a worker with no concurrency or a lease that lives no time is a
// mistake, not a request for the default.
func positiveFlags(cmd *cobra.Command, names ...string) error {
	return checkFlags(cmd, names, func(v float64) bool { return v > 0 }, "must be more than 0")
}

// nonNegativeFlags refuses, naming it, any of the flags whose value is below 0.
func nonNegativeFlags(cmd *cobra.Command, names ...string) error {
	return checkFlags(cmd, names, func(v float64) bool { return v >= 0 }, "must be 0 or more")
}

func checkFlags(cmd *cobra.Command, names []string, ok func(float64) bool, rule string) error {
	for _, name := range names {
		f := cmd.Flags().Lookup(name)
		var v float64
		switch f.Value.Type() {
		case "duration":
			d, _ := cmd.Flags().GetDuration(name)
			v = float64(d)
		case "int":
			n, _ := cmd.Flags().GetInt(name)
			v = float64(n)
		default:
			return fmt.Errorf("flag --%s is a %s: not a number to check", name, f.Value.Type())
		}
		if !ok(v) {
			return usageErr("--%s %s: %s", name, f.Value.String(), rule)
		}
	}
	return nil
}

func workerConfig(cmd *cobra.Command) (workers.Config, bmc.Config) {
	f := cmd.Flags()
	n, _ := f.GetInt("concurrency")
	tick, _ := f.GetDuration("task-check-interval")
	shutdown, _ := f.GetDuration("shutdown-timeout")
	verify, _ := f.GetDuration("power-verify-timeout")
	callTimeout, _ := f.GetDuration("bmc-timeout")
	ipmitool, _ := f.GetString("ipmitool-path")
	bmcN, _ := f.GetInt("bmc-concurrency")
	ipmiGap, _ := f.GetDuration("ipmi-min-interval")
	redfishGap, _ := f.GetDuration("redfish-min-interval")
	threshold, _ := f.GetInt("breaker-threshold")
	leaseTTL, _ := f.GetDuration("lease-ttl")
	waitPoll, _ := f.GetDuration("wait-poll")
	installerTimeout, _ := f.GetDuration("installer-timeout")
	return workers.Config{
			Concurrency: n, TaskCheckInterval: tick, ShutdownTimeout: shutdown, PowerVerifyTimeout: verify,
			BMCConcurrency: bmcN, BreakerThreshold: threshold, LeaseTTL: leaseTTL,
			WaitPoll: waitPoll, InstallerTimeout: installerTimeout,
			MinCommandInterval: map[jobs.Provider]time.Duration{jobs.ProviderIPMI: ipmiGap, jobs.ProviderRedfish: redfishGap},
		},
		bmc.Config{CallTimeout: callTimeout, IpmitoolPath: ipmitool}
}

// roleBackend opens the backend of a production role.
func roleBackend(cmd *cobra.Command, role string) (*backend, error) {
	log, err := newLogger(cmd)
	if err != nil {
		return nil, err
	}
	natsURL, redisURL := mustString(cmd, "nats-url"), mustString(cmd, "redis-url")
	if natsURL == "" {
		natsURL = "nats://127.0.0.1:4222"
	}
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
	return openBackend(cmd.Context(), backendConfig{NATSURL: natsURL, RedisURL: redisURL,
		Streams: streamConfig(cmd), Name: role, Logger: log, SecretKey: key})
}

// healthServer serves /healthz and /readyz on --health-addr, if set.
func (b *backend) healthServer(cmd *cobra.Command) func(context.Context) error {
	addr := mustString(cmd, "health-addr")
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
