package boot_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/boot"
	"github.com/tinmanhq/tinman/callback"
	"github.com/tinmanhq/tinman/internal/confcheck"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/store/storetest"
)

const base = "http://10.0.2.2:8081"

// env is a boot service on a store of the test's own, with server srv-1
// (boot MAC 52:54:00:0a:0b:01) provisioning for job prov-1, whose boot
// configuration has token tok-1; srv-2 is active, srv-3 has no MAC.
type env struct {
	st    *store.Store
	srv   *httptest.Server
	h     http.Handler
	files string
}

func setup(t *testing.T) *env {
	t.Helper()
	return setupWith(t, func(*boot.Config) {})
}

// setupWith is setup with the service's config changed by tune.
func setupWith(t *testing.T, tune func(*boot.Config)) *env {
	t.Helper()
	_, rdb := servicetest.Redis(t)
	st := storetest.Store(t, rdb, storetest.Outbox(t, rdb, nil, store.OutboxConfig{}), store.Config{})
	ctx := context.Background()
	for i, s := range []struct {
		id, mac, job string
		state        jobs.ServerState
	}{{"srv-1", "52:54:00:0a:0b:01", "prov-1", jobs.ServerProvisioning}, {"srv-2", "52:54:00:00:00:02", "", jobs.ServerActive}, {"srv-3", "", "", jobs.ServerAvailable}} {
		srv := jobs.Server{ID: s.id, BMC: jobs.BMC{Address: "127.0.0.1:1", Provider: jobs.ProviderRedfish}, BootMAC: s.mac, State: s.state, Job: s.job}
		if err := st.PutServer(ctx, srv, jobs.Credentials{Username: "u", Password: "p"}); err != nil {
			t.Fatalf("server %d: %v", i, err)
		}
	}
	setBoot(t, st, "srv-1", "prov-1", "tok-1")
	files := t.TempDir()
	if err := os.MkdirAll(filepath.Join(files, "demo"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(files, "demo", "disk.img"), []byte("0123456789abcdef"), 0o644); err != nil {
		t.Fatal(err)
	}
	recv := callback.NewReceiver(st, nil, zerolog.Nop())
	cfg := boot.Config{BaseURL: base + "/", FilesDir: files, Store: st, Callbacks: http.HandlerFunc(recv.ServeCallback)}
	tune(&cfg)
	svc, err := boot.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	srv := httptest.NewServer(svc.Handler())
	t.Cleanup(srv.Close)
	return &env{st: st, srv: srv, h: svc.Handler(), files: files}
}

// setBoot gives server a pending install of the demo image for job.
func setBoot(t *testing.T, st *store.Store, server, job, token string) {
	t.Helper()
	cfg := store.BootConfig{Server: server, JobID: job, Purpose: "install", Token: token, Expires: time.Now().Add(time.Hour)}
	cfg.ImageOf(jobs.Image{Name: "demo", KernelURL: "demo/vmlinuz", InitrdURL: "https://images.example.com/demo/initrd.img",
		ImageURL: "demo/disk.img", SHA256: strings.Repeat("ab", 32)})
	if err := st.SetBootConfig(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
}

func (e *env) get(t *testing.T, path string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultTransport.RoundTrip(req) // no redirects followed
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

const exit = "#!ipxe\nexit\n"

func TestChainScript(t *testing.T) {
	t.Parallel()
	e := setup(t)
	if code, body := e.get(t, "/boot/chain.ipxe"); code != 200 || body != "#!ipxe\nchain "+base+"/boot/ipxe?mac=${net0/mac}\n" {
		t.Errorf("chain.ipxe = %d %q", code, body)
	}
}

func TestInstallScriptByMAC(t *testing.T) {
	t.Parallel()
	e := setup(t)
	want := "#!ipxe\nkernel " + base + "/boot/files/demo/vmlinuz tinman.meta=" + base + "/boot/meta/tok-1 console=ttyS0\n" +
		"initrd https://images.example.com/demo/initrd.img\nboot\n"
	for _, mac := range []string{"52:54:00:0a:0b:01", "52-54-00-0A-0B-01", "52:54:00:0A:0B:01"} {
		if code, body := e.get(t, "/boot/ipxe?mac="+mac); code != 200 || body != want {
			t.Errorf("script for %s = %d %q, want %q", mac, code, body, want)
		}
	}
}

// Every machine that has no install pending boots its disk: an unknown
// MAC, no MAC, a server with no MAC, an active server (even one a stale
// configuration names), a server whose install reported done or failed.
func TestScriptExitsToDisk(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		query string
		prep  func(t *testing.T, st *store.Store)
	}{
		{"unknown MAC", "mac=52:54:00:99:99:99", nil},
		{"not a MAC", "mac=banana", nil},
		{"no MAC", "", nil},
		{"active server", "mac=52:54:00:00:00:02", nil},
		{"active server with a stale configuration", "mac=52:54:00:00:00:02", func(t *testing.T, st *store.Store) {
			setBoot(t, st, "srv-2", "prov-old", "tok-old")
		}},
		{"provisioning for another job", "mac=52:54:00:0a:0b:01", func(t *testing.T, st *store.Store) {
			setBoot(t, st, "srv-1", "prov-other", "tok-other")
		}},
		{"installed", "mac=52:54:00:0a:0b:01", func(t *testing.T, st *store.Store) {
			if err := st.RecordCallback(context.Background(), "prov-1", store.CallbackInstalled); err != nil {
				t.Fatal(err)
			}
		}},
		{"checksum mismatch", "mac=52:54:00:0a:0b:01", func(t *testing.T, st *store.Store) {
			if err := st.RecordFailure(context.Background(), "prov-1", store.CallbackChecksumMismatch, "bad"); err != nil {
				t.Fatal(err)
			}
		}},
		{"boot ended", "mac=52:54:00:0a:0b:01", func(t *testing.T, st *store.Store) {
			if err := st.ClearBootConfig(context.Background(), "srv-1", "prov-1"); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			if tt.prep != nil {
				tt.prep(t, e.st)
			}
			if code, body := e.get(t, "/boot/ipxe?"+tt.query); code != 200 || body != exit {
				t.Errorf("script = %d %q, want exit", code, body)
			}
		})
	}
}

func TestMetadata(t *testing.T) {
	t.Parallel()
	e := setup(t)
	code, body := e.get(t, "/boot/meta/tok-1")
	var m boot.Metadata
	if err := json.Unmarshal([]byte(body), &m); code != 200 || err != nil {
		t.Fatalf("meta = %d %q (%v)", code, body, err)
	}
	want := boot.Metadata{JobID: "prov-1", Server: "srv-1", Purpose: "install", Image: "demo", ImageURL: base + "/boot/files/demo/disk.img",
		SHA256: strings.Repeat("ab", 32), CallbackURL: base + "/boot/callbacks/srv-1", Token: "tok-1"}
	if m != want {
		t.Errorf("meta = %+v, want %+v", m, want)
	}
	code, body = e.get(t, "/boot/meta/tok-1?format=sh")
	wantSh := "JOB_ID='prov-1'\nSERVER='srv-1'\nPURPOSE='install'\nIMAGE='demo'\nIMAGE_URL='" + base + "/boot/files/demo/disk.img'\n" +
		"SHA256='" + strings.Repeat("ab", 32) + "'\nCALLBACK_URL='" + base + "/boot/callbacks/srv-1'\nTOKEN='tok-1'\n"
	if code != 200 || body != wantSh {
		t.Errorf("meta as sh = %d %q, want %q", code, body, wantSh)
	}
	if code, _ := e.get(t, "/boot/meta/tok-1?format=xml"); code != 400 {
		t.Errorf("meta as xml = %d, want 400", code)
	}
}

func TestMetadataShellQuotes(t *testing.T) {
	t.Parallel()
	e := setup(t)
	cfg := store.BootConfig{Server: "srv-3", JobID: "prov-3", Purpose: "install", Token: "tok-3", Expires: time.Now().Add(time.Hour)}
	cfg.ImageOf(jobs.Image{Name: "it's", KernelURL: "k", InitrdURL: "i", ImageURL: "d"})
	if err := e.st.SetBootConfig(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if _, body := e.get(t, "/boot/meta/tok-3?format=sh"); !strings.Contains(body, `IMAGE='it'\''s'`) {
		t.Errorf("meta as sh %q: the quote is not escaped", body)
	}
}

// The token is the only key, and it ends with its job.
func TestMetadataOfAnEndedJobIs404(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, tok := range []string{"tok-2", "tok-", "TOK-1"} {
		if code, _ := e.get(t, "/boot/meta/"+tok); code != 404 {
			t.Errorf("meta of token %q = %d, want 404", tok, code)
		}
	}
	if err := e.st.ClearBootConfig(context.Background(), "srv-1", "prov-1"); err != nil { // the job ended
		t.Fatal(err)
	}
	if code, _ := e.get(t, "/boot/meta/tok-1"); code != 404 {
		t.Errorf("meta of the ended job = %d, want 404", code)
	}
}

// The boot listener takes the installer's reports itself.
func TestCallbackThroughTheBootListener(t *testing.T) {
	t.Parallel()
	e := setup(t)
	post := func(server, body string) int {
		resp, err := http.Post(e.srv.URL+"/boot/callbacks/"+server, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("srv-1", `{"job_id":"prov-1","token":"wrong","event":"installed"}`); code != 401 {
		t.Errorf("a wrong token = %d, want 401", code)
	}
	if code := post("srv-1", `{"job_id":"prov-1","token":"tok-1","event":"installed"}`); code != 204 {
		t.Errorf("report = %d, want 204", code)
	}
	if ok, err := e.st.CallbackReceived(context.Background(), "prov-1", store.CallbackInstalled); !ok || err != nil {
		t.Errorf("installed recorded %v, %v", ok, err)
	}
}

func TestFiles(t *testing.T) {
	t.Parallel()
	e := setup(t)
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(e.files, "demo", "escape")); err != nil {
		t.Fatal(err)
	}
	if code, body := e.get(t, "/boot/files/demo/disk.img"); code != 200 || body != "0123456789abcdef" {
		t.Errorf("file = %d %q", code, body)
	}
	if code, body := e.get(t, "/boot/files/demo/disk.img", "Range", "bytes=4-7"); code != 206 || body != "4567" {
		t.Errorf("range = %d %q, want 206 4567", code, body)
	}
	for _, path := range []string{"/boot/files/demo", "/boot/files/demo/", "/boot/files/", "/boot/files/nope",
		"/boot/files/demo/escape", "/boot/files/%2e%2e/%2e%2e/etc/passwd", "/boot/files/demo/..%2f..%2fsecret"} {
		if code, body := e.get(t, path); code == 200 || code == 206 || strings.Contains(body, "secret") || strings.Contains(body, "disk.img") {
			t.Errorf("%s = %d %q: want no file, no listing", path, code, body)
		}
	}
}

func TestNoFilesFolder(t *testing.T) {
	t.Parallel()
	_, rdb := servicetest.Redis(t)
	st := storetest.Store(t, rdb, nil, store.Config{})
	svc, err := boot.New(boot.Config{BaseURL: base, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	svc.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/boot/files/demo/disk.img", nil))
	if rec.Code != 404 {
		t.Errorf("a file with no folder = %d, want 404", rec.Code)
	}
}

// downStore fails every read, as a store whose Redis is down.
type downStore struct{}

var errDown = errors.New("redis: connection refused")

func (downStore) ServerByMAC(context.Context, string) (jobs.Server, error) {
	return jobs.Server{}, errDown
}
func (downStore) BootConfig(context.Context, string) (store.BootConfig, error) {
	return store.BootConfig{}, errDown
}
func (downStore) BootConfigByToken(context.Context, string) (store.BootConfig, error) {
	return store.BootConfig{}, errDown
}
func (downStore) CallbackReceived(context.Context, string, string) (bool, error) {
	return false, errDown
}
func (downStore) Failure(context.Context, string) (*store.InstallerFailure, error) {
	return nil, errDown
}

// A machine that asks while the records cannot be read is told to ask
// again, not to boot its disk mid-install; its metadata is a 503.
func TestRecordsUnavailable(t *testing.T) {
	t.Parallel()
	svc, err := boot.New(boot.Config{BaseURL: base, Store: downStore{}})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	svc.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/boot/ipxe?mac=52:54:00:0a:0b:01", nil))
	if body := rec.Body.String(); rec.Code != 200 || !strings.Contains(body, "sleep 5\nchain "+base+"/boot/ipxe?mac=52%3A54%3A00%3A0a%3A0b%3A01") {
		t.Errorf("script with the records down = %d %q, want a retry", rec.Code, body)
	}
	rec = httptest.NewRecorder()
	svc.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/boot/meta/tok-1", nil))
	if rec.Code != 503 {
		t.Errorf("meta with the records down = %d, want 503", rec.Code)
	}
}

func TestConfigIsChecked(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cfg   boot.Config
		field string
	}{
		{"no store", boot.Config{BaseURL: base}, "Store"},
		{"no base URL nor listen URL", boot.Config{Store: downStore{}}, "ListenURL"},
		{"a listen URL not http", boot.Config{Store: downStore{}, ListenURL: "ftp://127.0.0.1:8081"}, "ListenURL"},
		{"a base URL with a query", boot.Config{Store: downStore{}, BaseURL: base + "/?x=1"}, "BaseURL"},
		{"a base URL with credentials", boot.Config{Store: downStore{}, BaseURL: "http://u:p@10.0.0.1"}, "BaseURL"},
		{"a folder that is not there", boot.Config{Store: downStore{}, BaseURL: base, FilesDir: "/nonexistent/images"}, "FilesDir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := boot.New(tt.cfg)
			fields := confcheck.Fields(err)
			if len(fields) != 1 || fields[0].Field != tt.field {
				t.Errorf("New = %v, want a fault of %s", err, tt.field)
			}
		})
	}
}
