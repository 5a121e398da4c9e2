package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
)

// dataCommand is how the test runs one command that prints data against a
// dev system: args(n) is its nth command line (fresh ids where it
// changes something), stream whether it prints a stream of events.
type dataCommand struct {
	path   string
	args   func(n int) []string
	stream bool
	stdin  string
	want   int           // the exit code
	stop   time.Duration // for a command that runs until stopped: how long it runs
}

// dataCommands is every command with -o, and how to run it. The test
// fails when a command of the tree has -o and is not here.
func dataCommands(o operator) []dataCommand {
	fixed := func(args ...string) func(int) []string { return func(int) []string { return args } }
	held := func(n int) string { return fmt.Sprintf("held-%d", n) } // a parked provision (heldOn)
	return []dataCommand{
		{path: "tinman servers list", args: fixed("servers", "list")},
		{path: "tinman servers show", args: fixed("servers", "show", "sim-01")},
		{path: "tinman servers add", stdin: "pw\n", args: func(n int) []string {
			return []string{"servers", "add", fmt.Sprintf("web-%d", n), "--bmc-address", "127.0.0.1:9", "--provider", "redfish", "--username", "u", "--password-stdin"}
		}},
		{path: "tinman servers update", args: func(n int) []string {
			return []string{"servers", "update", "sim-01", "--label", fmt.Sprintf("n=%d", n)}
		}},
		{path: "tinman images list", args: fixed("images", "list")},
		{path: "tinman images show", args: fixed("images", "show", "ubuntu-24.04")},
		{path: "tinman images add", args: func(n int) []string {
			return []string{"images", "add", fmt.Sprintf("img-%d", n), "--kernel-url", "k/vmlinuz", "--initrd-url", "k/initrd",
				"--image-url", "https://images.example.com/x.img", "--sha256", strings.Repeat("ab", 32)}
		}},
		{path: "tinman status", args: fixed("status")},
		{path: "tinman jobs list", args: fixed("jobs", "list")},
		{path: "tinman jobs show", args: fixed("jobs", "show", "status-1")},
		{path: "tinman jobs watch", args: fixed("jobs", "watch", "status-1"), stream: true},
		{path: "tinman jobs cancel", args: func(n int) []string { return []string{"jobs", "cancel", held(n)} }},
		{path: "tinman jobs cancel", args: func(n int) []string { return []string{"jobs", "cancel", held(10 + n), "--wait"} }, stream: true},
		{path: "tinman publish", args: func(int) []string { return []string{"publish", "power", "--server", "sim-02", "--action", "status"} }},
		{path: "tinman publish", args: fixed("publish", "power", "--server", "sim-02", "--action", "status", "--wait"), stream: true},
		{path: "tinman deploy", want: exitFailed, args: func(n int) []string {
			return []string{"deploy", "--image", "debian-13", "--servers", fmt.Sprintf("sim-%02d", 11+n), "--wait"}
		}, stream: true},
		{path: "tinman deploy", args: func(n int) []string {
			return []string{"deploy", "--image", "debian-13", "--servers", fmt.Sprintf("sim-%02d", 14+n)}
		}},
		{path: "tinman watch", args: fixed("watch", "--job", "status-1", "--since", "1h"), stream: true, stop: 3 * time.Second},
	}
}

