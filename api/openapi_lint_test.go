package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/servicetest"
)

// lintTools is the directory that pins the OpenAPI linter.
const lintTools = "../tools/openapi-lint"

// lintReport is what redocly lint --format json prints.
type lintReport struct {
	Totals struct {
		Errors   int `json:"errors"`
		Warnings int `json:"warnings"`
	} `json:"totals"`
	Problems []struct {
		RuleID   string `json:"ruleId"`
		Severity string `json:"severity"`
		Message  string `json:"message"`
		Location []struct {
			Pointer string `json:"pointer"`
		} `json:"location"`
	} `json:"problems"`
}

// TestOpenAPILint runs redocly lint, the version pinned in
// tools/openapi-lint, with its redocly.yaml, on the document the API
// serves: no error and no warning. It needs node and npm: skipped
// without them, a failure under CI=true. task lint:openapi runs it.
func TestOpenAPILint(t *testing.T) {
	t.Parallel()
	node := servicetest.NeedTool(t, "node", "apt-get install nodejs npm")
	npm := servicetest.NeedTool(t, "npm", "apt-get install npm")
	cli := redoclyCLI(t, npm)
	dir := t.TempDir()
	file := filepath.Join(dir, "openapi.json")
	if err := os.WriteFile(file, servedOpenAPI(t), 0o600); err != nil {
		t.Fatal(err)
	}
	report := runRedocly(t, dir, node, cli, file)
	for _, p := range report.Problems {
		where := ""
		if len(p.Location) > 0 {
			where = p.Location[0].Pointer
		}
		t.Errorf("redocly %s %s at %s: %s", p.Severity, p.RuleID, where, p.Message)
	}
	if report.Totals.Errors+report.Totals.Warnings != 0 {
		t.Errorf("redocly lint: %d errors and %d warnings", report.Totals.Errors, report.Totals.Warnings)
	}
}

// servedOpenAPI is the body of GET /openapi.json from the API's handler
// (which needs no Redis or NATS to serve it).
func servedOpenAPI(t *testing.T) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	mustNew(t, Config{}).Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /openapi.json: %d %s", rec.Code, rec.Body.Bytes())
	}
	return rec.Body.Bytes()
}

// runRedocly lints file in dir and returns the report, within two minutes.
func runRedocly(t *testing.T, dir, node, cli, file string) lintReport {
	t.Helper()
	config, err := filepath.Abs(filepath.Join(lintTools, "redocly.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, cli, "lint", "--config", config, "--format", "json", file)
	cmd.Dir, cmd.WaitDelay = dir, 10*time.Second
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "NO_COLOR=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run() // exit status 1 when there are errors: the report says which
	var report lintReport
	if err := json.Unmarshal(stdout.Bytes(), &report); err != nil {
		t.Fatalf("redocly lint: %v; its report: %v\nstdout: %s\nstderr: %s", runErr, err, stdout.Bytes(), stderr.Bytes())
	}
	if runErr != nil && report.Totals.Errors == 0 {
		t.Fatalf("redocly lint: %v with no error reported\nstderr: %s", runErr, stderr.Bytes())
	}
	return report
}

// redoclyCLI returns the path of redocly's cli.js, installed by npm ci
// from tools/openapi-lint's lock file into a cache directory named for the
// hash of package.json and the lock file, so that it is installed once per
// version. npm failing (no registry) skips the test locally.
func redoclyCLI(t *testing.T, npm string) string {
	t.Helper()
	dir := lintCacheDir(t)
	cli := filepath.Join(dir, "node_modules", "@redocly", "cli", "bin", "cli.js")
	if _, err := os.Stat(cli); err == nil {
		return cli
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), filepath.Base(dir)+".tmp-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp) // gone after the rename, unless another process won
	for _, name := range []string{"package.json", "package-lock.json"} {
		copyLintFile(t, filepath.Join(lintTools, name), filepath.Join(tmp, name))
	}
	npmCI(t, npm, tmp)
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(cli); statErr != nil { // else another test process won
			t.Fatalf("install redocly: %v", err)
		}
	}
	return cli
}

// npmCI installs the lock file in dir, within five minutes.
func npmCI(t *testing.T, npm, dir string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund")
	cmd.Dir, cmd.WaitDelay = dir, 10*time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		servicetest.Unavailable(t, "npm ci in %s: %v\n%s", dir, err, out)
	}
}

// lintCacheDir is ~/.cache/tinman/openapi-lint/HASH, HASH that of
// tools/openapi-lint's package.json and lock file.
func lintCacheDir(t *testing.T) string {
	t.Helper()
	h := sha256.New()
	for _, name := range []string{"package.json", "package-lock.json"} {
		data, err := os.ReadFile(filepath.Join(lintTools, name))
		if err != nil {
			t.Fatal(err)
		}
		h.Write(data)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		t.Fatalf("cache directory for the OpenAPI linter: %v", err)
	}
	dir := filepath.Join(base, "tinman", "openapi-lint", hex.EncodeToString(h.Sum(nil))[:16])
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func copyLintFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
