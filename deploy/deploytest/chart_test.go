package deploytest

import (
	"encoding/base64"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/webhook"
)

// What the test reads of the rendered objects.
type (
	objectMeta struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	}
	deployment struct {
		Metadata objectMeta `yaml:"metadata"`
		Spec     struct {
			Replicas int `yaml:"replicas"`
			Selector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			} `yaml:"selector"`
			Strategy struct {
				Type          string `yaml:"type"`
				RollingUpdate struct {
					MaxUnavailable any `yaml:"maxUnavailable"`
				} `yaml:"rollingUpdate"`
			} `yaml:"strategy"`
			Template struct {
				Metadata objectMeta `yaml:"metadata"`
				Spec     podSpec    `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	podSpec struct {
		TerminationGracePeriodSeconds int `yaml:"terminationGracePeriodSeconds"`
		SecurityContext               struct {
			RunAsNonRoot *bool `yaml:"runAsNonRoot"`
			RunAsUser    int   `yaml:"runAsUser"`
		} `yaml:"securityContext"`
		Containers []container `yaml:"containers"`
		Volumes    []struct {
			Name   string `yaml:"name"`
			Secret *struct {
				SecretName string `yaml:"secretName"`
			} `yaml:"secret"`
		} `yaml:"volumes"`
	}
	container struct {
		Image string   `yaml:"image"`
		Args  []string `yaml:"args"`
		Env   []struct {
			Name      string `yaml:"name"`
			Value     string `yaml:"value"`
			ValueFrom *struct {
				SecretKeyRef *struct {
					Name string `yaml:"name"`
				} `yaml:"secretKeyRef"`
			} `yaml:"valueFrom"`
		} `yaml:"env"`
		Ports []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		} `yaml:"ports"`
		StartupProbe   *probe `yaml:"startupProbe"`
		LivenessProbe  *probe `yaml:"livenessProbe"`
		ReadinessProbe *probe `yaml:"readinessProbe"`
		Resources      struct {
			Requests map[string]string `yaml:"requests"`
			Limits   map[string]string `yaml:"limits"`
		} `yaml:"resources"`
		SecurityContext struct {
			RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
			AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
			ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
			Capabilities             struct {
				Drop []string `yaml:"drop"`
			} `yaml:"capabilities"`
		} `yaml:"securityContext"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
		} `yaml:"volumeMounts"`
	}
	probe struct {
		HTTPGet *struct {
			Path string `yaml:"path"`
			Port string `yaml:"port"`
		} `yaml:"httpGet"`
	}
	selectorObject struct {
		Metadata objectMeta `yaml:"metadata"`
		Spec     struct {
			Selector any `yaml:"selector"` // a PDB's {matchLabels}, a Service's labels
		} `yaml:"spec"`
	}
	configMap struct {
		Data map[string]string `yaml:"data"`
	}
)

// chartWant is what a rendering must hold beyond what every one must.
type chartWant struct {
	sites          []string // the workers' --sites, one Deployment each
	streamReplicas int
	secret         string            // the Secret the roles read
	files          map[string]string // TINMAN_* file variables and the Secret mounted there
}

// TestChartDefaults: the default values render a whole deployment.
func TestChartDefaults(t *testing.T) {
	t.Parallel()
	r := render(t)
	checkChart(t, r, chartWant{sites: []string{"default"}, streamReplicas: 1, secret: "tinman"})
	for _, d := range all[deployment](t, r, "Deployment") {
		if img := d.Spec.Template.Spec.Containers[0].Image; img != "tinman:"+appVersion(t) {
			t.Errorf("%s: image %q: the tag is not the chart's appVersion", d.Metadata.Name, img)
		}
	}
	if s := all[objectMeta](t, r, "Secret"); len(s) != 0 {
		t.Errorf("the default values make a Secret: %v", s)
	}
}

