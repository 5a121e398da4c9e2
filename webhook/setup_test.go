package webhook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/store/storetest"
	"github.com/tinmanhq/tinman/webhook"
)

var (
	githubSecret  = []byte("It's a Secret to Everybody")
	genericSecret = []byte("ci-shared-secret")
)

// fakeSubmitter records what it accepts; it fails the first `failures` calls.
type fakeSubmitter struct {
	mu       sync.Mutex
	accepted []jobs.Request
	calls    int
	failures int
}

func (f *fakeSubmitter) Submit(_ context.Context, req jobs.Request) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.failures > 0 {
		f.failures--
		return errors.New("nats: no responders available for request")
	}
	f.accepted = append(f.accepted, req)
	return nil
}

func (f *fakeSubmitter) failNext(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures = n
}

// submitted returns the requests accepted with job id id.
func (f *fakeSubmitter) submitted(id string) []jobs.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []jobs.Request
	for _, r := range f.accepted {
		if r.ID == id {
			out = append(out, r)
		}
	}
	return out
}

func (f *fakeSubmitter) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.accepted)
}

type env struct {
	h   *webhook.Handler
	sub *fakeSubmitter
	rdb *redis.Client
	cfg webhook.Config
}

// setup returns a Handler on a Redis database of the test's own, with the
// rules of testdata/rules.json, changed by each of opts.
func setup(t testing.TB, opts ...func(*webhook.Config)) env {
	t.Helper()
	_, rdb := servicetest.Redis(t)
	cfg := webhook.Config{
		GitHubSecret:  githubSecret,
		GenericSecret: genericSecret,
		Rules:         loadRules(t, "rules.json"),
		Deliveries:    storetest.Store(t, rdb, nil, store.Config{}),
		Logger:        zerolog.New(zerolog.NewTestWriter(t)),
	}
	for _, o := range opts {
		o(&cfg)
	}
	e := env{sub: &fakeSubmitter{}, rdb: rdb, cfg: cfg}
	var err error
	if e.h, err = webhook.New(cfg, e.sub); err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

func loadRules(t testing.TB, name string) []webhook.Rule {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rules, err := webhook.LoadRules(f)
	if err != nil {
		t.Fatalf("LoadRules(%s): %v", name, err)
	}
	return rules
}

func payload(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signature is the X-Hub-Signature-256 / X-Tinman-Signature of body.
func signature(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// delivery is a GitHub delivery; an empty Signature is computed with githubSecret.
type delivery struct {
	Event, ID, Signature string
	Body                 []byte
	NoSignature          bool
	ContentType          string
}

func (e env) github(t testing.TB, d delivery) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/v1/webhooks/github", bytes.NewReader(d.Body))
	r.Header.Set("Content-Type", "application/json")
	if d.ContentType != "" {
		r.Header.Set("Content-Type", d.ContentType)
	}
	r.Header.Set("User-Agent", "GitHub-Hookshot/a1b2c3d")
	setHeader(r, "X-GitHub-Event", d.Event)
	setHeader(r, "X-GitHub-Delivery", d.ID)
	setHeader(r, "X-GitHub-Hook-ID", "498765432")
	if !d.NoSignature {
		sig := d.Signature
		if sig == "" {
			sig = signature(githubSecret, d.Body)
		}
		r.Header.Set("X-Hub-Signature-256", sig)
	}
	w := httptest.NewRecorder()
	e.h.ServeGitHub(w, r)
	return w
}

func (e env) generic(t testing.TB, body []byte, sig string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/v1/webhooks/generic", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	setHeader(r, "X-Tinman-Signature", sig)
	w := httptest.NewRecorder()
	e.h.ServeGeneric(w, r)
	return w
}

func setHeader(r *http.Request, key, value string) {
	if value != "" {
		r.Header.Set(key, value)
	}
}

// reply is the union of an answer and a problem.
type reply struct {
	Status any    `json:"status"` // a string in an answer, the HTTP status in a problem
	Reason string `json:"reason"`
	JobID  string `json:"job_id"`
	Rule   string `json:"rule"`
	Image  string `json:"image"`

	Type   string `json:"type"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Field  string `json:"field"`
	Header string `json:"header"`
}

// answer checks the status code and the content type, and decodes the body.
func answer(t testing.TB, w *httptest.ResponseRecorder, code int) reply {
	t.Helper()
	var r reply
	if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
		t.Fatalf("answer %d is not JSON: %v\n%s", w.Code, err, w.Body)
	}
	if w.Code != code {
		t.Fatalf("status = %d, want %d: %s", w.Code, code, w.Body)
	}
	want := "application/json"
	if code >= 400 {
		want = "application/problem+json"
		if r.Type == "" || r.Title == "" || r.Detail == "" || r.Status != float64(code) {
			t.Errorf("problem lacks type, title, detail or status %d: %s", code, w.Body)
		}
	}
	if got := w.Header().Get("Content-Type"); got != want {
		t.Errorf("Content-Type = %q, want %q", got, want)
	}
	return r
}

// keys returns the number of keys in the test's Redis database.
func (e env) keys(t testing.TB) int64 {
	t.Helper()
	n, err := e.rdb.DBSize(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func deployParams(t testing.TB, req jobs.Request) *jobs.DeployParams {
	t.Helper()
	p, err := req.DecodeParams()
	if err != nil {
		t.Fatalf("params of %s: %v", req.ID, err)
	}
	return p.(*jobs.DeployParams)
}