// The output conventions, over every command that prints data: -o json is
// one pretty JSON object, or one compact object a line when streaming (no
// bare id first); -o yaml is YAML; --jq is applied to each object; a bad
// -o or --jq is exit 2 naming it.
func TestEveryDataCommandPrintsJSONYAMLAndJQ(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	o := operator{t, startDevWith(t, redisURL, 16, func(c *devConfig) {
		c.Worker.WaitPoll = 200 * time.Millisecond // the deploys see their children's end at once
		c.InstallerDelay = time.Hour               // the provisions stay parked, to be canceled
	})}
	setupDataCommands(t, o)
	if out := o.ok("status"); !strings.Contains(out, "QUEUE") || !strings.Contains(out, "Outbox backlog:") {
		t.Errorf("status as a table:\n%s", out)
	}
	cases := dataCommands(o)
	checkEveryDataCommandIsTested(t, cases)
	modes := [][]string{{"-o", "json"}, {"-o", "yaml"}, {"--jq", "type"}}
	for _, c := range cases {
		for i, mode := range modes {
			args := append(c.args(i), mode...)
			code, out, errOut := runData(o, c, args)
			if code != c.want {
				t.Errorf("tinman %s: exit %d, want %d; stdout %q, stderr %q", strings.Join(args, " "), code, c.want, out, errOut)
				continue
			}
			if err := checkData(mode, out, c.stream); err != nil {
				t.Errorf("tinman %s: %v; stdout:\n%s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
			}
		}
		checkBadOutputFlags(t, o, c)
	}
}

// heldOn are the servers of the parked provisions held-N the test cancels.
var heldOn = map[int]string{0: "sim-03", 1: "sim-04", 2: "sim-05", 10: "sim-06", 11: "sim-07", 12: "sim-08"}

// setupDataCommands makes what the commands read: an ended job
// (status-1), parked provisions to cancel (heldOn) and servers whose
// deploys fail at once (sim-11 to sim-13).
func setupDataCommands(t *testing.T, o operator) {
	t.Helper()
	o.ok("publish", "power", "--server", "sim-02", "--action", "status", "--id", "status-1", "--wait")
	for n, server := range heldOn {
		o.ok("publish", "provision", "--server", server, "--image", "ubuntu-24.04", "--id", fmt.Sprintf("held-%d", n))
		waitServerState(t, o, server, jobs.ServerProvisioning)
	}
	for _, id := range []string{"sim-11", "sim-12", "sim-13"} {
		o.s.sim(t, id).Faults().SetAuthFailure(true)
	}
}

// runData runs a case's command line, stopped after c.stop when it has one.
func runData(o operator, c dataCommand, args []string) (int, string, string) {
	o.t.Helper()
	if c.stop == 0 {
		return o.runIn(c.stdin, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.stop)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, append(args, o.args(args)...), strings.NewReader(c.stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// checkData checks that out is what mode prints.
func checkData(mode []string, out string, stream bool) error {
	switch {
	case mode[0] == "--jq":
		return checkLines(out, func(line string) error {
			if line != "object" {
				return fmt.Errorf("--jq type printed %q, want object for each object", line)
			}
			return nil
		})
	case mode[1] == "yaml":
		return checkYAML(out)
	case stream:
		return checkLines(out, func(line string) error {
			var v map[string]any
			if strings.HasPrefix(line, " ") || json.Unmarshal([]byte(line), &v) != nil {
				return fmt.Errorf("line %q is not one compact JSON object", line)
			}
			return nil
		})
	}
	var v map[string]any
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("more than one JSON value")
	}
	if !strings.HasPrefix(out, "{\n  \"") {
		return errors.New("one object, not indented")
	}
	return nil
}

// checkLines checks each line of out, and that there is at least one.
func checkLines(out string, check func(string) error) error {
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	n := 0
	for ; sc.Scan(); n++ {
		if err := check(sc.Text()); err != nil {
			return err
		}
	}
	if n == 0 {
		return errors.New("nothing printed")
	}
	return sc.Err()
}

// checkYAML checks that out is YAML documents, each a mapping.
func checkYAML(out string) error {
	dec := yaml.NewDecoder(strings.NewReader(out))
	n := 0
	for ; ; n++ {
		var v map[string]any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil || v == nil {
			return fmt.Errorf("document %d is not a YAML mapping: %v", n, err)
		}
	}
	if n == 0 {
		return errors.New("no YAML document")
	}
	return nil
}

// checkBadOutputFlags checks that a format that is not one, or a jq
// expression that does not compile, is exit 2 naming it.
func checkBadOutputFlags(t *testing.T, o operator, c dataCommand) {
	t.Helper()
	for _, tt := range []struct {
		flags []string
		says  string
	}{
		{[]string{"-o", "jsn"}, `unknown output format (-o) "jsn": did you mean "json"?`},
		{[]string{"--jq", ".state | ["}, `--jq ".state | ["`},
	} {
		args := append(c.args(99), tt.flags...)
		code, out, errOut := runData(o, c, args)
		if code != exitUsage || !strings.Contains(errOut, tt.says) || out != "" {
			t.Errorf("tinman %s: exit %d, stdout %q, stderr %q; want exit 2 saying %q", strings.Join(args, " "), code, out, errOut, tt.says)
		}
	}
}

// checkEveryDataCommandIsTested fails for a command with -o that
// dataCommands does not run.
func checkEveryDataCommandIsTested(t *testing.T, cases []dataCommand) {
	t.Helper()
	for _, cmd := range commandTree(newRoot(nil, io.Discard, io.Discard)) {
		tested := slices.ContainsFunc(cases, func(c dataCommand) bool { return c.path == cmd.CommandPath() })
		if cmd.Flags().Lookup("output") != nil && !tested {
			t.Errorf("%s has -o but the output test does not run it", cmd.CommandPath())
		}
	}
}
