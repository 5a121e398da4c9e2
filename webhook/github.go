package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

// GitHub's delivery headers.
const (
	GitHubEventHeader    = "X-GitHub-Event"
	GitHubDeliveryHeader = "X-GitHub-Delivery"
)

// zeroSHA is the after of a push that deletes its ref.
const zeroSHA = "0000000000000000000000000000000000000000"

// ServeGitHub handles POST /v1/webhooks/github.
func (h *Handler) ServeGitHub(w http.ResponseWriter, r *http.Request) {
	log := h.log.With().Str("webhook", "github").
		Str("delivery", r.Header.Get(GitHubDeliveryHeader)).Str("event", r.Header.Get(GitHubEventHeader)).Logger()
	a, err := h.github(w, r)
	h.respond(w, log, a, err)
}

func (h *Handler) github(w http.ResponseWriter, r *http.Request) (answer, error) {
	if len(h.githubSecret) == 0 {
		return answer{}, disabled("GitHub")
	}
	body, err := h.readSigned(w, r, h.githubSecret, GitHubSignatureHeader)
	if err != nil {
		return answer{}, err
	}
	event, delivery, err := githubHeaders(r)
	switch {
	case err != nil:
		return answer{}, err
	case event == "ping":
		return pong(), nil
	}
	d := store.Delivery{Source: store.WebhookGitHub, ID: delivery, BodySHA256: bodyHash(body)}
	if a, err := h.seen(r.Context(), d); err != nil || a.Status != "" {
		return a, err
	}
	return h.githubEvent(r, event, d, body)
}

// githubEvent deploys what a verified delivery d of event asks for. The
// delivery id header is not signed: the deploy's job id and its dedupe rest
// on the event's identity, so replaying a captured body under new delivery
// ids starts nothing.
func (h *Handler) githubEvent(r *http.Request, event string, d store.Delivery, body []byte) (answer, error) {
	payload, err := githubPayload(r.Header.Get("Content-Type"), body)
	if err != nil {
		return answer{}, err
	}
	if err := jobs.CheckJSON(payload); err != nil { // GitHub sends neither: a crafted payload
		return answer{}, badField(jobs.AsError(err).Field, jobs.AsError(err).Message)
	}
	vars, err := parseGitHub(event, payload)
	var skip *ignoredEvent
	switch {
	case errors.As(err, &skip):
		return ignored("%s", skip.reason), nil
	case err != nil:
		return answer{}, err
	}
	rule := matchRule(h.rules, event, vars)
	if rule == nil {
		return ignored("no rule matches %s %s %s", vars.Repository, event, vars.Ref), nil
	}
	d.Event = vars.identity
	req, image, bad := rule.request(vars, d)
	if bad != nil {
		return answer{}, unprocessable(rule.Name, bad)
	}
	return h.start(r.Context(), d, req, answer{Rule: rule.Name, Image: image})
}

func githubHeaders(r *http.Request) (event, delivery string, err error) {
	event, delivery = r.Header.Get(GitHubEventHeader), r.Header.Get(GitHubDeliveryHeader)
	missing := func(header, detail string) error {
		p := newProblem(http.StatusBadRequest, "%s %s", header, detail)
		p.Header = header
		return p
	}
	switch {
	case event == "":
		return "", "", missing(GitHubEventHeader, "is required")
	case delivery == "":
		return "", "", missing(GitHubDeliveryHeader, "is required")
	case !validDeliveryID(delivery):
		return "", "", missing(GitHubDeliveryHeader, fmt.Sprintf("must be 1 to %d printable characters without spaces", maxDeliveryID))
	}
	return event, delivery, nil
}

