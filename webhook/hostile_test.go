package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/hostiletest"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/store/storetest"
	"github.com/tinmanhq/tinman/submit"
	"github.com/tinmanhq/tinman/webhook"
)

// TestHostileWebhooks walks the catalogue of hostile deliveries
// (testdata/hostile, edge "webhook") against both routes, wired as
// tinman api wires them (deliveries in Redis, deploys submitted to NATS):
// each gets its status and the field or header named, or is a duplicate
// of an earlier delivery; none submits a job or changes Redis; a new
// delivery is still accepted at the end.
func TestHostileWebhooks(t *testing.T) {
	t.Parallel()
	h := setupHostileWebhooks(t)
	hostiletest.Run(t, "testdata/hostile", "webhook", func(t *testing.T, c hostiletest.Case) {
		before, published := servicetest.RedisSnapshot(t, h.rdb), h.published(t)
		h.check(t, c, h.deliver(t, c))
		before.Unchanged(t, h.rdb)
		if n := h.published(t) - published; n != 0 {
			t.Errorf("%d requests published: a deploy was submitted", n)
		}
	})
	good := `{"delivery_id":"ci-after","image":"u","servers":["sim-01"]}`
	if a := h.deliver(t, hostiletest.Case{Path: "/v1/webhooks/generic", Text: &good}); a.status != http.StatusAccepted {
		t.Errorf("a new delivery after the hostile ones: %d %s", a.status, a.body)
	}
}

// hostileWebhooks is the webhook handler behind an HTTP server, with a
// generic delivery (ci-seed) and a GitHub push (gh-seed) accepted before.
type hostileWebhooks struct {
	env
	js  jetstream.JetStream
	srv *httptest.Server
}

// seeds are the deliveries accepted before the cases, which replays repeat.
var seeds = []hostiletest.Case{
	{Path: "/v1/webhooks/generic", Text: ptr(`{"delivery_id":"ci-seed","image":"ubuntu-24.04","servers":["sim-01"]}`)},
	{Path: "/v1/webhooks/github", Text: ptr(seedPush),
		Headers: [][2]string{{"X-GitHub-Event", "push"}, {"X-GitHub-Delivery", "gh-seed"}}},
}

const seedPush = `{"ref":"refs/heads/main","after":"9f2c4e1a7b3d5c8e0f1a2b3c4d5e6f708192a3b4","repository":{"full_name":"tinmanhq/os-images"}}`

func ptr(s string) *string { return &s }

func setupHostileWebhooks(t *testing.T) *hostileWebhooks {
	t.Helper()
	h := &hostileWebhooks{js: servicetest.Streams(t)}
	h.env = setup(t, func(c *webhook.Config) { c.Logger = zerolog.Nop() })
	st := storetest.Store(t, h.rdb, nil, store.Config{})
	sub, err := submit.New(h.js, submit.Config{Recorder: st})
	if err != nil {
		t.Fatal(err)
	}
	h.cfg.Deliveries = st
	if h.h, err = webhook.New(h.cfg, natsSubmitter{sub}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/webhooks/github", h.h.ServeGitHub)
	mux.HandleFunc("POST /v1/webhooks/generic", h.h.ServeGeneric)
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	for _, s := range seeds {
		if a := h.deliver(t, s); a.status != http.StatusAccepted {
			t.Fatalf("seed delivery to %s: %d %s", s.Path, a.status, a.body)
		}
	}
	return h
}

// natsSubmitter submits as tinman api does: a submitted record, then NATS.
type natsSubmitter struct{ s *submit.Submitter }

func (n natsSubmitter) Submit(ctx context.Context, req jobs.Request) error {
	_, err := n.s.Submit(ctx, req, nil)
	return err
}

// webhookAnswer is an answer, read whole.
type webhookAnswer struct {
	status int
	header http.Header
	body   []byte
}

// deliver sends c to its route, signed as c.Sign says.
func (h *hostileWebhooks) deliver(t *testing.T, c hostiletest.Case) webhookAnswer {
	t.Helper()
	body, err := c.Body()
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+c.Path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for _, hv := range c.Headers {
		if strings.EqualFold(hv[0], "Content-Type") {
			req.Header.Del("Content-Type")
		}
	}
	for _, hv := range c.Headers {
		req.Header.Add(hv[0], hv[1])
	}
	if name, value := signatureOf(c, body); value != "" {
		req.Header.Set(name, value)
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", c.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return webhookAnswer{status: resp.StatusCode, header: resp.Header, body: data}
}

// signatureOf is the signature header of c: its route's, made as c.Sign says.
func signatureOf(c hostiletest.Case, body []byte) (string, string) {
	name, secret, other := webhook.GenericSignatureHeader, genericSecret, githubSecret
	if strings.HasSuffix(c.Path, "/github") {
		name, secret, other = webhook.GitHubSignatureHeader, githubSecret, genericSecret
	}
	right := signature(secret, body)
	switch c.Sign {
	case "":
		return name, right
	case "none":
		return name, ""
	case "other-secret":
		return name, signature(other, body)
	case "other-body":
		return name, signature(secret, []byte(`{}`))
	case "body-and-newline":
		return name, signature(secret, append(body, '\n'))
	case "sha1":
		return name, "sha1=" + strings.TrimPrefix(right, "sha256=")
	case "upper-prefix":
		return name, "SHA256=" + strings.TrimPrefix(right, "sha256=")
	case "empty-digest":
		return name, "sha256="
	case "not-hex":
		return name, "sha256=" + strings.Repeat("zz", 32)
	case "cut-short":
		return name, right[:len(right)-2]
	case "two-digests":
		return name, right + "," + right
	}
	return name, c.Sign // written out in the case
}

// check fails the test unless a is the answer c wants.
func (h *hostileWebhooks) check(t *testing.T, c hostiletest.Case, a webhookAnswer) {
	t.Helper()
	if a.status != c.Want.Status {
		t.Fatalf("status %d, want %d: %s", a.status, c.Want.Status, a.body)
	}
	var r reply
	if err := json.Unmarshal(a.body, &r); err != nil {
		if a.status == http.StatusMethodNotAllowed || a.status == http.StatusNotFound {
			return // the mux's own answer: the route was not reached
		}
		t.Fatalf("answer %d is not JSON: %s", a.status, a.body)
	}
	if c.Want.Outcome == "duplicate" {
		if r.Status != "duplicate" || r.JobID == "" {
			t.Errorf("answer %s, want a duplicate of an earlier delivery", a.body)
		}
		return
	}
	if ct := a.header.Get("Content-Type"); ct != "application/problem+json" || r.Field != c.Want.Field || r.Header != c.Want.Header {
		t.Errorf("problem %s (%s), want field %q header %q", a.body, ct, c.Want.Field, c.Want.Header)
	}
}

// published is the last sequence of the requests stream.
func (h *hostileWebhooks) published(t *testing.T) uint64 {
	t.Helper()
	return servicetest.StreamState(t, h.js, events.RequestsStream).LastSeq
}
