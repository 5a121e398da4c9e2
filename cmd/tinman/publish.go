package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/tinmanhq/tinman/client"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/schemas"
)

// paramFlags maps each param flag to its JSON name in params.
var paramFlags = []struct{ flag, param string }{
	{"action", "action"}, {"hard-fallback", "hard_fallback"}, {"device", "device"}, {"persistent", "persistent"}, {"efi", "efi"},
	{"image", "image"}, {"boot", "boot"}, {"kind", "kind"}, {"selector", "selector"}, {"servers", "servers"},
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
			"  tinman publish -f request.json\n" +
			"  tinman publish --lines requests.jsonl",
		RunE: runPublish,
	}
	f := cmd.Flags()
	natsFlags(cmd)
	outputFlags(cmd)
	f.StringP("file", "f", "", "read the request from this JSON file (- for stdin)")
	f.String("lines", "", "publish every request of this file (- for stdin), one JSON request a line, all checked before the first is sent; prints their job ids")
	f.String("server", "", "target server id")
	f.String("id", "", "job id, the idempotency key (default: a new ULID)")
	f.String("priority", "", "critical, default or low")
	f.String("requested-by", "", "who asks (default: $USER)")
	f.Bool("wait", false, "follow the job to its end; the exit code says how it ended")
	f.Duration("wait-timeout", 30*time.Minute, "give up waiting after this long (exit 1)")
	f.String("action", "", "power: on, off, soft, cycle, reset, status")
	f.Bool("hard-fallback", false, "power soft: force the power off if the graceful shutdown does not take effect")
	f.String("device", "", "boot-device: pxe, disk, cdrom, bios")
	f.Bool("persistent", false, "boot-device: keep the device for every boot")
	f.Bool("efi", false, "boot-device: EFI boot")
	f.String("image", "", "provision, deploy: the catalogue image to install (tinman images list); deprovision: the one whose kernel boots the wiper")
	f.String("boot", "", "provision, deploy: how the server boots the installer: pxe (default) or virtual-media (Redfish)")
	f.String("kind", "", "bmc-reset: warm or cold")
	f.StringToString("selector", nil, "deploy: label selector k=v,...")
	f.StringSlice("servers", nil, "deploy: server ids")
	f.Int("batch-size", 0, "deploy: servers per batch")
	f.Int("max-failures", 0, "deploy: failures tolerated before the rollout halts")
	publishCompletions(cmd)
	return cmd
}

// publishCompletions completes the job type, the servers, the images and
// the enum params.
func publishCompletions(cmd *cobra.Command) {
	cmd.ValidArgsFunction = firstArg(fixedValues(enumNames(jobs.Types())))
	_ = cmd.RegisterFlagCompletionFunc("server", serverIDs)
	_ = cmd.RegisterFlagCompletionFunc("servers", serverIDs)
	_ = cmd.RegisterFlagCompletionFunc("image", imageNames)
	for _, e := range paramEnums {
		_ = cmd.RegisterFlagCompletionFunc(e.flag, fixedValues(e.values))
	}
}

func runPublish(cmd *cobra.Command, args []string) error {
	if lines := mustString(cmd, "lines"); lines != "" {
		return runPublishLines(cmd, args, lines)
	}
	o, err := newOutput(cmd)
	if err != nil {
		return err
	}
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
	pub, err := client.Publish(cmd.Context(), js, req)
	if err != nil {
		return unreachable(err)
	}
	if pub.Duplicate {
		fmt.Fprintf(cmd.ErrOrStderr(), "a request with id %s was already published: it is the same job\n", req.ID)
	}
	if wait, _ := cmd.Flags().GetBool("wait"); wait {
		o.note("%s", req.ID) // stdout is the events'
		return waitJob(cmd, js, client.JobRef{ID: req.ID, Server: req.Server, Since: start})
	}
	raw, _ := json.Marshal(client.Submitted{JobID: req.ID, State: jobs.StateSubmitted})
	return o.object(raw, func(w io.Writer) error {
		_, err := fmt.Fprintln(w, req.ID)
		return err
	})
}

// waitJob follows the published job to its end and turns the end into the
// exit code: 0 succeeded, 2 rejected, 1 otherwise.
func waitJob(cmd *cobra.Command, js jetstream.JetStream, job client.JobRef) error {
	end, err := followJobOn(cmd, js, job)
	switch {
	case err != nil:
		return err
	case end == jobs.StateSucceeded:
		return nil
	case end == jobs.StateRejected:
		return usageErr("job %s: request rejected", job.ID)
	}
	return failed(fmt.Errorf("job %s: tinman.job.%s", job.ID, end))
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
	v, err := schemas.New()
	if err != nil {
		return nil, req, fmt.Errorf("load schemas: %w", err)
	}
	raw, err := finishRequest(v, &req)
	if err != nil {
		return nil, req, usageErr("%v", err)
	}
	return raw, req, nil
}

// finishRequest fills a request's id and requested_by when missing and
// checks it as the dispatcher will (the JSON Schema, then the domain),
// returning it encoded; publish and publish --lines both finish theirs so.
func finishRequest(v *schemas.Validator, req *jobs.Request) ([]byte, error) {
	if req.ID == "" {
		req.ID = jobs.NewID(time.Now())
	}
	if req.RequestedBy == "" {
		req.RequestedBy = os.Getenv("USER")
	}
	raw, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	if err := v.Request(raw); err != nil {
		return nil, fmt.Errorf("invalid request: %w", err)
	}
	if _, err := jobs.DecodeRequest(raw); err != nil {
		return nil, fmt.Errorf("invalid request: %w", err)
	}
	return raw, nil
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
		return jobs.Request{}, unknownValue("job type", typ, enumNames(jobs.Types()))
	}
	if err := checkParamEnums(cmd); err != nil {
		return jobs.Request{}, err
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

// checkParamEnums refuses a param flag whose value is none of its list,
// naming the nearest.
func checkParamEnums(cmd *cobra.Command) error {
	for _, e := range paramEnums {
		if cmd.Flags().Changed(e.flag) {
			if err := checkValue(e.what, mustString(cmd, e.flag), e.values); err != nil {
				return err
			}
		}
	}
	return nil
}
