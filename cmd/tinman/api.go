package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/tinmanhq/tinman/api"
	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/schemas"
	"github.com/tinmanhq/tinman/ui"
)

func newAPICmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Serve the HTTP API (run any number behind a load balancer)",
		Long: "Serves the HTTP API: jobs, servers, images, events (SSE), health, metrics, the OpenAPI document and the\n" +
			"read-only queue monitor; with --boot-addr, the boot service too, on a listener of its own (no token).\n" +
			"Refuses to start without bearer tokens (--tokens, --tokens-file) unless\n" +
			"--insecure-no-auth. On SIGTERM, /readyz answers 503 at once; after --drain-delay the listener\n" +
			"closes and in-flight requests get --shutdown-timeout to finish.",
		Args: requireNoArgs,
	}
	serviceFlags(cmd)
	streamFlags(cmd)
	secretFlags(cmd)
	apiFlags(cmd)
	webhookFlags(cmd)
	boot := bootFlags(cmd, "")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error { return runAPI(cmd, boot) }
	return cmd
}

func apiFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.String("http-addr", ":8080", "address the API listens on")
	f.String("tokens", "", "bearer tokens as ROLE:sha256:HEX,... (roles: viewer, operator, admin)")
	f.String("tokens-file", "", "file of tokens, one ROLE:TOKEN or ROLE:sha256:HEX per line")
	f.Bool("insecure-no-auth", false, "serve with no authentication at all: every caller is an admin")
	f.Duration("shutdown-timeout", 15*time.Second, "how long in-flight requests get to finish on shutdown")
	f.Duration("drain-delay", 5*time.Second, "how long /readyz answers 503 before the listener closes on shutdown")
	f.Duration("publish-timeout", 5*time.Second, "how long a job submission waits for JetStream's ack (503 after)")
	f.Duration("read-header-timeout", 5*time.Second, "deadline for reading a request's headers")
	f.Duration("read-timeout", 30*time.Second, "deadline for reading a whole request")
	f.Duration("write-timeout", 30*time.Second, "deadline for writing an answer (event streams are exempt)")
	f.Duration("idle-timeout", 120*time.Second, "how long a keep-alive connection may stay idle")
	f.Bool("monitor", true, "serve the read-only asynqmon queue monitor under /monitor/")
	f.Bool("console", true, "serve the web console under /ui/ (a token opens it: /ui/#token=TOKEN)")
	f.Int("max-streams-per-token", 8, "event streams (GET /v1/events) one token may hold open at once (429 past it)")
	f.Int("max-streams", 128, "event streams this API holds open at once (429 past it); each holds a NATS consumer")
	f.Duration("streams-retry-after", 5*time.Second, "the Retry-After of a 429 past a stream cap")
}

// runAPI is the `tinman api` role, with the boot service when bs has an address.
func runAPI(cmd *cobra.Command, bs *bootSettings) error {
	tokens, insecure, err := apiTokens(cmd)
	if err != nil {
		return err
	}
	addr := mustString(cmd, "http-addr")
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return usageErr("--http-addr %s: %v", addr, err)
	}
	defer ln.Close()
	bootLn, bootURL, err := bs.listenIfOn()
	if err != nil {
		return err
	}
	b, err := roleBackend(cmd, "api")
	if err != nil {
		return err
	}
	defer b.Close()
	cfg := apiConfig(cmd)
	if cfg.Streams.PerToken < 1 || cfg.Streams.Total < 1 || cfg.Streams.RetryAfter <= 0 {
		return usageErr("--max-streams-per-token, --max-streams and --streams-retry-after must be positive")
	}
	cfg.Tokens, cfg.InsecureNoAuth = tokens, insecure
	cb := b.callbacks()
	cfg.Callbacks = cb
	whCfg, err := webhookConfig(cmd)
	if err != nil {
		return err
	}
	if wh, err := b.webhooks(whCfg); err != nil {
		return err
	} else if wh != nil {
		cfg.Webhooks = wh
	}
	if insecure {
		b.log.Warn().Msg("--insecure-no-auth: the API asks for no token; every caller is an admin")
	}
	if flagBool(cmd, "console") {
		if cfg.Console, err = ui.New(); err != nil {
			return err
		}
	}
	a, err := b.api(cfg, flagDuration(cmd, "publish-timeout"), flagBool(cmd, "monitor"))
	if err != nil {
		return err
	}
	defer a.Close()
	roles := []func(context.Context) error{b.outbox.Run, func(ctx context.Context) error { return a.Serve(ctx, ln) }}
	if bootLn != nil {
		serveBoot, err := bs.service(b, bootLn, http.HandlerFunc(cb.ServeCallback))
		if err != nil {
			return err
		}
		b.log.Info().Str("addr", bootLn.Addr().String()).Str("url", bootURL).Msg("boot service")
		roles = append(roles, serveBoot)
	}
	return runAll(cmd.Context(), roles...)
}

