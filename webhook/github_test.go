package webhook_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/webhook"
)

func intp(n int) *int { return &n }

// TestGitHubEvents sends each documented payload once, signed, and checks
// the answer and what was submitted.
func TestGitHubEvents(t *testing.T) {
	t.Parallel()
	e := setup(t)
	tests := []struct {
		file, event string
		code        int
		status      string
		reason      string // for ignored: a part of the reason
		rule        string
		want        *jobs.DeployParams // for accepted
		priority    jobs.Priority
	}{
		{file: "push-main.json", event: "push", code: 202, status: "accepted", rule: "main-push",
			want:     &jobs.DeployParams{Image: "registry.example.com/os/ubuntu:main-9f2c4e1", Servers: []string{"sim-03"}},
			priority: jobs.PriorityCritical},
		{file: "push-tag.json", event: "push", code: 202, status: "accepted", rule: "ubuntu-tags",
			want: &jobs.DeployParams{Image: "registry.example.com/os/ubuntu:v24.04.3",
				Selector: map[string]string{"os": "ubuntu", "env": "staging"}, BatchSize: intp(4)},
			priority: jobs.PriorityLow},
		{file: "push-delete-branch.json", event: "push", code: 202, status: "ignored",
			reason: "push deletes refs/heads/feature/old-kernel"},
		{file: "release-published.json", event: "release", code: 202, status: "accepted", rule: "ubuntu-release",
			want: &jobs.DeployParams{Image: "registry.example.com/os/ubuntu:v24.04.3",
				Selector: map[string]string{"os": "ubuntu", "env": "prod"}, BatchSize: intp(2), MaxFailures: 1}},
		{file: "release-created.json", event: "release", code: 202, status: "ignored",
			reason: `release action "created" does not deploy`},
		{file: "workflow-run-success.json", event: "workflow_run", code: 202, status: "accepted", rule: "main-canary",
			want: &jobs.DeployParams{Image: "registry.example.com/os/ubuntu:sha-9f2c4e1", Servers: []string{"sim-01", "sim-02"}}},
		{file: "workflow-run-failure.json", event: "workflow_run", code: 202, status: "ignored",
			reason: `workflow_run "build-images" concluded "failure", not success`},
		{file: "ping.json", event: "ping", code: 200, status: "pong"},
		{file: "ping.json", event: "issues", code: 202, status: "ignored", reason: `event "issues" does not deploy`},
	}
	for i, tt := range tests {
		t.Run(tt.file+"/"+tt.event, func(t *testing.T) {
			t.Parallel()
			id := fmt.Sprintf("7f1c2a10-cb41-11ef-8e5a-%012d", i)
			w := e.github(t, delivery{Event: tt.event, ID: id, Body: payload(t, tt.file)})
			got := answer(t, w, tt.code)
			if got.Status != tt.status || !strings.Contains(got.Reason, tt.reason) {
				t.Fatalf("answer = %s, want status %q with reason containing %q", w.Body, tt.status, tt.reason)
			}
			if tt.want == nil {
				if got.JobID != "" {
					t.Errorf("job_id %q for a delivery that starts nothing", got.JobID)
				}
				return
			}
			checkDeploy(t, e, got, tt.rule, id, tt.want, tt.priority)
		})
	}
}

// checkDeploy checks that exactly one request was submitted for an accepted
// answer, and that it is the deploy wanted.
func checkDeploy(t *testing.T, e env, got reply, rule, id string, want *jobs.DeployParams, priority jobs.Priority) {
	t.Helper()
	if got.Rule != rule || got.Image != want.Image || !jobs.ValidJobID(got.JobID) {
		t.Fatalf("answer = %+v, want rule %q, image %q and a valid job id", got, rule, want.Image)
	}
	reqs := e.sub.submitted(got.JobID)
	if len(reqs) != 1 {
		t.Fatalf("%d requests submitted with job id %s, want 1", len(reqs), got.JobID)
	}
	req := reqs[0]
	if req.Type != jobs.Deploy || req.RequestedBy != "webhook:github:"+id || req.Priority != priority || req.Server != "" {
		t.Errorf("request = %+v, want a %s deploy requested by webhook:github:%s", req, priority, id)
	}
	if err := req.Validate(); err != nil {
		t.Errorf("submitted request is invalid: %v", err)
	}
	if p := deployParams(t, req); !reflect.DeepEqual(p, want) {
		t.Errorf("params = %+v, want %+v", p, want)
	}
}

