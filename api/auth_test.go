package api

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseTokens(t *testing.T) {
	t.Parallel()
	spec := "admin:" + HashToken("a-very-secret-admin") + ", viewer:" + HashToken("a-very-secret-viewer") + ","
	tokens, err := ParseTokens(spec)
	if err != nil {
		t.Fatal(err)
	}
	if tokens.Len() != 2 {
		t.Fatalf("%d tokens, want 2", tokens.Len())
	}
	for token, role := range map[string]Role{"a-very-secret-admin": RoleAdmin, "a-very-secret-viewer": RoleViewer} {
		if id, ok := tokens.Authenticate(token); !ok || id.Role != role || strings.Contains(id.Name, token) {
			t.Errorf("token of %s: %+v %v", role, id, ok)
		}
	}
	if _, ok := tokens.Authenticate("a-very-secret-admin "); ok {
		t.Error("a different token was accepted")
	}
	for _, bad := range []string{"admin", "root:sha256:" + strings.Repeat("0", 64), "admin:plain-token-here",
		"admin:sha256:abc", "admin:sha256:" + strings.Repeat("z", 64)} {
		_, err := ParseTokens(bad)
		if !errors.Is(err, ErrInvalidTokens) {
			t.Errorf("ParseTokens(%q): %v, want ErrInvalidTokens", bad, err)
		}
		if err != nil && strings.Contains(err.Error(), "plain-token-here") {
			t.Errorf("the error shows the token: %v", err)
		}
	}
}

func TestLoadTokenFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tokens")
	text := "# tokens\n\noperator:plain-operator-token-1\nadmin:" + HashToken("hashed-admin-token-1") + "\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens, err := LoadTokenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := tokens.Authenticate("plain-operator-token-1"); !ok || id.Role != RoleOperator {
		t.Errorf("plain token: %+v %v", id, ok)
	}
	if id, ok := tokens.Authenticate("hashed-admin-token-1"); !ok || id.Role != RoleAdmin {
		t.Errorf("hashed token: %+v %v", id, ok)
	}
	for _, bad := range []string{"operator:short\n", "boss:plain-operator-token-1\n", "no-colon\n"} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadTokenFile(path); !errors.Is(err, ErrInvalidTokens) || !strings.Contains(err.Error(), "line 1") {
			t.Errorf("token file %q: %v", bad, err)
		}
	}
	if _, err := LoadTokenFile(filepath.Join(t.TempDir(), "none")); !errors.Is(err, ErrInvalidTokens) {
		t.Errorf("missing file: %v", err)
	}
}

// concrete fills the path parameters of a route pattern.
func concrete(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	return method, strings.ReplaceAll(path, "{id}", "x1")
}

// TestEveryRouteEnforcesItsRole walks the route table: without a token or
// with a wrong one 401 and WWW-Authenticate, with a lower role 403, with
// the role itself neither.
func TestEveryRouteEnforcesItsRole(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, rt := range e.api.routes() {
		method, path := concrete(rt.pattern)
		t.Run(rt.pattern, func(t *testing.T) {
			if rt.role == RoleNone {
				if a := e.callShort(t, RoleNone, method, path); a.status == 401 || a.status == 403 {
					t.Errorf("a public route answered %d without a token", a.status)
				}
				return
			}
			a := e.callShort(t, RoleNone, method, path)
			if a.status != http.StatusUnauthorized || !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("no token: %d, WWW-Authenticate %q", a.status, a.header.Get("WWW-Authenticate"))
			}
			a.problem(t)
			bad := *e
			bad.tokens = map[Role]string{RoleAdmin: "not-a-token-at-all"}
			if a := bad.callShort(t, RoleAdmin, method, path); a.status != http.StatusUnauthorized {
				t.Errorf("wrong token: %d", a.status)
			}
			for role := RoleViewer; role < rt.role; role++ {
				if a := e.callShort(t, role, method, path); a.status != http.StatusForbidden {
					t.Errorf("%s: %d, want 403", role, a.status)
				}
			}
			if a := e.callShort(t, rt.role, method, path); a.status == 401 || a.status == 403 {
				t.Errorf("%s: %d %s", rt.role, a.status, a.body)
			}
		})
	}
}

// callShort is do with a deadline, for routes that stream.
func (e *env) callShort(t *testing.T, role Role, method, path string) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, e.srv.URL+path, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if role != RoleNone {
		req.Header.Set("Authorization", "Bearer "+e.tokens[role])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 4096)
	n, _ := resp.Body.Read(buf)
	return answer{status: resp.StatusCode, header: resp.Header, body: buf[:n]}
}

func TestInsecureModeNeedsNoToken(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *Config) { c.Tokens, c.InsecureNoAuth = nil, true })
	want(t, e.do(t, RoleNone, "GET", "/v1/servers", ""), http.StatusOK)
	want(t, e.do(t, RoleNone, "DELETE", "/v1/servers/none", ""), http.StatusNotFound)
}

func TestNoTokensConfiguredRefusesAll(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *Config) { c.Tokens = nil })
	want(t, e.do(t, RoleAdmin, "GET", "/v1/servers", ""), http.StatusUnauthorized)
	want(t, e.do(t, RoleNone, "GET", "/healthz", ""), http.StatusOK)
}

// Basic auth carries a token only to the queue monitor, which browsers
// open: elsewhere it is refused, so that cached browser credentials cannot
// act on the API from another page.
func TestBasicAuthOnlyForTheMonitor(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, path := range []string{"/v1/jobs", "/v1/servers", "/metrics"} {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
		req.SetBasicAuth("anyone", testTokens[RoleAdmin])
		if a := send(t, req); a.status != http.StatusUnauthorized {
			t.Errorf("GET %s with the token as a Basic password: %d, want 401", path, a.status)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/v1/jobs", strings.NewReader(`{"type":"power","server":"srv-1","params":{"action":"on"}}`))
	req.SetBasicAuth("anyone", testTokens[RoleAdmin])
	if a := send(t, req); a.status != http.StatusUnauthorized {
		t.Errorf("POST /v1/jobs with the token as a Basic password: %d, want 401", a.status)
	}
}
