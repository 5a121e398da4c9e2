package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/api"
	"github.com/tinmanhq/tinman/client"
)

// problemServer answers every call with status and body, and keeps the
// last request's headers.
func problemServer(t *testing.T, status int, contentType, body string) (*httptest.Server, *http.Header) {
	t.Helper()
	var seen http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

// restClientFor is the operator commands' client of target.
func restClientFor(t *testing.T, target apiTarget, timeout time.Duration) *restClient {
	t.Helper()
	c, err := newRESTClientFor(target, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func problemJSON(status int, code, detail, field string) string {
	data, _ := json.Marshal(api.Problem{Type: "urn:tinman:problem:" + code, Title: http.StatusText(status), Status: status,
		Detail: detail, Code: code, Field: field})
	return string(data)
}

func TestAPIClientMapsAnswersToExitCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		ctype  string
		body   string
		token  string
		want   int
		says   []string
	}{
		{"bad field", 400, api.ProblemContentType, problemJSON(400, "invalid_request", "must be one of redfish, ipmi", "bmc.provider"), "t",
			exitUsage, []string{"400 Bad Request", "bmc.provider (--provider): must be one of redfish, ipmi"}},
		{"unprocessable", 422, api.ProblemContentType, problemJSON(422, "invalid_request", "no", "labels.rack"), "t",
			exitUsage, []string{"422 Unprocessable Entity", "labels.rack (--label): no"}},
		{"not found", 404, api.ProblemContentType, problemJSON(404, "not_found", "server x is not enrolled", ""), "t",
			exitUsage, []string{"404 Not Found: server x is not enrolled"}},
		{"conflict", 409, api.ProblemContentType, problemJSON(409, "conflict", "busy", ""), "t", exitUsage, []string{"409 Conflict: busy"}},
		{"no token", 401, api.ProblemContentType, problemJSON(401, "unauthorized", "a valid bearer token is required", ""), "",
			exitUsage, []string{"401 Unauthorized", "no token was sent", "--token or TINMAN_TOKEN"}},
		{"wrong token", 401, api.ProblemContentType, problemJSON(401, "unauthorized", "a valid bearer token is required", ""), "t",
			exitUsage, []string{"the token from --token was refused"}},
		{"role", 403, api.ProblemContentType, problemJSON(403, "forbidden", "this needs the admin role; the token is viewer", ""), "t",
			exitUsage, []string{"403 Forbidden: this needs the admin role; the token is viewer", "use a token with the role named"}},
		{"unavailable", 503, api.ProblemContentType, problemJSON(503, "unavailable", "a backing service is unavailable", ""), "t",
			exitUnreachable, []string{"503 Service Unavailable: a backing service is unavailable"}},
		{"internal", 500, api.ProblemContentType, problemJSON(500, "internal", "internal error", ""), "t", exitUnreachable, []string{"500"}},
		{"proxy page", 502, "text/html", "<html>bad gateway</html>", "t", exitUnreachable, []string{"502 Bad Gateway: <html>bad gateway</html>"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, seen := problemServer(t, tt.status, tt.ctype, tt.body)
			c := restClientFor(t, apiTarget{URL: srv.URL, Token: tt.token, TokenFrom: "--token"}, 5*time.Second)
			_, _, err := c.Servers(context.Background(), "")
			err = withFlags(err, serverFlags)
			if got := exitCode(err); got != tt.want {
				t.Errorf("exit %d, want %d (%v)", got, tt.want, err)
			}
			for _, s := range tt.says {
				if err == nil || !strings.Contains(err.Error(), s) {
					t.Errorf("error %v does not say %q", err, s)
				}
			}
			e := apiErr(err)
			if e == nil || e.Status != tt.status {
				t.Fatalf("apiErr(%v) = %+v, want status %d", err, e, tt.status)
			}
			if got := seen.Get("Authorization"); (tt.token == "") != (got == "") || tt.token != "" && got != "Bearer "+tt.token {
				t.Errorf("Authorization %q with token %q", got, tt.token)
			}
		})
	}
}

func TestAPIClientRefusalsThatAreFailures(t *testing.T) {
	t.Parallel()
	srv, _ := problemServer(t, 409, api.ProblemContentType, problemJSON(409, "conflict", "server s is provisioning", ""))
	c := restClientFor(t, apiTarget{URL: srv.URL}, 5*time.Second)
	err := asFailure(c.RemoveServer(context.Background(), "s"), http.StatusConflict)
	if exitCode(err) != exitFailed || apiErr(err) == nil || !strings.Contains(err.Error(), "provisioning") {
		t.Errorf("a refused removal = %v (exit %d), want exit 1 with the API's reason", err, exitCode(err))
	}
}

func TestAPIClientUnreachable(t *testing.T) {
	t.Parallel()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer slow.Close()
	for name, target := range map[string]string{"closed port": "http://127.0.0.1:1", "slow answer": slow.URL} {
		c := restClientFor(t, apiTarget{URL: target}, 300*time.Millisecond)
		_, _, err := c.Job(context.Background(), "x")
		if exitCode(err) != exitUnreachable || !strings.Contains(err.Error(), "reach the API at "+target) {
			t.Errorf("%s: %v (exit %d), want exit 3", name, err, exitCode(err))
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := restClientFor(t, apiTarget{URL: slow.URL}, time.Second).Job(ctx, "x")
	if exitCode(err) != exitFailed || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("interrupted call: %v (exit %d), want exit 1", err, exitCode(err))
	}
}

func TestAPIClientAnswerNotUnderstood(t *testing.T) {
	t.Parallel()
	srv, _ := problemServer(t, 200, "application/json", `["not", "a", "job"]`)
	_, _, err := restClientFor(t, apiTarget{URL: srv.URL}, time.Second).Job(context.Background(), "x")
	if exitCode(err) != exitUnreachable || !strings.Contains(err.Error(), "another version") {
		t.Errorf("an answer of the wrong shape: %v (exit %d)", err, exitCode(err))
	}
}

func TestAPIClientResolvesURLAndToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	live := filepath.Join(dir, "dev.json")
	if err := writeDevContext(live, devContext{APIURL: "http://127.0.0.1:7777", Token: "dev-token", PID: os.Getpid()}); err != nil {
		t.Fatal(err)
	}
	none := filepath.Join(dir, "none.json")
	tests := []struct {
		name, url, token, ctx string
		want                  apiTarget
	}{
		{"the running dev", "", "", live, apiTarget{URL: "http://127.0.0.1:7777", Token: "dev-token", TokenFrom: "the `tinman dev` context file " + live}},
		{"the dev's URL given", "http://127.0.0.1:7777/", "", live, apiTarget{URL: "http://127.0.0.1:7777", Token: "dev-token", TokenFrom: "the `tinman dev` context file " + live}},
		{"another API: no dev token", "https://tinman.example.com", "", live, apiTarget{URL: "https://tinman.example.com"}},
		{"a token given", "", "mine", live, apiTarget{URL: "http://127.0.0.1:7777", Token: "mine", TokenFrom: "--token"}},
		{"no dev", "", "", none, apiTarget{URL: defaultAPIURL}},
	}
	for _, tt := range tests {
		got, err := resolveAPI(tt.url, tt.token, tt.ctx)
		if err != nil || got != tt.want {
			t.Errorf("%s: resolveAPI = %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
	for _, bad := range []string{"127.0.0.1:8080", "ftp://h", "http://"} {
		if _, err := resolveAPI(bad, "", none); exitCode(err) != exitUsage || !strings.Contains(err.Error(), "--api-url") {
			t.Errorf("resolveAPI(%q) = %v, want a usage error naming --api-url", bad, err)
		}
	}
}

func TestAPIClientSendsJSON(t *testing.T) {
	t.Parallel()
	var got struct {
		method, path, ctype, accept string
		body                        map[string]any
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.method, got.path, got.ctype, got.accept = r.Method, r.URL.RequestURI(), r.Header.Get("Content-Type"), r.Header.Get("Accept")
		_ = json.NewDecoder(r.Body).Decode(&got.body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"s-1","bmc":{"address":"h","provider":"ipmi"},"state":"enrolled","power_state":"unknown"}`))
	}))
	defer srv.Close()
	c := restClientFor(t, apiTarget{URL: srv.URL + "/"}, time.Second)
	reason := json.RawMessage(`null`)
	srvView, ans, err := c.PatchServer(context.Background(), "s-1", client.ServerPatch{Maintenance: reason})
	if err != nil || srvView.ID != "s-1" || ans.Status != 200 {
		t.Fatalf("PatchServer = %+v, %+v, %v", srvView, ans, err)
	}
	if got.method != http.MethodPatch || got.path != "/v1/servers/s-1" || got.ctype != "application/merge-patch+json" ||
		!strings.Contains(got.accept, api.ProblemContentType) {
		t.Errorf("sent %+v", got)
	}
	if v, ok := got.body["maintenance"]; !ok || v != nil || len(got.body) != 1 {
		t.Errorf("sent body %v, want exactly {\"maintenance\": null}", got.body)
	}
	if _, _, err := c.Servers(context.Background(), "rack=r1,role=db"); err != nil || got.path != "/v1/servers?selector=rack%3Dr1%2Crole%3Ddb" {
		t.Errorf("Servers sent %s (%v)", got.path, err)
	}
}