// TestChartHA: ci/ha-values.yaml (NATS cluster with creds and TLS,
// replicated streams, Redis Sentinel with a password, two sites).
func TestChartHA(t *testing.T) {
	t.Parallel()
	r := render(t, "-f", chartDir+"/ci/ha-values.yaml")
	checkChart(t, r, chartWant{sites: []string{"dc-east", "dc-west"}, streamReplicas: 3, secret: "tinman-secrets",
		files: map[string]string{"TINMAN_NATS_CREDS": "tinman-nats-creds", "TINMAN_NATS_CA": "tinman-nats-ca"}})
	for _, d := range all[deployment](t, r, "Deployment") {
		env := envOf(d.Spec.Template.Spec.Containers[0])
		if n := len(strings.Split(env["TINMAN_NATS_URL"], ",")); n != 3 {
			t.Errorf("%s: TINMAN_NATS_URL names %d servers, want 3", d.Metadata.Name, n)
		}
		if u := env["TINMAN_REDIS_URL"]; !strings.HasPrefix(u, "redis+sentinel://:$(REDIS_PASSWORD)@") {
			t.Errorf("%s: TINMAN_REDIS_URL %q: want the Sentinel form with the password from the Secret", d.Metadata.Name, u)
		}
	}
}

// TestChartMadeSecrets: with secrets.create the chart makes the Secret;
// its values are in it and nowhere else.
func TestChartMadeSecrets(t *testing.T) {
	t.Parallel()
	key, token := b64("a key of thirty-two bytes, 12345"), "admin:sha256:"+strings.Repeat("ab", 32)
	r := render(t, "-f", chartDir+"/ci/ha-values.yaml", "--set", "secrets.create=true",
		"--set", "secrets.secretKey="+key, "--set", "secrets.tokens[0]="+token,
		"--set", "secrets.githubWebhookSecret=gh-hook-secret", "--set", "secrets.genericWebhookSecret=generic-hook-secret")
	checkChart(t, r, chartWant{sites: []string{"dc-east", "dc-west"}, streamReplicas: 3, secret: "tinman-secrets"})
	if s := all[objectMeta](t, r, "Secret"); len(s) != 1 {
		t.Fatalf("%d Secrets, want the one made", len(s))
	}
	for _, leak := range r.without(key, token, "gh-hook-secret", "generic-hook-secret") {
		t.Error(leak)
	}
}

// TestChartRefuses: values that cannot work stop helm template with a
// message naming them.
func TestChartRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ set, says string }{
		{"secrets.create=true", "secrets.create"},
		{"nats.urls=null", "nats.urls"},
		{"nats.credsSecret.name=c,nats.tokenSecret.name=t", "nats: give one of"},
		{"nats.user=tinman", "nats.user and nats.passwordSecret.name"},
		{"nats.streamReplicas=7", "nats.streamReplicas"},
		{"redis.url=http://redis:6379", "redis.url"},
		{"redis.url=redis://:pw@redis:6379/0,redis.passwordSecret.name=r", "write no password"},
		{"worker.sites[0].name=Site_A", "not a site name"},
		{"worker.sites[0].name=a,worker.sites[1].name=a", "given twice"},
	} {
		_, err := helmTemplate(t, "--set", tc.set)
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("--set %s: %v, want a refusal saying %q", tc.set, err, tc.says)
		}
	}
}

// checkChart holds every rendering to the rules: each role a Deployment
// with probes, resources, a non-root read-only security context, a grace
// period over its shutdown, rolling updates that never go short, its own
// PodDisruptionBudget, secrets by reference only, and only flags, variables
// and config keys its tinman has.
func checkChart(t *testing.T, r rendered, want chartWant) {
	t.Helper()
	fs := roleFlags(t)
	deps := all[deployment](t, r, "Deployment")
	pdbs := all[selectorObject](t, r, "PodDisruptionBudget")
	var sites []string
	byRole := map[string]int{}
	for _, d := range deps {
		c := d.Spec.Template.Spec.Containers[0]
		role := fs.checkArgs(t, c.Args, d.Metadata.Name)
		byRole[role]++
		if role == "worker" {
			sites = append(sites, argValue(c.Args, "sites", ""))
		}
		fs.checkEnv(t, role, keys(envOf(c)), d.Metadata.Name)
		checkPod(t, d, role, want)
		checkBudget(t, d, deps, pdbs)
	}
	if byRole["api"] != 1 || byRole["dispatcher"] != 1 || !slices.Equal(sites, want.sites) {
		t.Errorf("Deployments by role %v, worker sites %v: want one api, one dispatcher, workers for %v", byRole, sites, want.sites)
	}
	checkService(t, r, deps)
	checkConfigMap(t, r, fs, want)
}

