package deploytest

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"gopkg.in/yaml.v3"

	"github.com/tinmanhq/tinman/servicetest"
)

// composeFile is what the test reads of docker-compose.ha.yml, in the
// forms that file uses (maps, not lists, for environment and depends_on).
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Configs  map[string]composeFileRef `yaml:"configs"`
	Secrets  map[string]composeFileRef `yaml:"secrets"`
}

type composeFileRef struct {
	File string `yaml:"file"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Configs     []struct {
		Source string `yaml:"source"`
		Target string `yaml:"target"`
	} `yaml:"configs"`
	Secrets     []string `yaml:"secrets"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	DependsOn map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Deploy struct {
		Replicas int `yaml:"replicas"`
	} `yaml:"deploy"`
	StopGracePeriod string `yaml:"stop_grace_period"`
}

// role is the tinman role the service runs, or "" for another image.
func (s composeService) role() string {
	if s.Build == nil || len(s.Command) == 0 {
		return ""
	}
	return s.Command[0]
}

func (s composeService) instances() int { return max(s.Deploy.Replicas, 1) }

// composeHA is docker-compose.ha.yml, read.
type composeHA struct {
	composeFile
	// config is the roles' --config file, parsed.
	config map[string]any
}

func setupCompose(t *testing.T) *composeHA {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "docker-compose.ha.yml"))
	if err != nil {
		t.Fatal(err)
	}
	c := &composeHA{}
	if err := yaml.Unmarshal(data, &c.composeFile); err != nil {
		t.Fatalf("docker-compose.ha.yml: %v", err)
	}
	if err := yaml.Unmarshal(c.file(t, "tinman"), &c.config); err != nil {
		t.Fatalf("the roles' config: %v", err)
	}
	return c
}

