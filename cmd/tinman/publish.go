package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/schemas"
	"github.com/tinmanhq/tinman/submit"
)

// paramFlags maps each param flag to its JSON name in params.
var paramFlags = []struct{ flag, param string }{
	{"action", "action"}, {"hard-fallback", "hard_fallback"}, {"device", "device"}, {"persistent", "persistent"}, {"efi", "efi"},
	{"image", "image"}, {"kind", "kind"}, {"selector", "selector"}, {"servers", "servers"},
	{"batch-size", "batch_size"}, {"max-failures", "max_failures"},
}

func newPublishCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "publish TYPE --server ID [params] | publish -f request.json",
		Short: "Publish a job request and print its job id",
		Long: "Publishes a request on tinman.requests.<type>, waits for JetStream's ack and prints the job id.\n" +
			"With --wait it follows the job's events to the end: exit 0 when it succeeded, 1 when it failed.",
		Example: "  tinman publish power --server sim-03 --action cycle --wait\n" +
			"  tinman publish boot-device --server sim-01 --device pxe --persistent\n" +
			"  tinman publish -f request.json",
		RunE: runPublish,
	}
	f := cmd.Flags()
	clientFlags(cmd)
	f.StringP("file", "f", "", "read the request from this JSON file (- for stdin)")
	f.String("server", "", "target server id")
	f.String("id", "", "job id, the idempotency key (default: a new ULID)")
	f.String("priority", "", "critical, default or low")
	f.String("requested-by", "", "who asks (default: $USER)")
	f.Bool("wait", false, "follow the job to its end; the exit code says how it ended")
	f.Duration("wait-timeout", 30*time.Minute, "give up waiting after this long (exit 1)")
	f.Bool("json", false, "with --wait, print events as CloudEvents JSON lines")
	f.String("action", "", "power: on, off, soft, cycle, reset, status")
	f.Bool("hard-fallback", false, "power soft: force the power off if the graceful shutdown does not take effect")
	f.String("device", "", "boot-device: pxe, disk, cdrom, bios")
	f.Bool("persistent", false, "boot-device: keep the device for every boot")
	f.Bool("efi", false, "boot-device: EFI boot")
	f.String("image", "", "provision, deploy: the OS image")
	f.String("kind", "", "bmc-reset: warm or cold")
	f.StringToString("selector", nil, "deploy: label selector k=v,...")
	f.StringSlice("servers", nil, "deploy: server ids")
	f.Int("batch-size", 0, "deploy: servers per batch")
	f.Int("max-failures", 0, "deploy: failures tolerated before the rollout halts")
	return cmd
}

// publishAckTimeout bounds the wait for JetStream's ack of a published request.
const publishAckTimeout = 10 * time.Second

func runPublish(cmd *cobra.Command, args []string) error {
	_, req, err := buildRequest(cmd, args)
	if err != nil {
		return err
	}
	nc, js, err := connectJetStream(cmd)
	if err != nil {
		return err
	}
	defer nc.Close()
	start := time.Now()
	// No submitted record: a NATS client has no Redis. The dispatcher's
	// rejection event says what became of a refused request.
	sub, err := submit.New(js, submit.Config{Timeout: publishAckTimeout})
	if err != nil {
		return err
	}
	duplicate, err := sub.Publish(cmd.Context(), req)
	if err != nil {
		return unreachable(err)
	}
	out := cmd.OutOrStdout()
	if duplicate {
		fmt.Fprintf(cmd.ErrOrStderr(), "a request with id %s was already published: it is the same job\n", req.ID)
	}
	fmt.Fprintln(out, req.ID)
	if wait, _ := cmd.Flags().GetBool("wait"); wait {
		return waitJob(cmd, js, req, start)
	}
	return nil
}

// buildRequest reads -f or the flags, fills id and requested_by, and
// validates the request here, so that bad input is exit 2 before any I/O.
func buildRequest(cmd *cobra.Command, args []string) ([]byte, jobs.Request, error) {
	var req jobs.Request
	file := mustString(cmd, "file")
	switch {
	case file != "" && len(args) > 0:
		return nil, req, usageErr("give either TYPE and flags or -f FILE, not both")
	case file != "":
		data, err := readFile(cmd, file)
		if err != nil {
			return nil, req, err
		}
		if err := json.Unmarshal(data, &req); err != nil {
			return nil, req, usageErr("%s: not a JSON request: %v", file, err)
		}
	case len(args) != 1:
		return nil, req, usageErr("publish needs one job TYPE (%s) or -f FILE", joinTypeNames())
	default:
		var err error
		if req, err = requestFromFlags(cmd, args[0]); err != nil {
			return nil, req, err
		}
	}
	if id := mustString(cmd, "id"); id != "" {
		req.ID = id
	}
	if req.ID == "" {
		req.ID = jobs.NewID(time.Now())
	}
	if req.RequestedBy == "" {
		req.RequestedBy = os.Getenv("USER")
	}
	raw, err := json.Marshal(req)
	if err != nil {
		return nil, req, fmt.Errorf("encode request: %w", err)
	}
	return raw, req, validateRequest(raw)
}

