package main

import (
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/servicetest"
)

// completions runs cobra's hidden __complete as a shell does and returns
// the values offered (the directive line left out) and stderr.
func completions(t *testing.T, args ...string) ([]string, string) {
	t.Helper()
	code, out, errOut := tinman(t, 30*time.Second, append([]string{"__complete"}, args...)...)
	if code != exitOK {
		t.Fatalf("__complete %v: exit %d, stderr %q", args, code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], ":") {
		t.Fatalf("__complete %v: no directive line: %q", args, out)
	}
	var values []string
	for _, l := range lines[:len(lines)-1] {
		value, _, _ := strings.Cut(l, "\t") // the description
		values = append(values, value)
	}
	return values, errOut
}

// Dynamic completion asks a real in-process Tinman for server ids, job ids
// and image names; enum values come from the command's lists.
func TestCompletion(t *testing.T) {
	t.Parallel()
	redisURL, _ := servicetest.Redis(t)
	o := operator{t, startDev(t, redisURL, 10)}
	o.ok("publish", "power", "--server", "sim-02", "--action", "status", "--id", "done-1", "--wait")
	api := []string{"--api-url=" + o.s.dev.apiURL, "--token=" + o.s.dev.token}
	tests := []struct {
		args []string
		want []string // in this order, among what is offered
	}{
		{append([]string{"servers", "show"}, append(api, "")...), []string{"sim-01", "sim-02", "sim-09", "sim-10"}},
		{append([]string{"jobs", "show"}, append(api, "")...), []string{"done-1"}},
		{append([]string{"jobs", "cancel"}, append(api, "")...), []string{"done-1"}},
		{append([]string{"images", "show"}, append(api, "")...), []string{"debian-13", "ubuntu-24.04"}},
		{append([]string{"jobs", "list"}, append(api, "--server", "")...), []string{"sim-01", "sim-10"}},
		{append([]string{"deploy"}, append(api, "--image", "")...), []string{"debian-13", "ubuntu-24.04"}},
		{[]string{"jobs", "list", "--state", ""}, []string{"queued", "running", "failed"}},
		{[]string{"jobs", "list", "--type", ""}, []string{"power", "provision", "deploy"}},
		{[]string{"servers", "list", "-o", ""}, []string{"table", "json", "yaml"}},
		{[]string{"watch", "--output", ""}, []string{"table", "json", "yaml"}},
		{[]string{"watch", "--type", ""}, []string{"job.failed"}},
		{[]string{"publish", ""}, []string{"power", "boot-device", "provision"}},
		{[]string{"publish", "power", "--action", ""}, []string{"on", "off", "cycle"}},
		{[]string{"publish", "provision", "--boot", ""}, []string{"pxe", "virtual-media"}},
		{[]string{"servers", "add", "x", "--provider", ""}, []string{"redfish", "ipmi"}},
	}
	if got, _ := completions(t, append([]string{"servers", "remove"}, append(api, "sim-1")...)...); len(got) != 1 || got[0] != "sim-10" {
		t.Errorf("complete servers remove sim-1: %v, want sim-10 alone", got)
	}
	for _, tt := range tests {
		got, _ := completions(t, tt.args...)
		if !inOrder(got, tt.want) {
			t.Errorf("complete %v: %v, want %v among them, in that order", tt.args, got, tt.want)
		}
	}
	// A command of one id completes no second one.
	if got, _ := completions(t, append([]string{"servers", "show", "sim-01"}, append(api, "")...)...); len(got) != 0 {
		t.Errorf("complete a second server id: %v, want nothing", got)
	}
}

// With the API down, completion offers nothing and says nothing.
func TestCompletionIsSilentWithoutTheAPI(t *testing.T) {
	t.Parallel()
	down := []string{"--api-url=http://127.0.0.1:1", "--token=x"}
	for _, args := range [][]string{
		append([]string{"servers", "show"}, append(down, "")...),
		append([]string{"jobs", "show"}, append(down, "")...),
		append([]string{"images", "remove"}, append(down, "")...),
		append([]string{"jobs", "list"}, append(down, "--server", "")...),
	} {
		got, errOut := completions(t, args...)
		if len(got) != 0 || strings.Contains(errOut, "tinman:") || strings.Contains(strings.ToLower(errOut), "error") {
			t.Errorf("complete %v with the API down: %v, stderr %q; want nothing", args, got, errOut)
		}
	}
}

// tinman completion writes each shell's script.
func TestCompletionScripts(t *testing.T) {
	t.Parallel()
	for shell, says := range map[string]string{"bash": "__start_tinman", "zsh": "#compdef tinman", "fish": "complete -c tinman"} {
		code, out, errOut := tinman(t, 10*time.Second, "completion", shell)
		if code != exitOK || !strings.Contains(out, says) {
			t.Errorf("completion %s: exit %d, stderr %q, no %q in the script", shell, code, errOut, says)
		}
	}
}

// Did you mean: an unknown command or enum value names the nearest one.
func TestDidYouMean(t *testing.T) {
	t.Parallel()
	nowhere := "--nats-url=nats://127.0.0.1:1"
	tests := []struct {
		args []string
		says string
	}{
		{[]string{"servrs"}, `unknown command "servrs" for "tinman": did you mean "servers"?`},
		{[]string{"servers", "lsit"}, `unknown command "lsit" for "tinman servers": did you mean "list"?`},
		{[]string{"jobs", "wacth", "x"}, `unknown command "wacth" for "tinman jobs": did you mean "watch"?`},
		{[]string{"jobs", "list", "--state", "faild"}, `unknown job state (--state) "faild": did you mean "failed"?`},
		{[]string{"jobs", "list", "--type", "provison"}, `unknown job type (--type) "provison": did you mean "provision"?`},
		{[]string{"jobs", "list", "--state", "bogus"}, `unknown job state (--state) "bogus": must be one of queued, running`},
		{[]string{"publish", "provison", "--server", "sim-01", nowhere}, `unknown job type "provison": did you mean "provision"?`},
		{[]string{"publish", "power", "--server", "sim-01", "--action", "cycel", nowhere}, `unknown power action (--action) "cycel": did you mean "cycle"?`},
		{[]string{"publish", "provision", "--server", "sim-01", "--boot", "virtual-medai", nowhere}, `unknown boot method (--boot) "virtual-medai": did you mean "virtual-media"?`},
		{[]string{"servers", "list", "-o", "yml"}, `unknown output format (-o) "yml": did you mean "yaml"?`},
		{[]string{"watch", "--type", "job.faild", nowhere}, `unknown event type (--type) "job.faild": did you mean "job.failed"?`},
	}
	for _, tt := range tests {
		code, _, errOut := tinman(t, 10*time.Second, tt.args...)
		if code != exitUsage || !strings.Contains(errOut, tt.says) {
			t.Errorf("tinman %s: exit %d, stderr %q; want exit 2 saying %q", strings.Join(tt.args, " "), code, errOut, tt.says)
		}
	}
}

// inOrder reports whether want are all in got, in the same order.
func inOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}
