package deploytest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/tinmanhq/tinman/servicetest"
)

// chartDir is the chart, from the repository root.
const chartDir = "deploy/helm/tinman"

var (
	helmOnce sync.Once
	errHelm  error
)

// needHelm makes sure deploy/helm/helm.sh has its Helm. Outside CI it does
// not build it (minutes): the test is skipped, saying how. Under CI=true it
// builds it if .ci/run has not, and fails if it cannot.
func needHelm(t *testing.T) {
	t.Helper()
	helmOnce.Do(func() {
		cmd := helmCmd("version", "--short")
		if !servicetest.InCI() {
			cmd.Env = append(os.Environ(), "HELM_BUILD=never")
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			errHelm = fmt.Errorf("deploy/helm/helm.sh version: %w: %s", err, bytes.TrimSpace(out))
		}
	})
	if errHelm != nil {
		servicetest.Unavailable(t, "%v", errHelm)
	}
}

func helmCmd(args ...string) *exec.Cmd {
	cmd := exec.Command("bash", append([]string{"deploy/helm/helm.sh"}, args...)...)
	cmd.Dir = repoRoot
	return cmd
}

// helmTemplate renders the chart as release "tinman" with args (values
// files, --set); it returns what Helm printed and said, and its error.
func helmTemplate(t *testing.T, args ...string) (string, error) {
	t.Helper()
	needHelm(t)
	var stdout, stderr bytes.Buffer
	cmd := helmCmd(append([]string{"template", "tinman", chartDir, "--namespace", "tinman"}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.String(), err
}

// manifest is one rendered object: its kind, name and text, and the rest
// to decode by kind.
type manifest struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	text string
	node yaml.Node
}

// rendered is the chart as Helm rendered it.
type rendered []manifest

// render is the chart rendered with args; a refusal fails the test.
func render(t *testing.T, args ...string) rendered {
	t.Helper()
	out, err := helmTemplate(t, args...)
	if err != nil {
		t.Fatalf("helm template %v: %v", args, err)
	}
	var r rendered
	for _, doc := range regexp.MustCompile(`(?m)^---$`).Split(out, -1) {
		var m manifest
		if err := yaml.Unmarshal([]byte(doc), &m.node); err != nil {
			t.Fatalf("helm template %v: not YAML: %v\n%s", args, err, doc)
		}
		if err := m.node.Decode(&m); err != nil || m.Kind == "" {
			continue // a comment alone
		}
		m.text = doc
		r = append(r, m)
	}
	return r
}

// all decodes every object of kind into a T.
func all[T any](t *testing.T, r rendered, kind string) []T {
	t.Helper()
	var out []T
	for _, m := range r {
		if m.Kind != kind {
			continue
		}
		var v T
		if err := m.node.Decode(&v); err != nil {
			t.Fatalf("%s %s: %v", kind, m.Metadata.Name, err)
		}
		out = append(out, v)
	}
	return out
}

// selects says whether a label selector picks pods with these labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// appVersion is the chart's appVersion, the image tag by default.
func appVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(repoRoot + "/" + chartDir + "/Chart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var chart struct {
		AppVersion string `yaml:"appVersion"`
	}
	if err := yaml.Unmarshal(data, &chart); err != nil || chart.AppVersion == "" {
		t.Fatalf("Chart.yaml: appVersion %q (%v)", chart.AppVersion, err)
	}
	return chart.AppVersion
}

// without says which of the secrets appear, as written or in base64, in an
// object other than a Secret.
func (r rendered) without(secrets ...string) []string {
	var found []string
	for _, m := range r {
		if m.Kind == "Secret" {
			continue
		}
		for _, s := range secrets {
			if strings.Contains(m.text, s) || strings.Contains(m.text, b64(s)) {
				found = append(found, fmt.Sprintf("%s %s holds %q", m.Kind, m.Metadata.Name, s))
			}
		}
	}
	return found
}