// A captured delivery replayed under new delivery ids (the header is not
// signed) starts nothing: the same signed body, or the same event in
// another encoding, answers duplicate with the first job. The job id comes
// from the event, so even a Redis that forgot the delivery makes the same
// job, which the request stream then keeps from running twice.
func TestGitHubReplayStartsNothing(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ event, file string }{
		{"release", "release-published.json"},
		{"push", "push-main.json"},
		{"workflow_run", "workflow-run-success.json"},
	} {
		t.Run(tt.event, func(t *testing.T) {
			t.Parallel()
			e, fresh := setup(t), setup(t)
			body := payload(t, tt.file)
			first := answer(t, e.github(t, delivery{Event: tt.event, ID: "d-1", Body: body}), 202)
			form := []byte("payload=" + url.QueryEscape(string(body)))
			for i, replay := range []delivery{
				{Event: tt.event, ID: "d-1", Body: body},
				{Event: tt.event, ID: "replayed-" + tt.event, Body: body},
				{Event: tt.event, ID: "replayed-form", Body: form, ContentType: "application/x-www-form-urlencoded"},
			} {
				got := answer(t, e.github(t, replay), 200)
				if got.Status != "duplicate" || got.JobID != first.JobID {
					t.Errorf("replay %d: %+v, want duplicate of %s", i, got, first.JobID)
				}
			}
			if n := e.sub.count(); n != 1 {
				t.Errorf("%d deploys submitted, want 1", n)
			}
			again := answer(t, fresh.github(t, delivery{Event: tt.event, ID: "d-9", Body: body}), 202)
			if again.JobID != first.JobID {
				t.Errorf("with Redis forgotten the same event made job %s, want %s", again.JobID, first.JobID)
			}
		})
	}
}

// Another event (another tag) is another deploy.
func TestGitHubAnotherEventIsAnotherJob(t *testing.T) {
	t.Parallel()
	e := setup(t)
	body := payload(t, "release-published.json")
	first := answer(t, e.github(t, delivery{Event: "release", ID: "d-1", Body: body}), 202)
	next := bytes.Replace(body, []byte("v24.04.3"), []byte("v24.04.4"), -1)
	other := answer(t, e.github(t, delivery{Event: "release", ID: "d-2", Body: next}), 202)
	if first.JobID == other.JobID {
		t.Errorf("releases v24.04.3 and v24.04.4 made the same job %s", first.JobID)
	}
}

func TestGitHubForgedSignature(t *testing.T) {
	t.Parallel()
	body := payload(t, "release-published.json")
	tampered := bytes.Replace(body, []byte("v24.04.3"), []byte("v66.6.6"), 1)
	tests := []struct{ name, signature string }{
		{"wrong secret", signature([]byte("guessed"), body)},
		{"signature of another body", signature(githubSecret, tampered)},
		{"sha1", "sha1=" + strings.Repeat("a", 40)},
		{"not hex", "sha256=" + strings.Repeat("z", 64)},
		{"bare hex", strings.TrimPrefix(signature(githubSecret, body), "sha256=")},
		{"truncated", signature(githubSecret, body)[:40]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			got := answer(t, e.github(t, delivery{Event: "release", ID: "forged-1", Body: body, Signature: tt.signature}), 401)
			if got.Header != "X-Hub-Signature-256" {
				t.Errorf("problem names header %q, want X-Hub-Signature-256", got.Header)
			}
			if n := e.sub.count(); n != 0 {
				t.Fatalf("%d requests submitted for a forged delivery", n)
			}
			if n := e.keys(t); n != 0 {
				t.Fatalf("a forged delivery left %d keys in Redis", n)
			}
			// The delivery id was not recorded: the genuine delivery starts the deploy.
			answer(t, e.github(t, delivery{Event: "release", ID: "forged-1", Body: body}), 202)
		})
	}
}