// githubPayload returns the JSON of a delivery, which GitHub sends as the
// body (application/json) or as the form field payload
// (application/x-www-form-urlencoded), as the hook is configured.
func githubPayload(contentType string, body []byte) ([]byte, error) {
	mediaType, _, _ := mime.ParseMediaType(contentType)
	if mediaType != "application/x-www-form-urlencoded" {
		return body, nil
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || !form.Has("payload") {
		return nil, newProblem(http.StatusBadRequest, "a form-encoded delivery must carry the JSON in the field payload")
	}
	return []byte(form.Get("payload")), nil
}

// ignoredEvent is a delivery understood and deliberately left alone.
type ignoredEvent struct{ reason string }

func (e *ignoredEvent) Error() string { return e.reason }

func ignore(format string, args ...any) error {
	return &ignoredEvent{reason: fmt.Sprintf(format, args...)}
}

// event is what Tinman reads of a GitHub payload; GitHub sends much more.
type event struct {
	Action     string `json:"action"`
	Ref        string `json:"ref"`
	After      string `json:"after"`
	Deleted    bool   `json:"deleted"`
	Repository struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
	Release *struct {
		TagName string `json:"tag_name"`
	} `json:"release"`
	WorkflowRun *struct {
		ID             int64  `json:"id"`
		RunAttempt     int    `json:"run_attempt"`
		Name           string `json:"name"`
		HeadSHA        string `json:"head_sha"`
		HeadBranch     string `json:"head_branch"`
		Conclusion     string `json:"conclusion"`
		HeadRepository *struct {
			FullName string `json:"full_name"`
		} `json:"head_repository"`
	} `json:"workflow_run"`
	Workflow *struct {
		Name string `json:"name"`
	} `json:"workflow"`
}

// parseGitHub reads the payload of a GitHub event into the variables of a
// deploy, or says why the event is ignored (*ignoredEvent) or malformed.
func parseGitHub(name string, payload []byte) (ImageVars, error) {
	parse, known := githubParsers[name]
	if !known {
		return ImageVars{}, ignore("event %q does not deploy (push, release and workflow_run do)", name)
	}
	var e event
	if err := json.Unmarshal(payload, &e); err != nil {
		return ImageVars{}, malformed("the payload is not a %s event: %v", name, err)
	}
	if e.Repository.FullName == "" {
		return ImageVars{}, malformed("the %s payload has no repository.full_name", name)
	}
	vars, err := parse(e)
	vars.Repository, vars.Event = e.Repository.FullName, name
	vars.identity = identity(name, e)
	if len(vars.SHA) >= 7 {
		vars.ShortSHA = vars.SHA[:7]
	}
	return vars, err
}

var githubParsers = map[string]func(event) (ImageVars, error){
	EventPush:        parsePush,
	EventRelease:     parseRelease,
	EventWorkflowRun: parseWorkflowRun,
}

func parsePush(e event) (ImageVars, error) {
	v := refVars(e.Ref)
	v.SHA = e.After
	switch {
	case e.Ref == "":
		return v, malformed("the push payload has no ref")
	case e.Deleted || e.After == zeroSHA:
		return v, ignore("push deletes %s: nothing to deploy", e.Ref)
	case e.After == "":
		return v, malformed("the push payload has no after")
	}
	return v, nil
}

func parseRelease(e event) (ImageVars, error) {
	switch {
	case e.Action != "published":
		return ImageVars{}, ignore("release action %q does not deploy (only published does)", e.Action)
	case e.Release == nil || e.Release.TagName == "":
		return ImageVars{}, malformed("the release payload has no release.tag_name")
	}
	return refVars("refs/tags/" + e.Release.TagName), nil
}

func parseWorkflowRun(e event) (ImageVars, error) {
	run := e.WorkflowRun
	if run == nil {
		return ImageVars{}, malformed("the workflow_run payload has no workflow_run")
	}
	name := run.Name
	if name == "" && e.Workflow != nil {
		name = e.Workflow.Name
	}
	switch {
	case e.Action != "completed":
		return ImageVars{}, ignore("workflow_run %q action %q does not deploy (only completed does)", name, e.Action)
	case run.Conclusion != "success":
		return ImageVars{}, ignore("workflow_run %q concluded %q, not success", name, run.Conclusion)
	case run.HeadRepository != nil && run.HeadRepository.FullName != e.Repository.FullName:
		return ImageVars{}, ignore("workflow_run %q ran on %s, a fork of %s: forks do not deploy", name, run.HeadRepository.FullName, e.Repository.FullName)
	}
	v := ImageVars{SHA: run.HeadSHA, Branch: run.HeadBranch, Workflow: name}
	if run.HeadBranch != "" {
		v.Ref = "refs/heads/" + run.HeadBranch
	}
	return v, nil
}

// refVars sets Ref and, from it, Branch or Tag.
func refVars(ref string) ImageVars {
	v := ImageVars{Ref: ref}
	if tag, ok := strings.CutPrefix(ref, "refs/tags/"); ok {
		v.Tag = tag
	} else if branch, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
		v.Branch = branch
	}
	return v
}

func malformed(format string, args ...any) error {
	return newProblem(http.StatusBadRequest, format, args...)
}

// deployError says which field of a rule's deploy is wrong for an event.
type deployError struct{ field, message string }

// identity is what makes an event itself, whatever body or delivery id
// carries it: the same commit pushed to the same ref, the same release, the
// same attempt of a workflow run.
func identity(name string, e event) string {
	repo := e.Repository.FullName
	switch {
	case name == EventPush:
		return "push:" + repo + ":" + e.Ref + ":" + e.After
	case name == EventRelease && e.Release != nil:
		return "release:" + repo + ":" + e.Release.TagName
	case name == EventWorkflowRun && e.WorkflowRun != nil && e.WorkflowRun.ID != 0:
		return fmt.Sprintf("workflow_run:%s:%d:%d", repo, e.WorkflowRun.ID, e.WorkflowRun.RunAttempt)
	}
	return ""
}

// request builds the deploy of rule r for an event, checked as jobs checks
// every request, and returns it with its image.
func (r *rule) request(v ImageVars, d store.Delivery) (jobs.Request, string, *deployError) {
	image, err := render(r.image, v)
	if err != nil {
		return jobs.Request{}, "", &deployError{"image", "template: " + err.Error()}
	}
	req, bad := r.deploy(image, d)
	return req, image, bad
}

// deploy returns the deploy request of rule r for image and delivery d: its
// job id comes from the event's identity, else from the signed body.
func (r *rule) deploy(image string, d store.Delivery) (jobs.Request, *deployError) {
	params := jobs.DeployParams{Image: image, Selector: r.Selector, Servers: r.Servers, MaxFailures: r.MaxFailures}
	if batch := r.BatchSize; batch != 0 {
		params.BatchSize = &batch
	}
	raw, err := json.Marshal(params)
	if err != nil { // unreachable: strings, ints and a map of strings
		return jobs.Request{}, &deployError{"image", err.Error()}
	}
	id := d.Event
	if id == "" {
		id = "body:" + d.BodySHA256
	}
	req := jobs.Request{ID: jobID("github", id), Type: jobs.Deploy, Params: raw,
		Priority: r.Priority, RequestedBy: "webhook:github:" + d.ID}
	if err := req.Validate(); err != nil {
		je := jobs.AsError(err)
		return jobs.Request{}, &deployError{strings.TrimPrefix(je.Field, "params."), je.Message}
	}
	return req, nil
}

// unprocessable is the 422 of a rule whose deploy is wrong for an event.
func unprocessable(rule string, e *deployError) *problem {
	p := newProblem(http.StatusUnprocessableEntity, "rule %q makes no valid deploy for this event: %s %s", rule, e.field, e.message)
	p.Rule, p.Field = rule, e.field
	return p
}