func checkPod(t *testing.T, d deployment, role string, want chartWant) {
	t.Helper()
	name, pod := d.Metadata.Name, d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%s: %d containers, want tinman alone", name, len(pod.Containers))
	}
	c := pod.Containers[0]
	port := portOf(c, role)
	checkProbe(t, name, c.StartupProbe, "/healthz", port)
	checkProbe(t, name, c.LivenessProbe, "/healthz", port)
	checkProbe(t, name, c.ReadinessProbe, "/readyz", port)
	for _, r := range []string{"cpu", "memory"} {
		if c.Resources.Requests[r] == "" || c.Resources.Limits[r] == "" {
			t.Errorf("%s: no %s request and limit: %+v", name, r, c.Resources)
		}
	}
	for _, fault := range securityFaults(pod, c) {
		t.Errorf("%s: security context: %s", name, fault)
	}
	if s := d.Spec.Strategy; s.Type != "RollingUpdate" || fmt.Sprint(s.RollingUpdate.MaxUnavailable) != "0" {
		t.Errorf("%s: strategy %+v: want RollingUpdate with maxUnavailable 0", name, s)
	}
	stop := shutdownTime(role, func(flag string) string { return argValue(c.Args, flag, "") })
	if grace := time.Duration(pod.TerminationGracePeriodSeconds) * time.Second; grace <= stop {
		t.Errorf("%s: grace period %v, but the role may take %v to stop", name, grace, stop)
	}
	if !selects(d.Spec.Selector.MatchLabels, d.Spec.Template.Metadata.Labels) {
		t.Errorf("%s: its selector %v does not pick its pods %v", name, d.Spec.Selector.MatchLabels, d.Spec.Template.Metadata.Labels)
	}
	checkSecretsByReference(t, d, role, want)
}

// securityFaults: a pod runs as a user other than root, its container
// cannot gain privileges, write its root file system or use a capability.
func securityFaults(pod podSpec, c container) []string {
	sc := c.SecurityContext
	var faults []string
	for fault, bad := range map[string]bool{
		"the pod's runAsNonRoot is not true":       !isTrue(pod.SecurityContext.RunAsNonRoot),
		"the pod's runAsUser is root":              pod.SecurityContext.RunAsUser == 0,
		"the container's runAsNonRoot is not true": !isTrue(sc.RunAsNonRoot),
		"allowPrivilegeEscalation is not false":    !isFalse(sc.AllowPrivilegeEscalation),
		"readOnlyRootFilesystem is not true":       !isTrue(sc.ReadOnlyRootFilesystem),
		"capabilities.drop is not [ALL]":           !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}),
	} {
		if bad {
			faults = append(faults, fault)
		}
	}
	sort.Strings(faults)
	return faults
}

func checkProbe(t *testing.T, name string, p *probe, path, port string) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("%s: no probe GET %s on port %s", name, path, port)
	} else if p.HTTPGet.Path != path || p.HTTPGet.Port != port {
		t.Errorf("%s: a probe GET %s on port %s, want GET %s on port %s", name, p.HTTPGet.Path, p.HTTPGet.Port, path, port)
	}
}

// portOf is the name of the port the role serves health on, checked
// against the flag that opens it.
func portOf(c container, role string) string {
	flag := map[string]string{"api": "http-addr"}[role]
	if flag == "" {
		flag = "health-addr"
	}
	for _, p := range c.Ports {
		if argValue(c.Args, flag, "") == fmt.Sprintf(":%d", p.ContainerPort) {
			return p.Name
		}
	}
	return "(no port of --" + flag + ")"
}