// file is the content of a top-level config by its name.
func (c *composeHA) file(t *testing.T, config string) []byte {
	t.Helper()
	ref, ok := c.Configs[config]
	if !ok {
		t.Fatalf("docker-compose.ha.yml has no config %q", config)
	}
	data, err := os.ReadFile(filepath.Join(repoRoot, ref.File))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// mounted is the config a service mounts at target, or "".
func (s composeService) mounted(target string) string {
	for _, m := range s.Configs {
		if m.Target == target {
			return m.Source
		}
	}
	return ""
}

// named are the services that match, sorted by name.
func (c *composeHA) named(match func(string, composeService) bool) []string {
	var names []string
	for name, s := range c.Services {
		if match(name, s) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

func (c *composeHA) byImage(prefix string) []string {
	return c.named(func(_ string, s composeService) bool { return strings.HasPrefix(s.Image, prefix) })
}

func (c *composeHA) byRole(role string) []string {
	return c.named(func(_ string, s composeService) bool { return s.role() == role })
}

func (c *composeHA) instances(names []string) int {
	n := 0
	for _, name := range names {
		n += c.Services[name].instances()
	}
	return n
}

// setting is a shared string setting of the roles' config file.
func (c *composeHA) setting(key string) string { s, _ := c.config[key].(string); return s }

// TestComposeNATSCluster: three NATS nodes, each from one config file that
// nats-server itself reads: JetStream, a cluster with a route to every
// node, the roles' user; the roles name every node.
func TestComposeNATSCluster(t *testing.T) {
	c := setupCompose(t)
	nodes := c.byImage("nats:")
	if len(nodes) != 3 {
		t.Fatalf("NATS services %v: want 3", nodes)
	}
	for _, name := range nodes {
		s := c.Services[name]
		if s.mounted("/etc/nats/nats.conf") != "nats" || !slices.Contains(s.Command, "/etc/nats/nats.conf") {
			t.Errorf("%s: does not run the nats config: %v", name, s.Command)
		}
		for k, v := range s.Environment {
			t.Setenv(k, strings.TrimPrefix(strings.SplitN(v, ":?", 2)[0], "${")) // a value for each ${VAR:?...}
		}
		opts := natsOptions(t, filepath.Join(repoRoot, c.Configs["nats"].File))
		if opts.ServerName != name || !opts.JetStream || opts.StoreDir == "" || opts.Cluster.Name == "" {
			t.Errorf("%s: server_name %q, jetstream %v in %q, cluster %q", name, opts.ServerName, opts.JetStream, opts.StoreDir, opts.Cluster.Name)
		}
		var routes []string
		for _, r := range opts.Routes {
			routes = append(routes, r.Hostname())
		}
		if sort.Strings(routes); !slices.Equal(routes, nodes) {
			t.Errorf("%s: routes to %v, want every node %v", name, routes, nodes)
		}
		if opts.Username != c.setting("nats-user") || opts.Password == "" {
			t.Errorf("%s: user %q with a password %v; the roles log in as %q", name, opts.Username, opts.Password != "", c.setting("nats-user"))
		}
	}
	if got := urlHosts(t, c.setting("nats-url")); !slices.Equal(got, hostPorts(nodes, 4222)) {
		t.Errorf("nats-url names %v, want %v", got, hostPorts(nodes, 4222))
	}
	if r, _ := c.config["stream-replicas"].(int); r != len(nodes) {
		t.Errorf("stream-replicas %v on %d nodes", c.config["stream-replicas"], len(nodes))
	}
}

func natsOptions(t *testing.T, path string) *server.Options {
	t.Helper()
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("nats-server reads %s: %v", path, err)
	}
	return opts
}

// TestComposeRedisSentinel: a master that never evicts and persists, a
// replica of it, three Sentinels that monitor it under the name the roles
// ask for, and the roles' URL through all three.
func TestComposeRedisSentinel(t *testing.T) {
	t.Parallel()
	c := setupCompose(t)
	var master, replicas, sentinels []string
	for _, name := range c.byImage("redis:") {
		cmd := strings.Join(c.Services[name].Command, " ")
		switch {
		case strings.Contains(cmd, "redis-sentinel"):
			sentinels = append(sentinels, name)
		case strings.Contains(cmd, "--replicaof"):
			replicas = append(replicas, name)
		default:
			master = append(master, name)
		}
		if !strings.Contains(cmd, "redis-sentinel") && !strings.Contains(cmd, "--appendonly yes --maxmemory-policy noeviction") {
			t.Errorf("%s: %q: Tinman needs appendonly and noeviction", name, cmd)
		}
	}
	if len(master) != 1 || len(replicas) != 1 || len(sentinels) != 3 {
		t.Fatalf("master %v, replicas %v, sentinels %v: want 1, 1, 3", master, replicas, sentinels)
	}
	if cmd := strings.Join(c.Services[replicas[0]].Command, " "); !strings.Contains(cmd, "--replicaof "+master[0]+" 6379") {
		t.Errorf("%s: %q is no replica of %s", replicas[0], cmd, master[0])
	}
	monitor := regexp.MustCompile(`(?m)^sentinel monitor (\S+) (\S+) 6379 (\d)$`).FindStringSubmatch(string(c.file(t, "sentinel")))
	if monitor == nil || monitor[2] != master[0] || monitor[3] != "2" {
		t.Fatalf("sentinel.conf monitors %q: want %s with a quorum of 2 of 3", monitor, master[0])
	}
	for _, name := range sentinels {
		if c.Services[name].mounted("/etc/redis/sentinel.conf.in") != "sentinel" {
			t.Errorf("%s: does not mount the sentinel config", name)
		}
	}
	u, err := url.Parse(c.setting("redis-url"))
	if err != nil || u.Scheme != "redis+sentinel" || !strings.HasPrefix(u.Path, "/"+monitor[1]+"/") {
		t.Fatalf("redis-url %q: want redis+sentinel://.../%s/DB (%v)", c.setting("redis-url"), monitor[1], err)
	}
	if got := strings.Split(u.Host, ","); !slices.Equal(got, hostPorts(sentinels, 26379)) {
		t.Errorf("redis-url names %v, want every sentinel %v", got, hostPorts(sentinels, 26379))
	}
}

// TestComposeAPIsBehindNginx: two APIs, each its own service so nginx can
// name it; nginx balances /v1 over both, passes event streams unbuffered,
// checks /readyz, and its config passes nginx -t.
func TestComposeAPIsBehindNginx(t *testing.T) {
	t.Parallel()
	c := setupCompose(t)
	apis := c.byRole("api")
	if len(apis) != 2 || c.instances(apis) != 2 {
		t.Fatalf("API services %v: want 2 of one instance each", apis)
	}
	proxies := c.byImage("nginx:")
	if len(proxies) != 1 {
		t.Fatalf("nginx services %v: want 1", proxies)
	}
	nginx := c.Services[proxies[0]]
	if nginx.mounted("/etc/nginx/nginx.conf") != "nginx" {
		t.Fatalf("%s: does not mount the nginx config", proxies[0])
	}
	for _, api := range apis {
		if nginx.DependsOn[api].Condition != "service_healthy" {
			t.Errorf("nginx starts before %s is ready", api)
		}
	}
	if hc := nginx.Healthcheck; hc == nil || !strings.Contains(strings.Join(hc.Test, " "), "/readyz") {
		t.Errorf("nginx's healthcheck does not ask /readyz")
	}
	conf := string(c.file(t, "nginx"))
	checkNginxConf(t, conf, hostPorts(apis, 8080))
	nginxSyntax(t, conf, apis)
}

func checkNginxConf(t *testing.T, conf string, apis []string) {
	t.Helper()
	upstream := block(conf, "upstream tinman_api")
	var servers []string
	for _, m := range regexp.MustCompile(`(?m)^\s*server\s+(\S+)`).FindAllStringSubmatch(upstream, -1) {
		servers = append(servers, m[1])
	}
	if !slices.Equal(servers, apis) {
		t.Errorf("upstream tinman_api has %v, want %v", servers, apis)
	}
	for _, loc := range []string{"location /v1/", "location = /v1/events", "location = /readyz"} {
		if !strings.Contains(block(conf, loc), "proxy_pass http://tinman_api;") {
			t.Errorf("%s: not balanced over tinman_api", loc)
		}
	}
	events := block(conf, "location = /v1/events")
	for _, want := range []string{"proxy_buffering off;", "proxy_read_timeout 1h;"} {
		if !strings.Contains(events, want) {
			t.Errorf("location = /v1/events lacks %q: event streams would be held back or cut", want)
		}
	}
}

// nginxSyntax runs the installed nginx -t on the config, with the APIs on
// loopback and without `resolve` (nginx before 1.27.3 lacks it; the image
// has 1.28).
func nginxSyntax(t *testing.T, conf string, apis []string) {
	t.Helper()
	bin := servicetest.NeedTool(t, "nginx", "apt-get install nginx")
	for _, api := range apis {
		conf = strings.ReplaceAll(conf, api+":", "127.0.0.1:")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(conf, " resolve;", ";")), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-t", "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"),
		"-g", "pid "+filepath.Join(dir, "nginx.pid")+";").CombinedOutput()
	if err != nil {
		t.Errorf("nginx -t: %v\n%s", err, out)
	}
}

// block is the body of the first `header { ... }` in an nginx config.
func block(conf, header string) string {
	i := strings.Index(conf, header+" {")
	if i < 0 {
		return ""
	}
	body := conf[i+len(header)+2:]
	depth := 1
	for j, r := range body {
		switch r {
		case '{':
			depth++
		case '}':
			if depth--; depth == 0 {
				return body[:j]
			}
		}
	}
	return ""
}

// TestComposeRoles: two dispatchers, workers for two sites; every role
// waits for every NATS node and Sentinel to be healthy, has a healthcheck
// on /readyz, stops within its grace period, and is given only flags,
// TINMAN_* variables and config keys its tinman has.
func TestComposeRoles(t *testing.T) {
	t.Parallel()
	c := setupCompose(t)
	fs := roleFlags(t)
	fs.checkConfig(t, c.file(t, "tinman"), roles, "deploy/compose/tinman.yaml")
	if n := c.instances(c.byRole("dispatcher")); n != 2 {
		t.Errorf("%d dispatchers, want 2", n)
	}
	sites := map[string]int{}
	for _, name := range c.byRole("worker") {
		sites[argValue(c.Services[name].Command, "sites", "default")] += c.Services[name].instances()
	}
	if len(sites) != 2 {
		t.Errorf("workers by site %v: want two sites", sites)
	}
	backing := slices.Concat(c.byImage("nats:"), c.named(func(_ string, s composeService) bool {
		return strings.Contains(strings.Join(s.Command, " "), "redis-sentinel")
	}))
	for _, name := range c.named(func(_ string, s composeService) bool { return s.role() != "" }) {
		s := c.Services[name]
		role := fs.checkArgs(t, s.Command, name)
		fs.checkEnv(t, role, keys(s.Environment), name)
		if s.Environment["TINMAN_CONFIG"] == "" || s.mounted(s.Environment["TINMAN_CONFIG"]) != "tinman" {
			t.Errorf("%s: TINMAN_CONFIG %q is not the mounted tinman.yaml", name, s.Environment["TINMAN_CONFIG"])
		}
		for _, b := range backing {
			if s.DependsOn[b].Condition != "service_healthy" {
				t.Errorf("%s: starts before %s is healthy", name, b)
			}
		}
		if s.Healthcheck == nil || !strings.Contains(strings.Join(s.Healthcheck.Test, " "), "GET /readyz") {
			t.Errorf("%s: no healthcheck on /readyz", name)
		}
		section, _ := c.config[role].(map[string]any)
		checkGrace(t, name, s.StopGracePeriod, shutdownTime(role, func(flag string) string { v, _ := section[flag].(string); return v }))
	}
}

// shutdownTime is how long a role may take to stop, by its settings:
// setting gives a flag's value, "" when it is not set (then its default).
func shutdownTime(role string, setting func(flag string) string) time.Duration {
	get := func(flag, def string) time.Duration {
		v := setting(flag)
		if v == "" {
			v = def
		}
		d, _ := time.ParseDuration(v)
		return d
	}
	switch role {
	case "api":
		return get("drain-delay", "5s") + get("shutdown-timeout", "15s")
	case "worker":
		return get("shutdown-timeout", "30s")
	}
	return 15 * time.Second // the health server's shutdown
}

func checkGrace(t *testing.T, name, grace string, need time.Duration) {
	t.Helper()
	if d, err := time.ParseDuration(grace); err != nil || d <= need {
		t.Errorf("%s: stopped after %q, but takes up to %v to stop", name, grace, need)
	}
}

// TestComposeSecrets: the secret key and the tokens are files, mounted
// only where needed; no secret is written into the compose file.
func TestComposeSecrets(t *testing.T) {
	t.Parallel()
	c := setupCompose(t)
	for name, ref := range c.Secrets {
		if !strings.HasPrefix(ref.File, "./deploy/compose/secrets/") {
			t.Errorf("secret %s: from %q, not from deploy/compose/secrets (kept out of git)", name, ref.File)
		}
	}
	want := map[string][]string{"api": {"tinman_secret_key", "tinman_tokens"}, "worker": {"tinman_secret_key"}, "dispatcher": nil}
	for name, s := range c.Services {
		if role := s.role(); role != "" && !slices.Equal(s.Secrets, want[role]) {
			t.Errorf("%s: mounts secrets %v, want %v", name, s.Secrets, want[role])
		}
		for k, v := range s.Environment {
			if secretName(k) && !strings.HasPrefix(v, "${") {
				t.Errorf("%s: %s is written in the file; take it from the environment (${%s}) or a file", name, k, k)
			}
			if k == "TINMAN_SECRET_KEY" || k == "TINMAN_TOKENS" {
				t.Errorf("%s: %s in the environment; the HA set-up reads it from a file", name, k)
			}
		}
	}
	api, _ := c.config["api"].(map[string]any)
	for key, file := range map[string]any{"secret-key-file": c.config["secret-key-file"], "tokens-file": api["tokens-file"]} {
		if f, _ := file.(string); !strings.HasPrefix(f, "/run/secrets/") || c.Secrets[strings.TrimPrefix(f, "/run/secrets/")].File == "" {
			t.Errorf("%s %q is not a compose secret", key, file)
		}
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "deploy/compose/secrets/.gitignore")); err != nil {
		t.Errorf("deploy/compose/secrets is not kept out of git: %v", err)
	}
}

// TestComposeHealthchecks: every service has one, so depends_on can wait
// for each.
func TestComposeHealthchecks(t *testing.T) {
	t.Parallel()
	c := setupCompose(t)
	for name, s := range c.Services {
		if s.Healthcheck == nil || len(s.Healthcheck.Test) == 0 {
			t.Errorf("%s: no healthcheck", name)
		}
	}
}

var secretWords = regexp.MustCompile(`SECRET|PASSWORD|TOKEN|_KEY$`)

// secretName says whether an environment variable's name is a secret's
// (a *_FILE variable names a file, which is how a secret should come).
func secretName(name string) bool {
	return !strings.HasSuffix(name, "_FILE") && secretWords.MatchString(name)
}

func urlHosts(t *testing.T, list string) []string {
	t.Helper()
	var hosts []string
	for _, s := range strings.Split(list, ",") {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		hosts = append(hosts, u.Host)
	}
	return hosts
}

func hostPorts(hosts []string, port int) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = fmt.Sprintf("%s:%d", h, port)
	}
	return out
}

func keys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
