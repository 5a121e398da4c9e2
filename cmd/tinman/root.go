package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "tinman",
		Short:         "Tinman: an event-driven job system for bare-metal fleets",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.ArbitraryArgs,
		RunE:          runGroup,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			return applyConfigFile(cmd)
		},
	}
	root.Version = fmt.Sprintf("%s (commit %s, %s)", version, buildCommit(), runtime.Version())
	root.SetVersionTemplate("tinman {{.Version}}\n")
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().String("config", "", "YAML file of settings by flag name, shared or per command (flags and TINMAN_* win over it)")
	root.PersistentFlags().Bool("no-color", false, "no colour, even on a terminal (so does NO_COLOR)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr("%w", err) })
	// The services, and the simulator (its installer logs), write logs.
	services := []*cobra.Command{newDevCmd(), newAPICmd(), newDispatcherCmd(), newWorkerCmd(), newSimCmd()}
	for _, c := range services {
		logFlags(c)
	}
	root.AddCommand(services...)
	root.AddCommand(newPublishCmd(), newWatchCmd(), newServersCmd(), newImagesCmd(), newJobsCmd(), newDeployCmd(), newStatusCmd(), newVersionCmd())
	return root
}

// logFlags adds the log settings to a command that runs a service: the
// client commands write no log.
func logFlags(cmd *cobra.Command) {
	cmd.Flags().String("log-level", "info", "log level: debug, info, warn, error")
	cmd.Flags().String("log-format", "auto", "log format: auto (pretty on a terminal), json, pretty")
	_ = cmd.RegisterFlagCompletionFunc("log-level", fixedValues([]string{"debug", "info", "warn", "error"}))
	_ = cmd.RegisterFlagCompletionFunc("log-format", fixedValues([]string{"auto", "json", "pretty"}))
}

// runGroup runs a command that only holds others: alone it prints its
// help; with an unknown subcommand it is a usage error that suggests the
// nearest one.
func runGroup(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return unknownCommand(cmd, args[0])
	}
	return cmd.Help()
}

// bindEnv gives every flag not set on the command line the value of its
// TINMAN_* variable: --nats-url from TINMAN_NATS_URL.
func bindEnv(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		key := envKey(f.Name)
		v, ok := os.LookupEnv(key)
		if !ok {
			return
		}
		if e := f.Value.Set(v); e != nil {
			err = usageErr("%s=%q: %v", key, v, e)
		}
	})
	return err
}

func envKey(flag string) string {
	return "TINMAN_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// The log line format, process-wide and set before any logger runs:
// RFC 3339 timestamps with milliseconds, durations as milliseconds (the
// keys say so: took_ms, retry_in_ms).
func init() {
	zerolog.TimeFieldFormat = "2006-01-02T15:04:05.000Z07:00"
	zerolog.DurationFieldUnit = time.Millisecond
	zerolog.DurationFieldInteger = false
	redis.SetLogger(redisLog{})
}

// processLog is the logger of the command that runs, for the libraries
// whose logger is global (go-redis); newLogger sets it.
var processLog atomic.Pointer[zerolog.Logger]

// redisLog feeds go-redis's own messages (pool dial failures, Sentinel
// switches) to the process logger, component go-redis.
type redisLog struct{}

func (redisLog) Printf(_ context.Context, format string, v ...any) {
	if l := processLog.Load(); l != nil {
		l.Warn().Str("component", "go-redis").Msgf(format, v...)
	}
}

// newLogger builds the process logger from --log-level and --log-format.
func newLogger(cmd *cobra.Command) (zerolog.Logger, error) {
	levelName, _ := cmd.Flags().GetString("log-level")
	format, _ := cmd.Flags().GetString("log-format")
	level, err := zerolog.ParseLevel(levelName)
	if err != nil || levelName == "" {
		return zerolog.Nop(), usageErr("--log-level %q: must be one of debug, info, warn, error", levelName)
	}
	out := cmd.ErrOrStderr()
	_, toFile := out.(*os.File)
	pretty := format == "pretty"
	switch format {
	case "auto":
		f, ok := out.(*os.File)
		pretty = ok && isatty.IsTerminal(f.Fd())
	case "json", "pretty":
	default:
		return zerolog.Nop(), usageErr("--log-format %q: must be one of auto, json, pretty", format)
	}
	if pretty {
		out = zerolog.ConsoleWriter{Out: out, TimeFormat: "15:04:05.000", NoColor: !useColor(cmd, cmd.ErrOrStderr())}
	}
	host, _ := os.Hostname()
	l := zerolog.New(out).Level(level).With().Timestamp().Str("host", host).Logger()
	if toFile {
		// The process's own stderr: go-redis's global logger may write to
		// it from any goroutine. A command run with another writer (a test's
		// buffer) keeps go-redis's lines out of it.
		processLog.Store(&l)
	}
	return l, nil
}

// requireNoArgs is cobra.NoArgs with the usage exit code.
func requireNoArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErr("unexpected argument %q", args[0])
	}
	return nil
}

func mustString(cmd *cobra.Command, name string) string {
	v, err := cmd.Flags().GetString(name)
	if err != nil {
		panic(fmt.Sprintf("flag %s: %v", name, err)) // a programming error: the flag is not defined
	}
	return v
}