func TestGitHubMissingSignature(t *testing.T) {
	t.Parallel()
	e := setup(t)
	got := answer(t, e.github(t, delivery{Event: "push", ID: "m-1", Body: payload(t, "push-main.json"), NoSignature: true}), 401)
	if !strings.Contains(got.Detail, "X-Hub-Signature-256 is missing") {
		t.Errorf("detail = %q", got.Detail)
	}
	if e.sub.count() != 0 || e.keys(t) != 0 {
		t.Errorf("an unsigned delivery submitted %d requests and left %d keys", e.sub.count(), e.keys(t))
	}
}

func TestGitHubSignatureIsCheckedFirst(t *testing.T) {
	t.Parallel()
	e := setup(t)
	// Unsigned and without its headers: the answer says nothing of the headers.
	answer(t, e.github(t, delivery{Body: []byte(`{`), NoSignature: true}), 401)
	// Signed but malformed: only then is the body read.
	answer(t, e.github(t, delivery{Event: "push", ID: "x", Body: []byte(`{`)}), 400)
}

func TestGitHubReplay(t *testing.T) {
	t.Parallel()
	e := setup(t)
	d := delivery{Event: "push", ID: "replay-1", Body: payload(t, "push-tag.json")}
	first := answer(t, e.github(t, d), 202)
	for range 3 {
		again := answer(t, e.github(t, d), 200)
		if again.Status != "duplicate" || again.JobID != first.JobID {
			t.Fatalf("replay answered %+v, want duplicate with job id %s", again, first.JobID)
		}
	}
	// Still a duplicate when the rules have changed since: nothing matches now.
	cfg := e.cfg
	cfg.Rules = nil
	h, err := webhook.New(cfg, e.sub)
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	h.ServeGitHub(w, githubRequest(d))
	if again := answer(t, w, 200); again.Status != "duplicate" || again.JobID != first.JobID {
		t.Fatalf("replay under new rules answered %+v", again)
	}
	if n := e.sub.count(); n != 1 {
		t.Errorf("%d requests submitted for one delivery and its replays, want 1", n)
	}
}

func githubRequest(d delivery) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/v1/webhooks/github", bytes.NewReader(d.Body))
	r.Header.Set("X-GitHub-Event", d.Event)
	r.Header.Set("X-GitHub-Delivery", d.ID)
	r.Header.Set("X-Hub-Signature-256", signature(githubSecret, d.Body))
	return r
}

func TestGitHubSubmitFailure(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.sub.failNext(1)
	d := delivery{Event: "release", ID: "fail-1", Body: payload(t, "release-published.json")}
	got := answer(t, e.github(t, d), 503)
	if strings.Contains(got.Detail, "nats") {
		t.Errorf("the 503 tells the caller the internal cause: %q", got.Detail)
	}
	if n := e.keys(t); n != 0 {
		t.Fatalf("a delivery that started nothing is still recorded (%d keys)", n)
	}
	// GitHub's redelivery: same delivery id, now accepted, once.
	ok := answer(t, e.github(t, d), 202)
	if reqs := e.sub.submitted(ok.JobID); len(reqs) != 1 {
		t.Fatalf("%d requests after the redelivery, want 1", len(reqs))
	}
	answer(t, e.github(t, d), 200)
}

func TestGitHubNoRuleMatches(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, file, event, reason string }{
		{"other repository", "push-main.json", "push", "no rule matches tinmanhq/os-images push refs/heads/main"},
		{"release", "release-published.json", "release", "no rule matches tinmanhq/os-images release refs/tags/v24.04.3"},
		{"workflow_run", "workflow-run-success.json", "workflow_run", "no rule matches tinmanhq/os-images workflow_run refs/heads/main"},
	}
	e := setup(t, func(c *webhook.Config) {
		c.Rules = []webhook.Rule{{Name: "elsewhere", Repository: "tinmanhq/firmware", Events: []string{"push", "release", "workflow_run"},
			Image: "fw:{{.SHA}}", Servers: []string{"sim-01"}}}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := answer(t, e.github(t, delivery{Event: tt.event, ID: "nomatch-" + tt.event, Body: payload(t, tt.file)}), 202)
			if got.Status != "ignored" || got.Reason != tt.reason {
				t.Errorf("answer = %+v, want ignored with reason %q", got, tt.reason)
			}
		})
	}
	if e.sub.count() != 0 || e.keys(t) != 0 {
		t.Errorf("ignored deliveries submitted %d requests, left %d keys", e.sub.count(), e.keys(t))
	}
}

