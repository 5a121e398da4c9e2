package ui_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tinmanhq/tinman/ui"
)

func setup(t *testing.T) *httptest.Server {
	t.Helper()
	c, err := ui.New()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, srv *httptest.Server, method, path string, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestServesTheFilesWithTheirTypes(t *testing.T) {
	t.Parallel()
	srv := setup(t)
	for _, tt := range []struct {
		path, contentType, contains string
	}{
		{"/ui/", "text/html", `<script type="module" src="app.js">`},
		{"/ui/index.html", "text/html", "<title>Tinman</title>"},
		{"/ui/app.js", "text/javascript", "takeTokenFromFragment"},
		{"/ui/lib/live.js", "text/javascript", "Last-Event-ID"},
		{"/ui/style.css", "text/css", ":root"},
	} {
		resp, body := get(t, srv, "GET", tt.path)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), tt.contentType) || !strings.Contains(body, tt.contains) {
			t.Errorf("%s: %d %q, want 200 %s with %q", tt.path, resp.StatusCode, resp.Header.Get("Content-Type"), tt.contentType, tt.contains)
		}
		for name, want := range map[string]string{"Content-Security-Policy": ui.ContentSecurityPolicy, "X-Content-Type-Options": "nosniff",
			"Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY", "Cache-Control": "no-cache"} {
			if got := resp.Header.Get(name); got != want {
				t.Errorf("%s: %s %q, want %q", tt.path, name, got, want)
			}
		}
	}
}

func TestRefusesWhatIsNoFile(t *testing.T) {
	t.Parallel()
	srv := setup(t)
	for _, path := range []string{"/ui/nope.js", "/ui/lib/", "/ui/lib", "/ui/../ui.go", "/ui/assets/app.js", "/elsewhere", "/ui/%2e%2e/ui.go"} {
		resp, _ := get(t, srv, "GET", path)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, resp.StatusCode)
		}
		if resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: no Content-Security-Policy", path)
		}
	}
}

func TestRevalidatesByETag(t *testing.T) {
	t.Parallel()
	srv := setup(t)
	resp, _ := get(t, srv, "GET", "/ui/app.js")
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	again, body := get(t, srv, "GET", "/ui/app.js", "If-None-Match", etag)
	if again.StatusCode != http.StatusNotModified || body != "" {
		t.Errorf("revalidation: %d with %d bytes, want 304 and none", again.StatusCode, len(body))
	}
	head, body := get(t, srv, "HEAD", "/ui/")
	if head.StatusCode != http.StatusOK || body != "" {
		t.Errorf("HEAD: %d with %d bytes", head.StatusCode, len(body))
	}
}

// assetFiles returns every file of the console, by path under assets/.
func assetFiles(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir("assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		out[p] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAssetsStayOnThisOrigin: nothing is loaded from another host (no CDN),
// no text is parsed as HTML or code, no inline script or style (the
// Content-Security-Policy would refuse it anyway), and no token in a URL.
func TestAssetsStayOnThisOrigin(t *testing.T) {
	t.Parallel()
	forbidden := map[string]*regexp.Regexp{
		"another host":       regexp.MustCompile(`(?i)(src|href|import|url)\s*[=(]?\s*["'(]?\s*(https?:)?//`),
		"HTML parsing":       regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write`),
		"code from text":     regexp.MustCompile(`\beval\(|new Function\(|setTimeout\(\s*["']`),
		"an inline style":    regexp.MustCompile(`<style|\sstyle="`),
		"an EventSource":     regexp.MustCompile(`new EventSource`),
		"a token in a query": regexp.MustCompile(`[?&](token|access_token)=`),
		"a persistent store": regexp.MustCompile(`localStorage|document\.cookie`),
		"a style attribute":  regexp.MustCompile(`setAttribute\(\s*['"]style`),
	}
	files := assetFiles(t)
	if len(files) < 10 {
		t.Fatalf("only %d files under assets", len(files))
	}
	scripts := regexp.MustCompile(`<script[^>]*>`)
	for path, text := range files {
		for what, re := range forbidden {
			if m := re.FindString(text); m != "" {
				t.Errorf("%s has %s: %q", path, what, m)
			}
		}
		for _, tag := range scripts.FindAllString(text, -1) {
			if !strings.Contains(tag, " src=") {
				t.Errorf("%s has an inline script: %s", path, tag)
			}
		}
	}
}

// TestEveryModuleIsServed: each import of a module names a file the console serves.
func TestEveryModuleIsServed(t *testing.T) {
	t.Parallel()
	srv := setup(t)
	imports := regexp.MustCompile(`(?m)^import .* from '(\.{1,2}/[^']+)';$`)
	for path, text := range assetFiles(t) {
		if !strings.HasSuffix(path, ".js") {
			continue
		}
		for _, m := range imports.FindAllStringSubmatch(text, -1) {
			target := filepath.ToSlash(filepath.Join(filepath.Dir(strings.TrimPrefix(path, "assets/")), m[1]))
			if resp, _ := get(t, srv, "GET", "/ui/"+target); resp.StatusCode != http.StatusOK {
				t.Errorf("%s imports %s: /ui/%s is %d", path, m[1], target, resp.StatusCode)
			}
		}
	}
}

// TestEveryModuleIsPreloaded: index.html names every module, so that the
// browser fetches them all at once instead of one level of imports at a time.
func TestEveryModuleIsPreloaded(t *testing.T) {
	t.Parallel()
	files := assetFiles(t)
	index := files[filepath.Join("assets", "index.html")]
	for path := range files {
		name := filepath.ToSlash(strings.TrimPrefix(path, "assets"+string(filepath.Separator)))
		if strings.HasSuffix(name, ".js") && name != "app.js" && !strings.Contains(index, `<link rel="modulepreload" href="`+name+`">`) {
			t.Errorf("index.html does not preload %s", name)
		}
	}
}