// checkBudget: exactly one PodDisruptionBudget picks the Deployment's pods,
// and it picks no other Deployment's.
func checkBudget(t *testing.T, d deployment, deps []deployment, pdbs []selectorObject) {
	t.Helper()
	var mine []string
	for _, p := range pdbs {
		sel := matchLabels(p.Spec.Selector)
		if !selects(sel, d.Spec.Template.Metadata.Labels) {
			continue
		}
		mine = append(mine, p.Metadata.Name)
		for _, other := range deps {
			if other.Metadata.Name != d.Metadata.Name && selects(sel, other.Spec.Template.Metadata.Labels) {
				t.Errorf("PodDisruptionBudget %s picks %s's pods too", p.Metadata.Name, other.Metadata.Name)
			}
		}
	}
	if len(mine) != 1 {
		t.Errorf("%s: PodDisruptionBudgets %v pick its pods: want one", d.Metadata.Name, mine)
	}
}

// checkSecretsByReference: a secret reaches a role only from a Secret, as
// a secretKeyRef or a mounted file; never as a value in the manifest.
func checkSecretsByReference(t *testing.T, d deployment, role string, want chartWant) {
	t.Helper()
	c := d.Spec.Template.Spec.Containers[0]
	for _, e := range c.Env {
		if secretName(e.Name) && (e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
			t.Errorf("%s: %s is not taken from a Secret", d.Metadata.Name, e.Name)
		}
	}
	files := map[string]string{}
	for k, v := range want.files {
		files[envOf(c)[k]] = v
	}
	if role != "dispatcher" {
		files[argValue(c.Args, "secret-key-file", "")] = want.secret
	}
	if role == "api" {
		files[argValue(c.Args, "tokens-file", "")] = want.secret
	}
	for path, secret := range files {
		if got := mountedSecret(d.Spec.Template.Spec, c, path); got != secret {
			t.Errorf("%s: %q is in Secret %q, want %q", d.Metadata.Name, path, got, secret)
		}
	}
}

// mountedSecret is the Secret whose volume is mounted where path is.
func mountedSecret(pod podSpec, c container, path string) string {
	for _, m := range c.VolumeMounts {
		if path == "" || !strings.HasPrefix(path, m.MountPath+"/") {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.Secret != nil {
				return v.Secret.SecretName
			}
		}
	}
	return ""
}

// checkService: the API's Service picks the API's pods and only those.
func checkService(t *testing.T, r rendered, deps []deployment) {
	t.Helper()
	svcs := all[selectorObject](t, r, "Service")
	if len(svcs) != 1 {
		t.Fatalf("%d Services, want the API's", len(svcs))
	}
	sel := matchLabels(map[string]any{"matchLabels": svcs[0].Spec.Selector})
	for _, d := range deps {
		isAPI := d.Spec.Template.Spec.Containers[0].Args[0] == "api"
		if selects(sel, d.Spec.Template.Metadata.Labels) != isAPI {
			t.Errorf("Service %s: picks %s: %v", svcs[0].Metadata.Name, d.Metadata.Name, !isAPI)
		}
	}
}

// checkConfigMap: the roles' --config has only their flags and the stream
// replicas wanted; the webhook rules, if any, are rules the API loads.
func checkConfigMap(t *testing.T, r rendered, fs flagSet, want chartWant) {
	t.Helper()
	cms := all[configMap](t, r, "ConfigMap")
	if len(cms) != 1 {
		t.Fatalf("%d ConfigMaps, want the roles' config", len(cms))
	}
	config := fs.checkConfig(t, []byte(cms[0].Data["tinman.yaml"]), roles, "ConfigMap tinman.yaml")
	if config["stream-replicas"] != want.streamReplicas {
		t.Errorf("stream-replicas %v, want %d", config["stream-replicas"], want.streamReplicas)
	}
	if rules, ok := cms[0].Data["webhook-rules.json"]; ok {
		if _, err := webhook.LoadRules(strings.NewReader(rules)); err != nil {
			t.Errorf("webhook-rules.json: %v", err)
		}
	}
}

func matchLabels(selector any) map[string]string {
	m, _ := selector.(map[string]any)
	labels := map[string]string{}
	inner, _ := m["matchLabels"].(map[string]any)
	for k, v := range inner {
		labels[k] = fmt.Sprint(v)
	}
	return labels
}

func envOf(c container) map[string]string {
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	return env
}

func isTrue(b *bool) bool  { return b != nil && *b }
func isFalse(b *bool) bool { return b != nil && !*b }

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