// apiTokens reads --tokens and --tokens-file. Without any token the API
// refuses to start, unless --insecure-no-auth says so on purpose.
func apiTokens(cmd *cobra.Command) (*api.Tokens, bool, error) {
	spec, file, insecure := mustString(cmd, "tokens"), mustString(cmd, "tokens-file"), flagBool(cmd, "insecure-no-auth")
	tokens, err := api.ParseTokens(spec)
	if err != nil {
		return nil, false, usageErr("--tokens (TINMAN_TOKENS): %v", err)
	}
	if file != "" {
		more, err := api.LoadTokenFile(file)
		if err != nil {
			return nil, false, usageErr("--tokens-file (TINMAN_TOKENS_FILE): %v", err)
		}
		tokens = tokens.Merge(more)
	}
	switch {
	case insecure && tokens.Len() > 0:
		return nil, false, usageErr("--insecure-no-auth and tokens both given: choose one")
	case !insecure && tokens.Len() == 0:
		return nil, false, usageErr("the API refuses to start without tokens: set --tokens (TINMAN_TOKENS) or " +
			"--tokens-file (TINMAN_TOKENS_FILE), or pass --insecure-no-auth (TINMAN_INSECURE_NO_AUTH=true) to serve without auth")
	}
	return tokens, insecure, nil
}

// apiConfig reads the server settings of `tinman api`.
func apiConfig(cmd *cobra.Command) api.Config {
	return api.Config{Timeouts: api.Timeouts{
		ReadHeader: flagDuration(cmd, "read-header-timeout"),
		Read:       flagDuration(cmd, "read-timeout"),
		Write:      flagDuration(cmd, "write-timeout"),
		Idle:       flagDuration(cmd, "idle-timeout"),
		DrainDelay: flagDuration(cmd, "drain-delay"),
		Shutdown:   flagDuration(cmd, "shutdown-timeout"),
	}, Streams: api.StreamLimits{
		PerToken:   flagInt(cmd, "max-streams-per-token"),
		Total:      flagInt(cmd, "max-streams"),
		RetryAfter: flagDuration(cmd, "streams-retry-after"),
	}}
}

// api builds the HTTP API on this backend; cfg brings the auth and the
// server settings.
func (b *backend) api(cfg api.Config, publishTimeout time.Duration, monitor bool) (*api.API, error) {
	v, err := schemas.New()
	if err != nil {
		return nil, fmt.Errorf("load schemas: %w", err)
	}
	cfg.Logger = b.log
	cfg.Store = b.store
	sub, err := b.submitter(publishTimeout)
	if err != nil {
		return nil, err
	}
	cfg.Submitter = sub
	cfg.Watcher = events.NewWatcher(b.js)
	cfg.Validator = v
	cfg.Health = api.NewHealth(time.Second, append(b.checks(), b.sitesCheck())...)
	cfg.Registry = b.metrics
	cfg.Vitals = b.vitals()
	if monitor {
		cfg.Monitor = b.redisAt.asynqOpt()
	}
	return api.New(cfg)
}

// newToken returns a random bearer token (256 bits, URL-safe base64).
func newToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func flagDuration(cmd *cobra.Command, name string) time.Duration {
	d, err := cmd.Flags().GetDuration(name)
	if err != nil {
		panic(fmt.Sprintf("flag %s: %v", name, err)) // a programming error: the flag is not defined
	}
	return d
}

func flagBool(cmd *cobra.Command, name string) bool {
	v, err := cmd.Flags().GetBool(name)
	if err != nil {
		panic(fmt.Sprintf("flag %s: %v", name, err)) // a programming error: the flag is not defined
	}
	return v
}

func flagInt(cmd *cobra.Command, name string) int {
	v, err := cmd.Flags().GetInt(name)
	if err != nil {
		panic(fmt.Sprintf("flag %s: %v", name, err)) // a programming error: the flag is not defined
	}
	return v
}
