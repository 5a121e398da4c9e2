package archtest

import (
	"slices"
	"strings"
	"testing"
)

const module = "github.com/tinmanhq/tinman/"

// seams: each external system is reached from the packages listed here and
// no other, so that its keys, subjects and failure modes live in one place.
var seams = []struct {
	system  string
	pkg     string // an import path, or a prefix ending in "/"
	allowed map[string]string
}{
	{"Redis", "github.com/redis/go-redis/", map[string]string{
		"store":           "every key Tinman writes (keys.go)",
		"workers":         "the asynq server's connection (workers.New)",
		"cmd/tinman":      "wiring: opens the connection",
		"servicetest":     "test helper: a Redis for each test",
		"store/storetest": "test helper: a store on a test's Redis",
	}},
	{"bmclib", "github.com/bmc-toolbox/", map[string]string{
		"bmc": "the hardware port's adapter",
	}},
	{"gofish", "github.com/stmcginnis/gofish", map[string]string{
		"bmc": "the hardware port's adapter: what bmclib cannot read (the virtual media's state)",
	}},
}

// TestOneSeamPerSystem: only the listed packages import each external system.
func TestOneSeamPerSystem(t *testing.T) {
	t.Parallel()
	for _, p := range modulePackages(t) {
		rel := strings.TrimPrefix(p.Path, module)
		for _, s := range seams {
			if _, ok := s.allowed[rel]; ok {
				continue
			}
			if i := slices.IndexFunc(p.Imports, func(imp string) bool { return strings.HasPrefix(imp, s.pkg) }); i >= 0 {
				t.Errorf("%s imports %s: only %s reach %s", rel, p.Imports[i], keys(s.allowed), s.system)
			}
		}
	}
}

// TestDomainImportsNoInfrastructure: jobs and schemas know nothing of NATS,
// Redis, asynq, bmclib or the rest of Tinman.
func TestDomainImportsNoInfrastructure(t *testing.T) {
	t.Parallel()
	allowed := map[string][]string{
		"jobs":    nil,
		"schemas": {module + "jobs", "github.com/santhosh-tekuri/jsonschema/v6/"},
	}
	for _, p := range modulePackages(t) {
		rel := strings.TrimPrefix(p.Path, module)
		ok, domain := allowed[rel]
		if !domain {
			continue
		}
		for _, imp := range p.Imports {
			thirdParty := strings.Contains(strings.SplitN(imp, "/", 2)[0], ".")
			if thirdParty && !slices.ContainsFunc(ok, func(a string) bool { return imp == a || strings.HasPrefix(imp+"/", a) }) {
				t.Errorf("%s imports %s: the domain imports only the standard library and %v", rel, imp, ok)
			}
		}
	}
}

// TestClientBuildsNoServer: package client, which Go programs import to
// drive Tinman, reaches (itself or through the packages it imports) none of
// the server's parts: a program that drives Tinman does not build Redis,
// asynq, bmclib, Prometheus or the roles.
func TestClientBuildsNoServer(t *testing.T) {
	t.Parallel()
	serverParts := []string{"github.com/redis/", "github.com/hibiken/", "github.com/bmc-toolbox/", "github.com/prometheus/",
		module + "api", module + "store", module + "dispatch", module + "workers", module + "bmc", module + "callback",
		module + "webhook", module + "servicetest", module + "boot"}
	byPath := map[string]*pkg{}
	for _, p := range modulePackages(t) {
		byPath[p.Path] = p
	}
	seen := map[string]bool{}
	var reach func(path, via string)
	reach = func(path, via string) {
		if seen[path] {
			return
		}
		seen[path] = true
		for _, part := range serverParts {
			if path == part || strings.HasPrefix(path, part+"/") || strings.HasSuffix(part, "/") && strings.HasPrefix(path, part) {
				t.Errorf("client reaches %s (via %s): it must not build the server", path, via)
			}
		}
		if p := byPath[path]; p != nil {
			for _, imp := range p.Imports {
				reach(imp, strings.TrimPrefix(path, module))
			}
		}
	}
	if byPath[module+"client"] == nil {
		t.Fatal("no package client")
	}
	reach(module+"client", "client")
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
