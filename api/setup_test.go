package api

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/natsembed"
	"github.com/tinmanhq/tinman/schemas"
	"github.com/tinmanhq/tinman/servicetest"
	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/store/storetest"
	"github.com/tinmanhq/tinman/submit"
)

// env is an API on real NATS (embedded, its own) and real Redis (a
// database of its own), served by httptest, with one token per role.
type env struct {
	api    *API
	srv    *httptest.Server
	nats   *natsembed.Server
	js     jetstream.JetStream
	rdb    *redis.Client
	store  *store.Store
	logs   *servicetest.Buffer
	tokens map[Role]string
}

// Test tokens, one per role.
var testTokens = map[Role]string{
	RoleViewer:   "viewer-token-0123456789",
	RoleOperator: "operator-token-0123456789",
	RoleAdmin:    "admin-token-0123456789",
}

// setup starts NATS, Redis and the API; tune changes the config first.
func setup(t *testing.T, tune ...func(*Config)) *env {
	t.Helper()
	e := &env{nats: servicetest.EmbeddedNATS(t, t.TempDir()), logs: &servicetest.Buffer{}, tokens: testTokens}
	_, e.js = servicetest.JetStream(t, e.nats.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sc := events.DefaultStreamConfig()
	sc.Storage = jetstream.MemoryStorage
	if err := events.EnsureStreams(ctx, e.js, sc); err != nil {
		t.Fatal(err)
	}
	_, e.rdb = servicetest.Redis(t)
	outbox := storetest.Outbox(t, e.rdb, events.NewPublisher(e.js), store.OutboxConfig{Logger: zerolog.Nop()})
	e.store = storetest.Store(t, e.rdb, outbox, store.Config{Logger: zerolog.Nop(), SecretKey: store.NewKey()})
	e.api = mustNew(t, e.config(t, tune...))
	t.Cleanup(func() { _ = e.api.Close() })
	e.srv = httptest.NewServer(e.api.Handler())
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) config(t *testing.T, tune ...func(*Config)) Config {
	t.Helper()
	v, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	tokens := &Tokens{}
	for role, tok := range e.tokens {
		tokens.AddPlain(role, tok)
	}
	cfg := Config{
		Logger: zerolog.New(e.logs).Level(zerolog.DebugLevel), Store: e.store,
		Submitter: e.submitter(t),
		Watcher:   events.NewWatcher(e.js), Validator: v, Tokens: tokens,
	}
	for _, f := range tune {
		f(&cfg)
	}
	return cfg
}

// submitter is the API's one way to submit, recording in the test's store.
func (e *env) submitter(t *testing.T) *submit.Submitter {
	t.Helper()
	s, err := submit.New(e.js, submit.Config{Timeout: 2 * time.Second, Recorder: e.store})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// answer is an HTTP answer, read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// problem decodes the answer as a Problem, failing when it is not one.
func (a answer) problem(t *testing.T) Problem {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != ProblemContentType {
		t.Fatalf("status %d with Content-Type %q, want %s: %s", a.status, ct, ProblemContentType, a.body)
	}
	var p Problem
	if err := json.Unmarshal(a.body, &p); err != nil {
		t.Fatalf("problem body %s: %v", a.body, err)
	}
	if p.Status != a.status || p.Type == "" || p.Title == "" || p.Code == "" {
		t.Errorf("incomplete problem for status %d: %+v", a.status, p)
	}
	return p
}

// decode decodes a JSON answer into v.
func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("decode %s: %v", a.body, err)
	}
}

// do sends a request as role (RoleNone: no token) and reads the answer.
func (e *env) do(t *testing.T, role Role, method, path, body string, headers ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if role != RoleNone {
		req.Header.Set("Authorization", "Bearer "+e.tokens[role])
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return send(t, req)
}

func send(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s %s: %v", req.Method, req.URL.Path, err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: data}
}

// want fails the test unless the answer has status.
func want(t *testing.T, a answer, status int) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.body)
	}
}

// enrol puts a server in the registry directly.
func (e *env) enrol(t *testing.T, id string, labels map[string]string) {
	t.Helper()
	srv := jobs.Server{ID: id, BMC: jobs.BMC{Address: "127.0.0.1:1", Provider: jobs.ProviderRedfish}, Labels: labels}
	if err := e.store.EnrollServer(context.Background(), srv, jobs.Credentials{Username: "u", Password: "p"}); err != nil {
		t.Fatal(err)
	}
}

// accept makes the job record, as a dispatcher would.
func (e *env) accept(t *testing.T, req jobs.Request) jobs.Job {
	t.Helper()
	job, _, err := e.store.Accept(context.Background(), jobs.NewJob(req, 5, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	return job
}

// requests returns the messages in TINMAN_REQUESTS.
func (e *env) requests(t *testing.T) []jetstream.RawStreamMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := e.js.Stream(ctx, events.RequestsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, *m)
	}
	return out
}

// sse is an open event stream.
type sse struct {
	resp *http.Response
	rd   *bufio.Reader
}

// sseFrame is one event or comment of a stream.
type sseFrame struct {
	id, event, data, comment string
}

// stream opens GET /v1/events?query as a viewer.
func (e *env) stream(t *testing.T, ctx context.Context, query string, headers ...string) *sse {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/v1/events?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.tokens[RoleViewer])
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("event stream: %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	return &sse{resp: resp, rd: bufio.NewReader(resp.Body)}
}

// next reads the next frame.
func (s *sse) next(t *testing.T) sseFrame {
	t.Helper()
	var f sseFrame
	for {
		line, err := s.rd.ReadString('\n')
		if err != nil {
			t.Fatalf("read event stream: %v", err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			return f
		case strings.HasPrefix(line, ":"):
			f.comment = strings.TrimSpace(line[1:])
		case strings.HasPrefix(line, "id: "):
			f.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			f.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			f.data += line[6:]
		}
	}
}

// nextEvent reads frames until an event.
func (s *sse) nextEvent(t *testing.T) sseFrame {
	t.Helper()
	for {
		if f := s.next(t); f.event != "" {
			return f
		}
	}
}

// publishEvent publishes a job event about server for job and returns its stream sequence.
func (e *env) publishEvent(t *testing.T, typ events.Type, server, jobID string) {
	t.Helper()
	data := map[string]any{"job_id": jobID, "job_type": "power", "server": server, "state": "queued", "seq": 1}
	ev, err := events.New("/tinman/test", typ, server, data)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := events.NewPublisher(e.js).Publish(ctx, ev); err != nil {
		t.Fatal(err)
	}
}

// mustNew is New for a test: a Config it refuses fails the test.
func mustNew(t testing.TB, cfg Config) *API {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
