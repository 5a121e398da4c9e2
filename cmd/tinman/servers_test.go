package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/api"
	"github.com/tinmanhq/tinman/client"
	"github.com/tinmanhq/tinman/servicetest"
)

// operator runs operator commands against one running dev system.
type operator struct {
	t *testing.T
	s *system
}

// args are the flags that point the command of cmdArgs at the dev system:
// those of --api-url, --token and --nats-url that it has.
func (o operator) args(cmdArgs []string) []string {
	all := map[string]string{"api-url": o.s.dev.apiURL, "token": o.s.dev.token, "nats-url": o.s.dev.natsURL}
	cmd, _, err := newRoot(nil, io.Discard, io.Discard).Find(cmdArgs)
	var out []string
	for _, name := range []string{"api-url", "token", "nats-url"} {
		if err == nil && cmd.Flags().Lookup(name) != nil {
			out = append(out, "--"+name+"="+all[name])
		}
	}
	return out
}

// run runs a command with an empty stdin.
func (o operator) run(args ...string) (int, string, string) {
	o.t.Helper()
	return o.runIn("", args...)
}

// runIn runs a command with stdin and the dev system's flags.
func (o operator) runIn(stdin string, args ...string) (int, string, string) {
	o.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, append(args, o.args(args)...), strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// ok runs a command that must exit 0 and returns its stdout.
func (o operator) ok(args ...string) string {
	o.t.Helper()
	code, out, errOut := o.run(args...)
	if code != exitOK {
		o.t.Fatalf("tinman %s: exit %d, stderr %q, stdout %q", strings.Join(args, " "), code, errOut, out)
	}
	return out
}

// decode runs a command with -o json that must exit 0 and decodes its output.
func decodeOutput[T any](t *testing.T, o operator, args ...string) T {
	t.Helper()
	var v T
	out := o.ok(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("tinman %s -o json: %v\n%s", strings.Join(args, " "), err, out)
	}
	return v
}

// exitCase is a command and the exit code and words it must give.
type exitCase struct {
	name string
	args []string
	want int
	says string
}

func (o operator) check(tests []exitCase) {
	o.t.Helper()
	for _, tt := range tests {
		code, out, errOut := o.run(tt.args...)
		if code != tt.want || !strings.Contains(out+errOut, tt.says) {
			o.t.Errorf("%s: tinman %s: exit %d (want %d), stdout %q, stderr %q, want it to say %q",
				tt.name, strings.Join(tt.args, " "), code, tt.want, out, errOut, tt.says)
		}
	}
}

func TestServersEnrolListShowUpdateRemove(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	o := operator{t, startDev(t, redisURL, 2)}
	const secret = "s3cret-Pa55"

	// Enrol with the password from stdin: printed without it.
	code, out, errOut := o.runIn(secret+"\n", "servers", "add", "web-01", "--bmc-address", "127.0.0.1:9", "--provider", "redfish",
		"--username", "admin", "--password-stdin", "--label", "role=web", "--label", "rack=r9")
	if code != exitOK || !strings.Contains(out, "web-01") || !strings.Contains(out, "enrolled") {
		t.Fatalf("servers add: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if strings.Contains(out+errOut, secret) {
		t.Errorf("servers add printed the password:\n%s%s", out, errOut)
	}

	// --password on the command line: a warning, and -o json has no credentials.
	code, out, errOut = o.run("servers", "add", "db-01", "--bmc-address", "127.0.0.1:10", "--provider", "ipmi",
		"--username", "root", "--password", secret, "--cipher-suite", "17", "--label", "role=db", "-o", "json")
	if code != exitOK || !strings.Contains(errOut, "prefer --password-stdin") {
		t.Fatalf("servers add --password: exit %d, stderr %q", code, errOut)
	}
	var added map[string]any
	if err := json.Unmarshal([]byte(out), &added); err != nil || added["id"] != "db-01" {
		t.Fatalf("servers add -o json = %q (%v)", out, err)
	}
	if strings.Contains(out, secret) || strings.Contains(out, "password") || strings.Contains(out, "username") {
		t.Errorf("servers add -o json shows credentials:\n%s", out)
	}

	// list: a table by default, the API's JSON with -o json, a selector.
	out = o.ok("servers", "list", "--selector", "role=web")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[0], "MAINTENANCE") ||
		!strings.HasPrefix(lines[1], "web-01 ") || !strings.Contains(lines[1], "rack=r9,role=web") {
		t.Errorf("servers list --selector role=web:\n%s", out)
	}
	all := decodeOutput[api.ServerList](t, o, "servers", "list")
	if len(all.Servers) != 4 {
		t.Errorf("servers list -o json: %d servers, want 4 (2 sims, web-01, db-01)", len(all.Servers))
	}
	if out := o.ok("servers", "list", "--selector", "fleet=sim"); strings.Count(out, "sim-0") != 2 || strings.Contains(out, "web-01") {
		t.Errorf("servers list --selector fleet=sim:\n%s", out)
	}

	// show: state, power and maintenance, never credentials.
	out = o.ok("servers", "show", "web-01")
	for _, want := range []string{"State:", "enrolled", "Power:", "Maintenance:  no", "redfish 127.0.0.1:9", "rack=r9,role=web"} {
		if !strings.Contains(out, want) {
			t.Errorf("servers show lacks %q:\n%s", want, out)
		}
	}
	shown := decodeOutput[map[string]any](t, o, "servers", "show", "db-01")
	for _, key := range []string{"state", "power_state"} {
		if _, ok := shown[key]; !ok {
			t.Errorf("servers show -o json lacks %q: %v", key, shown)
		}
	}

	// update: labels and maintenance.
	o.ok("servers", "update", "web-01", "--label", "tier=gold", "--remove-label", "rack", "--maintenance", "disk swap")
	upd := decodeOutput[client.Server](t, o, "servers", "show", "web-01")
	if upd.Labels["tier"] != "gold" || upd.Labels["rack"] != "" || upd.Maintenance == nil || upd.Maintenance.Reason != "disk swap" {
		t.Errorf("after update: labels %v, maintenance %+v", upd.Labels, upd.Maintenance)
	}
	if out := o.ok("servers", "list", "--selector", "tier=gold"); !strings.Contains(out, "disk swap") {
		t.Errorf("servers list does not show the maintenance reason:\n%s", out)
	}
	o.ok("servers", "update", "web-01", "--clear-maintenance")
	if upd := decodeOutput[client.Server](t, o, "servers", "show", "web-01"); upd.Maintenance != nil {
		t.Errorf("maintenance not cleared: %+v", upd.Maintenance)
	}
	code, _, _ = o.runIn("n3w-pass\n", "servers", "update", "db-01", "--password-stdin", "--username", "admin2")
	if code != exitOK {
		t.Errorf("servers update --password-stdin: exit %d", code)
	}

	// remove.
	if out := o.ok("servers", "remove", "web-01"); !strings.Contains(out, "web-01 removed") {
		t.Errorf("servers remove said %q", out)
	}

	o.check([]exitCase{
		{"removed server", []string{"servers", "show", "web-01"}, exitUsage, "404 Not Found"},
		{"remove unknown", []string{"servers", "remove", "web-01"}, exitUsage, "not enrolled"},
		{"enrol twice", []string{"servers", "add", "db-01", "--bmc-address", "h", "--provider", "ipmi", "--username", "u", "--password", "p"}, exitUsage, "409 Conflict"},
		{"bad provider", []string{"servers", "add", "x-01", "--bmc-address", "h", "--provider", "snmp", "--username", "u", "--password", "p"}, exitUsage, "bmc.provider (--provider): must be one of redfish, ipmi"},
		{"bad label", []string{"servers", "add", "x-01", "--bmc-address", "h", "--provider", "ipmi", "--username", "u", "--password", "p", "--label", "k=a b"}, exitUsage, "(--label)"},
		{"bad id", []string{"servers", "add", "X_01", "--bmc-address", "h", "--provider", "ipmi", "--username", "u", "--password", "p"}, exitUsage, "id (ID): must match"},
		{"no username", []string{"servers", "add", "x-01", "--bmc-address", "h", "--provider", "ipmi", "--password", "p"}, exitUsage, "--username is required"},
		{"no password", []string{"servers", "add", "x-01", "--bmc-address", "h", "--provider", "ipmi", "--username", "u"}, exitUsage, "--password or --password-stdin is required"},
		{"empty stdin", []string{"servers", "add", "x-01", "--bmc-address", "h", "--provider", "ipmi", "--username", "u", "--password-stdin"}, exitUsage, "stdin holds no password"},
		{"bad selector", []string{"servers", "list", "--selector", "rack"}, exitUsage, "selector (--selector): must be KEY=VALUE"},
		{"bad output", []string{"servers", "list", "-o", "xml"}, exitUsage, `unknown output format (-o) "xml": must be one of table, json, yaml`},
		{"no id", []string{"servers", "show"}, exitUsage, "needs one server ID"},
		{"nothing to change", []string{"servers", "update", "db-01"}, exitUsage, "nothing to change"},
		{"both maintenance flags", []string{"servers", "update", "db-01", "--maintenance", "x", "--clear-maintenance"}, exitUsage, "not both"},
		{"empty maintenance", []string{"servers", "update", "db-01", "--maintenance", ""}, exitUsage, "maintenance.reason (--maintenance)"},
		{"unknown flag", []string{"servers", "list", "--colour"}, exitUsage, "unknown flag"},
	})
	if code, _, errOut := tinman(t, 10*time.Second, "servers", "explode"); code != exitUsage || !strings.Contains(errOut, "unknown command") {
		t.Errorf("servers explode: exit %d, %q; want a usage error", code, errOut)
	}
	code, _, errOut = tinman(t, 10*time.Second, "servers", "list", "--api-url", o.s.dev.apiURL, "--token", "nope")
	if code != exitUsage || !strings.Contains(errOut, "401 Unauthorized") || !strings.Contains(errOut, "the token from --token was refused") {
		t.Errorf("servers list with a wrong token: exit %d, %q; want exit 2 about the token", code, errOut)
	}
}

func TestServersUnreachableAPI(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"servers", "list"},
		{"servers", "show", "sim-01"},
		{"servers", "remove", "sim-01"},
		{"servers", "update", "sim-01", "--clear-maintenance"},
	} {
		code, out, errOut := tinman(t, 30*time.Second, append(args, "--api-url", "http://127.0.0.1:1", "--token", "t")...)
		if code != exitUnreachable || !strings.Contains(errOut, "reach the API at http://127.0.0.1:1") {
			t.Errorf("tinman %s against a closed port: exit %d, stdout %q, stderr %q; want exit 3", strings.Join(args, " "), code, out, errOut)
		}
	}
	code, _, errOut := tinman(t, 5*time.Second, "servers", "list", "--api-url", "ftp://example.com")
	if code != exitUsage || !strings.Contains(errOut, "--api-url") {
		t.Errorf("--api-url ftp://: exit %d, %q; want a usage error", code, errOut)
	}
}