func validateRequest(raw []byte) error {
	v, err := schemas.New()
	if err != nil {
		return fmt.Errorf("load schemas: %w", err)
	}
	if err := v.Request(raw); err != nil {
		return usageErr("invalid request: %v", err)
	}
	if _, err := jobs.DecodeRequest(raw); err != nil {
		return usageErr("invalid request: %v", err)
	}
	return nil
}

func readFile(cmd *cobra.Command, name string) ([]byte, error) {
	var r io.Reader = cmd.InOrStdin()
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, usageErr("read request: %v", err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, jobs.MaxRequestSize+1))
	if err != nil {
		return nil, usageErr("read request: %v", err)
	}
	return data, nil
}

func requestFromFlags(cmd *cobra.Command, typ string) (jobs.Request, error) {
	t, err := jobs.ParseType(typ)
	if err != nil {
		return jobs.Request{}, usageErr("job type %q: %v", typ, err)
	}
	req := jobs.Request{Type: t, Server: mustString(cmd, "server"), Priority: jobs.Priority(mustString(cmd, "priority")),
		RequestedBy: mustString(cmd, "requested-by")}
	params := map[string]any{}
	for _, pf := range paramFlags {
		f := cmd.Flags().Lookup(pf.flag)
		if f.Changed {
			params[pf.param] = flagValue(cmd.Flags(), f)
		}
	}
	if len(params) > 0 {
		req.Params, _ = json.Marshal(params)
	}
	return req, nil
}

func flagValue(fs *pflag.FlagSet, f *pflag.Flag) any {
	switch f.Value.Type() {
	case "bool":
		v, _ := fs.GetBool(f.Name)
		return v
	case "int":
		v, _ := fs.GetInt(f.Name)
		return v
	case "stringToString":
		v, _ := fs.GetStringToString(f.Name)
		return v
	case "stringSlice":
		v, _ := fs.GetStringSlice(f.Name)
		return v
	}
	return f.Value.String()
}

func joinTypeNames() string {
	s := ""
	for i, t := range jobs.Types() {
		if i > 0 {
			s += ", "
		}
		s += string(t)
	}
	return s
}

// waitJob follows the job's events from just before it was published until
// it ends, and turns the end into the exit code.
func waitJob(cmd *cobra.Command, js jetstream.JetStream, req jobs.Request, published time.Time) error {
	timeout, _ := cmd.Flags().GetDuration("wait-timeout")
	asJSON, _ := cmd.Flags().GetBool("json")
	ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
	defer cancel()
	out := cmd.OutOrStdout()
	color := isTerminal(out)
	var last events.Type
	f := events.Filter{Server: events.ServerToken(req.Server), Job: req.ID, Since: time.Since(published) + 2*time.Second}
	err := events.NewWatcher(js).Watch(ctx, f, func(d events.Delivered) error {
		printEvent(out, d.Event, asJSON, color)
		if d.Type.Terminal() || d.Type == events.RequestRejected {
			last = d.Type
			return events.ErrStopWatching
		}
		return nil
	})
	switch {
	case err != nil && ctx.Err() == nil:
		return unreachable(fmt.Errorf("follow job %s: %w", req.ID, err))
	case last == events.JobSucceeded:
		return nil
	case last == events.RequestRejected:
		return usageErr("job %s: request rejected", req.ID)
	case last != "":
		return failed(fmt.Errorf("job %s: %s", req.ID, last))
	case cmd.Context().Err() != nil:
		return failed(fmt.Errorf("job %s: stopped waiting", req.ID))
	}
	return failed(fmt.Errorf("job %s: no end after %s", req.ID, timeout))
}

func printEvent(out io.Writer, ev events.Event, asJSON, color bool) {
	if asJSON {
		data, _ := json.Marshal(ev)
		fmt.Fprintln(out, string(data))
		return
	}
	fmt.Fprintln(out, formatEvent(ev, color))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}
