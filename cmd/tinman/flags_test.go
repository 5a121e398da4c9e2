package main

import (
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The flag groups of the client commands.
var (
	everyFlag      = []string{"config", "no-color"} // the root's, on every command
	apiFlagSet     = []string{"api-url", "token", "api-timeout"}
	natsFlagSet    = []string{"nats-url", "nats-creds", "nats-user", "nats-password", "nats-token", "nats-ca", "nats-cert", "nats-key"}
	outFlagSet     = []string{"output", "jq", "json"}
	waitFlagSet    = append([]string{"wait", "wait-timeout"}, natsFlagSet...)
	serviceFlagSet = []string{"log-level", "log-format", "redis-url"}
)

// clientCommandFlags is every flag each client command has, beside
// everyFlag: what its --help lists is what it reads.
var clientCommandFlags = map[string][][]string{
	"tinman":                       nil,
	"tinman completion":            nil,
	"tinman completion bash":       {{"no-descriptions"}},
	"tinman completion fish":       {{"no-descriptions"}},
	"tinman completion powershell": {{"no-descriptions"}},
	"tinman completion zsh":        {{"no-descriptions"}},
	"tinman version":               nil,
	"tinman publish":               {natsFlagSet, outFlagSet, {"wait", "wait-timeout", "file", "lines", "server", "id", "priority", "requested-by", "action", "hard-fallback", "device", "persistent", "efi", "image", "boot", "kind", "selector", "servers", "batch-size", "max-failures"}},
	"tinman watch":                 {natsFlagSet, outFlagSet, {"server", "job", "type", "since"}},
	"tinman deploy":                {apiFlagSet, waitFlagSet, outFlagSet, {"image", "selector", "servers", "batch-size", "max-failures", "id", "priority"}},
	"tinman servers":               nil,
	"tinman servers add":           {apiFlagSet, outFlagSet, {"bmc-address", "provider", "username", "password", "password-stdin", "cipher-suite", "verify-tls", "label", "site", "boot-mac"}},
	"tinman servers list":          {apiFlagSet, outFlagSet, {"selector"}},
	"tinman servers show":          {apiFlagSet, outFlagSet},
	"tinman servers update":        {apiFlagSet, outFlagSet, {"label", "remove-label", "bmc-address", "provider", "cipher-suite", "verify-tls", "username", "password-stdin", "boot-mac", "clear-boot-mac", "maintenance", "clear-maintenance"}},
	"tinman servers remove":        {apiFlagSet},
	"tinman images":                nil,
	"tinman images add":            {apiFlagSet, outFlagSet, {"kernel-url", "initrd-url", "iso-url", "image-url", "sha256", "sha256-of"}},
	"tinman images list":           {apiFlagSet, outFlagSet},
	"tinman images show":           {apiFlagSet, outFlagSet},
	"tinman images remove":         {apiFlagSet},
	"tinman jobs":                  nil,
	"tinman jobs list":             {apiFlagSet, outFlagSet, {"server", "state", "type", "limit", "after"}},
	"tinman jobs show":             {apiFlagSet, outFlagSet},
	"tinman jobs watch":            {apiFlagSet, natsFlagSet, outFlagSet, {"wait-timeout"}},
	"tinman jobs cancel":           {apiFlagSet, waitFlagSet, outFlagSet},
	"tinman status":                {apiFlagSet, outFlagSet},
}

// serviceCommands run a part of Tinman: their settings are many and
// change with the services, so the test checks that they have the
// service flags they read and none of the clients'.
var serviceCommands = map[string][]string{
	"tinman api":        serviceFlagSet,
	"tinman dispatcher": serviceFlagSet,
	"tinman worker":     serviceFlagSet,
	"tinman dev":        serviceFlagSet,
	"tinman sim":        {"log-level", "log-format", "redis-url", "boot-url", "nats-url", "installer-delay"},
}

// Each command shows only the flags it uses: every command of the tree is
// in one of the tables above, a client command has exactly its flags, and
// a service command none of a client's.
func TestEachCommandHasOnlyItsFlags(t *testing.T) {
	t.Parallel()
	root := newRoot(nil, io.Discard, io.Discard)
	root.InitDefaultCompletionCmd()
	clientOnly := slices.Concat(apiFlagSet, outFlagSet, []string{"wait", "wait-timeout"})
	for _, cmd := range commandTree(root) {
		path, have := cmd.CommandPath(), flagNames(cmd)
		if groups, ok := clientCommandFlags[path]; ok {
			want := slices.Concat(append(groups, everyFlag)...)
			slices.Sort(want)
			if !slices.Equal(have, slices.Compact(want)) {
				t.Errorf("%s has flags\n  %s\nwant\n  %s", path, strings.Join(have, " "), strings.Join(want, " "))
			}
			for _, f := range serviceFlagSet {
				if slices.Contains(have, f) {
					t.Errorf("client command %s has the service flag --%s", path, f)
				}
			}
			continue
		}
		must, ok := serviceCommands[path]
		if !ok {
			t.Errorf("%s is in no table of this test: add its flags", path)
			continue
		}
		for _, f := range must {
			if !slices.Contains(have, f) {
				t.Errorf("service command %s lacks --%s", path, f)
			}
		}
		for _, f := range clientOnly {
			if slices.Contains(have, f) {
				t.Errorf("service command %s has the client flag --%s", path, f)
			}
		}
	}
}

// commandTree is every command under root, root included, hidden ones
// (cobra's __complete) left out.
func commandTree(root *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{root}
	for _, c := range root.Commands() {
		if !c.Hidden && c.Name() != "help" {
			out = append(out, commandTree(c)...)
		}
	}
	return out
}

// flagNames are the names of the flags a command accepts, its own and
// those it inherits, sorted, --help left out.
func flagNames(cmd *cobra.Command) []string {
	var names []string
	add := func(f *pflag.Flag) {
		if f.Name != "help" && !slices.Contains(names, f.Name) {
			names = append(names, f.Name)
		}
	}
	cmd.LocalFlags().VisitAll(add)
	cmd.InheritedFlags().VisitAll(add)
	slices.Sort(names)
	return names
}
