package deploytest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"
)

// repoRoot is the repository, from this package's directory.
const repoRoot = "../.."

// roles are the tinman commands a deployment runs.
var roles = []string{"api", "dispatcher", "worker"}

// pending are the flags the HA set-up uses that cmd/tinman has not yet (a
// role without one is logged, not failed): none now.
var pending = map[string]bool{}

// flagSet holds the flags of each role, by role.
type flagSet map[string]map[string]bool

var (
	flagsOnce sync.Once
	flagsOf   flagSet
	errFlags  error
)

// roleFlags returns the flags of each role of the tinman built from this
// checkout, as its --help lists them (global flags included).
func roleFlags(t *testing.T) flagSet {
	t.Helper()
	flagsOnce.Do(func() { flagsOf, errFlags = loadRoleFlags() })
	if errFlags != nil {
		t.Fatalf("the flags of tinman's roles: %v", errFlags)
	}
	return flagsOf
}

func loadRoleFlags() (flagSet, error) {
	dir, err := os.MkdirTemp("", "deploytest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "tinman")
	args := []string{"build", "-o", bin}
	if raceBuild {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, "./cmd/tinman")...)
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/tinman: %w\n%s", err, out)
	}
	fs := flagSet{}
	for _, role := range roles {
		out, err := exec.Command(bin, role, "--help").Output()
		if err != nil {
			return nil, fmt.Errorf("tinman %s --help: %w", role, err)
		}
		fs[role] = helpFlags(string(out))
	}
	return fs, nil
}

var helpFlag = regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([a-z0-9-]+)`)

// helpFlags are the long flag names of a cobra --help.
func helpFlags(help string) map[string]bool {
	flags := map[string]bool{}
	for _, m := range helpFlag.FindAllStringSubmatch(help, -1) {
		flags[m[1]] = true
	}
	return flags
}

// check reports a flag that role lacks; where says where it was given.
func (fs flagSet) check(t *testing.T, role, flag, where string) {
	t.Helper()
	switch {
	case fs[role] == nil:
		t.Errorf("%s: %q is not a tinman role", where, role)
	case fs[role][flag]:
	case pending[flag]:
		t.Logf("%s: tinman %s has no --%s yet: the parallel change adds it", where, role, flag)
	default:
		t.Errorf("%s: tinman %s has no flag --%s", where, role, flag)
	}
}

// checkArgs checks a role's command line (ROLE --flag value, --flag=value)
// and returns the role.
func (fs flagSet) checkArgs(t *testing.T, args []string, where string) string {
	t.Helper()
	if len(args) == 0 {
		t.Errorf("%s: no command: which role?", where)
		return ""
	}
	for _, a := range args[1:] {
		if name, ok := strings.CutPrefix(a, "--"); ok {
			name, _, _ = strings.Cut(name, "=")
			fs.check(t, args[0], name, where)
		}
	}
	return args[0]
}

// checkEnv checks the TINMAN_* variables given to role: each is a flag's.
func (fs flagSet) checkEnv(t *testing.T, role string, names []string, where string) {
	t.Helper()
	for _, name := range names {
		if rest, ok := strings.CutPrefix(name, "TINMAN_"); ok {
			fs.check(t, role, strings.ToLower(strings.ReplaceAll(rest, "_", "-")), where+" "+name)
		}
	}
}

// checkConfig checks a --config file read by the roles: a section's keys
// must be flags of its command (the command refuses others), a shared key
// a flag of one of the roles (the others leave it). It returns the file.
func (fs flagSet) checkConfig(t *testing.T, data []byte, readers []string, where string) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	for key, v := range doc {
		section, isSection := v.(map[string]any)
		switch {
		case isSection && !slices.Contains(readers, key):
			t.Errorf("%s: section %q is no role of this deployment (%v)", where, key, readers)
		case isSection:
			for k := range section {
				fs.check(t, key, k, where+" "+key+":")
			}
		case !slices.ContainsFunc(readers, func(r string) bool { return fs[r][key] }):
			fs.check(t, readers[0], key, where+" (shared, no role has it)")
		}
	}
	return doc
}

// argValue is the value of --flag in args ("--flag v" or "--flag=v"), or def.
func argValue(args []string, flag, def string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+flag+"="); ok {
			return v
		}
		if a == "--"+flag && i+1 < len(args) {
			return args[i+1]
		}
	}
	return def
}