func TestGitHubRefGlob(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *webhook.Config) {
		c.Rules = []webhook.Rule{
			{Name: "release-branches", Repository: "tinmanhq/os-images", Events: []string{"push"}, Ref: "refs/heads/release/*",
				Image: "img:{{.Branch}}", Servers: []string{"sim-01"}},
		}
	})
	tests := []struct {
		ref    string
		status string
	}{
		{"refs/heads/release/24.04", "accepted"},
		{"refs/heads/release/24.04/hotfix", "ignored"}, // * stays within a segment
		{"refs/heads/main", "ignored"},
		{"refs/tags/release/24.04", "ignored"},
	}
	for i, tt := range tests {
		body := bytes.Replace(payload(t, "push-main.json"), []byte(`"refs/heads/main"`), []byte(`"`+tt.ref+`"`), 1)
		got := answer(t, e.github(t, delivery{Event: "push", ID: fmt.Sprintf("glob-%d", i), Body: body}), 202)
		if got.Status != tt.status {
			t.Errorf("push to %s: %+v, want %s", tt.ref, got, tt.status)
		}
	}
}

func TestGitHubUnprocessableDeploy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, image, file, event, detail string
	}{
		{"template renders empty", `{{if eq .Event "push"}}img:{{.Branch}}{{end}}`, "release-published.json", "release",
			"image is required"},
		{"variable the event lacks", "img:{{.Tag}}", "push-main.json", "push", `no entry for key "Tag"`},
		{"release has no SHA", "img:{{.ShortSHA}}", "release-published.json", "release", `no entry for key "ShortSHA"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, func(c *webhook.Config) {
				c.Rules = []webhook.Rule{{Name: "fragile", Repository: "tinmanhq/os-images", Events: []string{"push", "release"},
					Image: tt.image, Selector: map[string]string{"os": "ubuntu"}}}
			})
			got := answer(t, e.github(t, delivery{Event: tt.event, ID: "u-1", Body: payload(t, tt.file)}), 422)
			if got.Rule != "fragile" || !strings.Contains(got.Detail, `rule "fragile"`) ||
				!strings.Contains(got.Detail, tt.detail) || got.Field != "image" {
				t.Errorf("problem = %+v, want the rule, field image and %q", got, tt.detail)
			}
			if e.sub.count() != 0 || e.keys(t) != 0 {
				t.Errorf("a 422 submitted %d requests and left %d keys", e.sub.count(), e.keys(t))
			}
		})
	}
}

func TestGitHubOversizedBody(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *webhook.Config) { c.MaxBody = 4096 })
	body := payload(t, "push-main.json") // 9 KiB
	answer(t, e.github(t, delivery{Event: "push", ID: "big-1", Body: body}), 413)

	// Without a Content-Length (chunked), the limit holds as the body is read.
	r := githubRequest(delivery{Event: "push", ID: "big-2", Body: body})
	r.ContentLength = -1
	w := httptest.NewRecorder()
	e.h.ServeGitHub(w, r)
	answer(t, w, 413)
	if e.sub.count() != 0 || e.keys(t) != 0 {
		t.Errorf("an oversized body submitted %d requests and left %d keys", e.sub.count(), e.keys(t))
	}
}

func TestGitHubBadRequests(t *testing.T) {
	t.Parallel()
	e := setup(t)
	push := payload(t, "push-main.json")
	tests := []struct {
		name   string
		d      delivery
		header string // named in the problem
		detail string
	}{
		{"no event header", delivery{ID: "b-1", Body: push}, "X-GitHub-Event", "X-GitHub-Event is required"},
		{"no delivery header", delivery{Event: "push", Body: push}, "X-GitHub-Delivery", "X-GitHub-Delivery is required"},
		{"delivery with spaces", delivery{Event: "push", ID: "a b", Body: push}, "X-GitHub-Delivery", "printable"},
		{"not JSON", delivery{Event: "push", ID: "b-2", Body: []byte("ref=main")}, "", "not a push event"},
		{"wrong JSON type", delivery{Event: "push", ID: "b-3", Body: []byte(`{"ref": 7}`)}, "", "not a push event"},
		{"no repository", delivery{Event: "push", ID: "b-4", Body: []byte(`{"ref":"refs/heads/main","after":"abc"}`)}, "", "repository.full_name"},
		{"release without tag", delivery{Event: "release", ID: "b-5", Body: []byte(`{"action":"published","release":{},"repository":{"full_name":"a/b"}}`)}, "", "release.tag_name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := answer(t, e.github(t, tt.d), 400)
			if got.Header != tt.header || !strings.Contains(got.Detail, tt.detail) {
				t.Errorf("problem = %+v, want header %q and detail containing %q", got, tt.header, tt.detail)
			}
		})
	}
}

func TestGitHubFormEncodedDelivery(t *testing.T) {
	t.Parallel()
	e := setup(t)
	body := []byte("payload=" + url.QueryEscape(string(payload(t, "release-published.json"))))
	got := answer(t, e.github(t, delivery{Event: "release", ID: "form-1", Body: body,
		ContentType: "application/x-www-form-urlencoded"}), 202)
	if got.Image != "registry.example.com/os/ubuntu:v24.04.3" {
		t.Errorf("answer = %+v", got)
	}
}

func TestGitHubWorkflowRunFromFork(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var p map[string]any
	if err := json.Unmarshal(payload(t, "workflow-run-success.json"), &p); err != nil {
		t.Fatal(err)
	}
	p["workflow_run"].(map[string]any)["head_repository"].(map[string]any)["full_name"] = "mallory/os-images"
	body, _ := json.Marshal(p)
	got := answer(t, e.github(t, delivery{Event: "workflow_run", ID: "fork-1", Body: body}), 202)
	if got.Status != "ignored" || !strings.Contains(got.Reason, "mallory/os-images, a fork") {
		t.Errorf("answer = %+v, want ignored as a fork", got)
	}
}

func TestGitHubRouteDisabled(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *webhook.Config) { c.GitHubSecret = nil })
	answer(t, e.github(t, delivery{Event: "push", ID: "off-1", Body: payload(t, "push-main.json")}), 404)
	if e.sub.count() != 0 {
		t.Error("a disabled route submitted a request")
	}
}

func TestGitHubMethodNotAllowed(t *testing.T) {
	t.Parallel()
	e := setup(t)
	w := httptest.NewRecorder()
	e.h.ServeGitHub(w, httptest.NewRequest(http.MethodGet, "/v1/webhooks/github", nil))
	answer(t, w, 405)
	if got := w.Header().Get("Allow"); got != "POST" {
		t.Errorf("Allow = %q", got)
	}
}

// TestGitHubConcurrentDeliveries sends one delivery many times at once, as a
// retrying proxy might: one job is submitted, every answer names it.
func TestGitHubConcurrentDeliveries(t *testing.T) {
	t.Parallel()
	e := setup(t)
	d := delivery{Event: "release", ID: "race-1", Body: payload(t, "release-published.json")}
	const n = 32
	replies := make([]reply, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			w := httptest.NewRecorder()
			e.h.ServeGitHub(w, githubRequest(d))
			if err := json.Unmarshal(w.Body.Bytes(), &replies[i]); err != nil || (w.Code != 200 && w.Code != 202) {
				t.Errorf("status %d: %s", w.Code, w.Body)
			}
		})
	}
	close(start)
	wg.Wait()
	accepted := 0
	for _, r := range replies {
		if r.Status == "accepted" {
			accepted++
		}
		if r.JobID != replies[0].JobID {
			t.Errorf("answers name jobs %s and %s", r.JobID, replies[0].JobID)
		}
	}
	if accepted != 1 || e.sub.count() != 1 {
		t.Errorf("%d accepted answers and %d submitted requests, want 1 and 1", accepted, e.sub.count())
	}
}
