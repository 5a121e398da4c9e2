package boot_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tinmanhq/tinman/boot"
)

// listenURL is the address the Host-following service listens on.
const listenURL = "http://127.0.0.1:8081"

// getHost answers path on e's handler for a request whose Host is host,
// whatever bytes it holds (a client's library would refuse some).
func (e *env) getHost(t *testing.T, host, path string) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Host = host
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s (Host %q) = %d %q", path, host, rec.Code, rec.Body)
	}
	return rec.Body.String()
}

// urlsFor are the URLs the service hands a machine that reached it as
// host: the chain script's, the install script's and the metadata's.
func (e *env) urlsFor(t *testing.T, host string) []string {
	t.Helper()
	chain := e.getHost(t, host, "/boot/chain.ipxe")
	script := e.getHost(t, host, "/boot/ipxe?mac=52:54:00:0a:0b:01")
	var meta boot.Metadata
	if err := json.Unmarshal([]byte(e.getHost(t, host, "/boot/meta/tok-1")), &meta); err != nil {
		t.Fatal(err)
	}
	var urls []string
	for _, text := range []string{chain, script} {
		for _, f := range strings.Fields(text) {
			f = strings.TrimPrefix(f, "tinman.meta=")
			if strings.Contains(f, "://") {
				urls = append(urls, f)
			}
		}
	}
	return append(urls, meta.ImageURL, meta.CallbackURL)
}

// With no BaseURL, every URL handed out (but an image's absolute one) is on
// the Host the machine used: a VM reaching the host as 10.0.2.2 and a
// process on the host each get URLs they can reach. A Host that is not
// host[:port] falls back to the listen address, and nothing of it reaches
// a script.
func TestURLsFollowTheHost(t *testing.T) {
	t.Parallel()
	e := setupWith(t, func(c *boot.Config) { c.BaseURL, c.ListenURL = "", listenURL })
	tests := []struct{ host, want string }{
		{"10.0.2.2:8081", "http://10.0.2.2:8081"},
		{"127.0.0.1:8081", "http://127.0.0.1:8081"},
		{"boot.lab.example", "http://boot.lab.example"},
		{"[fd00::1]:8081", "http://[fd00::1]:8081"},
		{"", listenURL},
		{"10.0.2.2:8081\nchain http://evil.example/x", listenURL},
		{"evil.example/x?", listenURL},
		{"evil.example x", listenURL},
		{"${net0/mac}", listenURL},
		{"user@evil.example", listenURL},
		{"10.0.2.2:8081:1", listenURL},
		{"10.0.2.2:99999", listenURL},
		{"10.0.2.2:", listenURL},
		{"[fd00::1%25eth0]:8081", listenURL},
		{"-evil.example", listenURL},
		{"evil..example", listenURL},
		{"::1", listenURL},
	}
	for _, tt := range tests {
		urls := e.urlsFor(t, tt.host)
		if len(urls) != 6 {
			t.Fatalf("Host %q: URLs %q, want 6", tt.host, urls)
		}
		for _, u := range urls {
			if u != "https://images.example.com/demo/initrd.img" && !strings.HasPrefix(u, tt.want+"/boot/") {
				t.Errorf("Host %q: URL %q, want it on %s", tt.host, u, tt.want)
			}
		}
	}
}

// BaseURL, when set, wins over any Host.
func TestBaseURLWinsOverTheHost(t *testing.T) {
	t.Parallel()
	e := setupWith(t, func(c *boot.Config) { c.ListenURL = listenURL })
	for _, u := range e.urlsFor(t, "127.0.0.1:8081") {
		if u != "https://images.example.com/demo/initrd.img" && !strings.HasPrefix(u, base+"/boot/") {
			t.Errorf("URL %q, want it on %s", u, base)
		}
	}
}
