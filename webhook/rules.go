package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"text/template"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

// The GitHub events a rule may name.
const (
	EventPush        = "push"
	EventRelease     = "release"
	EventWorkflowRun = "workflow_run"
)

// Rule maps a GitHub event to a deploy. In a rules file it is a JSON object
// with the keys of the struct tags.
type Rule struct {
	// Name identifies the rule in answers and logs: 1 to 64 of [A-Za-z0-9._-].
	Name string `json:"name"`
	// Repository is "owner/name", compared exactly.
	Repository string `json:"repository"`
	// Events are among push, release and workflow_run.
	Events []string `json:"events"`
	// Ref is a glob on the event's ref; empty matches any. The ref of a push
	// is its ref ("refs/heads/main", "refs/tags/v1.2"), of a release
	// "refs/tags/<tag>", of a workflow_run "refs/heads/<head branch>". In the
	// glob, * and ? match within one path segment, ** across segments.
	Ref string `json:"ref,omitempty"`
	// Image is a text/template of the image to deploy, over ImageVars:
	// "registry.example.com/os/ubuntu:{{.Tag}}". A variable that the event
	// leaves empty (.Tag of a branch push) is an error, not an empty string.
	Image string `json:"image"`
	// Selector (labels) or Servers (ids), exactly one, pick the servers.
	Selector map[string]string `json:"selector,omitempty"`
	Servers  []string          `json:"servers,omitempty"`
	// BatchSize is the servers per batch, 1 or more (the dispatcher's --max-batch-size bounds it at admission); 0 leaves it to the deploy.
	BatchSize int `json:"batch_size,omitempty"`
	// MaxFailures is the failed servers tolerated before the deploy halts.
	MaxFailures int `json:"max_failures,omitempty"`
	// Priority is the deploy job's priority; empty is default.
	Priority jobs.Priority `json:"priority,omitempty"`
}

// ImageVars are the variables of a Rule's Image template. Those an event
// does not set are absent, and a template that uses one fails.
type ImageVars struct {
	Repository string // "owner/name"
	Event      string // push, release, workflow_run
	Ref        string // "refs/heads/main", "refs/tags/v1.2"
	Branch     string // "main": push to a branch, workflow_run
	Tag        string // "v1.2": push of a tag, release
	SHA        string // the commit: push (after), workflow_run (head_sha)
	ShortSHA   string // the first 7 characters of SHA
	Workflow   string // the workflow's name: workflow_run

	identity string // the event itself (see identity), for dedupe: not a template variable
}

func (v ImageVars) values() map[string]string {
	all := map[string]string{
		"Repository": v.Repository, "Event": v.Event, "Ref": v.Ref, "Branch": v.Branch,
		"Tag": v.Tag, "SHA": v.SHA, "ShortSHA": v.ShortSHA, "Workflow": v.Workflow,
	}
	for k, s := range all {
		if s == "" {
			delete(all, k) // missingkey=error then names it
		}
	}
	return all
}

// sampleVars has every variable set, to check a template when it is loaded.
var sampleVars = ImageVars{Repository: "o/r", Event: "push", Ref: "refs/tags/v1", Branch: "b",
	Tag: "v1", SHA: "0123456789abcdef", ShortSHA: "0123456", Workflow: "w"}

// ErrInvalidRule is wrapped by every RuleError.
var ErrInvalidRule = errors.New("invalid rule")

// RuleError says which rule is wrong, in which field, and why.
type RuleError struct {
	Index   int    // from 0, in the order given
	Name    string // empty when the rule has none
	Field   string // the JSON key: "image", "batch_size", "selector"
	Message string
}

// Error implements error.
func (e *RuleError) Error() string {
	name := ""
	if e.Name != "" {
		name = fmt.Sprintf(" (%q)", e.Name)
	}
	if e.Field == "" {
		return fmt.Sprintf("rule %d%s: %s", e.Index, name, e.Message)
	}
	return fmt.Sprintf("rule %d%s: %s: %s", e.Index, name, e.Field, e.Message)
}

// Unwrap returns ErrInvalidRule.
func (e *RuleError) Unwrap() error { return ErrInvalidRule }

// LoadRules reads a JSON rules file, {"rules": [...]} or a bare array of
// rules, and checks every rule. Unknown keys are errors. (JSON, not YAML: the
// module requires no YAML library.)
func LoadRules(r io.Reader) ([]Rule, error) {
	raws, err := readRuleList(r)
	if err != nil {
		return nil, err
	}
	rules := make([]Rule, len(raws))
	for i, raw := range raws {
		if rules[i], err = decodeRule(i, raw); err != nil {
			return nil, err
		}
	}
	if _, err := compileRules(rules); err != nil {
		return nil, err
	}
	return rules, nil
}

func readRuleList(r io.Reader) ([]json.RawMessage, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	var file struct {
		Rules []json.RawMessage `json:"rules"`
	}
	trimmed := bytes.TrimSpace(data)
	if bytes.HasPrefix(trimmed, []byte("[")) {
		err = json.Unmarshal(trimmed, &file.Rules)
	} else {
		err = strictUnmarshal(trimmed, &file)
	}
	if err != nil {
		return nil, fmt.Errorf("rules file: %w", err)
	}
	return file.Rules, nil
}

func decodeRule(i int, raw json.RawMessage) (Rule, error) {
	var rule Rule
	if err := strictUnmarshal(raw, &rule); err != nil {
		var named struct{ Name string }
		_ = json.Unmarshal(raw, &named)
		return rule, &RuleError{Index: i, Name: named.Name, Message: err.Error()}
	}
	return rule, nil
}

func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// rule is a Rule checked and compiled.
type rule struct {
	Rule
	ref   *regexp.Regexp // nil matches any
	image *template.Template
}

var ruleNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func compileRules(rules []Rule) ([]rule, error) {
	out := make([]rule, len(rules))
	names := make(map[string]int, len(rules))
	for i, r := range rules {
		c, err := compileRule(r)
		if err != nil {
			err.Index, err.Name = i, r.Name
			return nil, err
		}
		if first, dup := names[r.Name]; dup {
			return nil, &RuleError{Index: i, Name: r.Name, Field: "name", Message: fmt.Sprintf("is also the name of rule %d", first)}
		}
		names[r.Name] = i
		out[i] = c
	}
	return out, nil
}

func compileRule(r Rule) (rule, *RuleError) {
	c := rule{Rule: r}
	if err := r.checkMatch(); err != nil {
		return c, err
	}
	var err *RuleError
	if c.ref, err = compileRef(r.Ref); err != nil {
		return c, err
	}
	if c.image, err = compileImage(r.Image); err != nil {
		return c, err
	}
	return c, checkDeploy(c)
}

func (r Rule) checkMatch() *RuleError {
	owner, name, found := strings.Cut(r.Repository, "/")
	switch {
	case !ruleNamePattern.MatchString(r.Name):
		return &RuleError{Field: "name", Message: "must match " + ruleNamePattern.String()}
	case !found || owner == "" || name == "" || strings.ContainsAny(r.Repository, " \t\r\n") || strings.Contains(name, "/"):
		return &RuleError{Field: "repository", Message: fmt.Sprintf("%q must be \"owner/name\"", r.Repository)}
	case len(r.Events) == 0:
		return &RuleError{Field: "events", Message: "is required: one or more of push, release, workflow_run"}
	}
	for i, e := range r.Events {
		if e != EventPush && e != EventRelease && e != EventWorkflowRun {
			return &RuleError{Field: fmt.Sprintf("events[%d]", i), Message: fmt.Sprintf("%q is not one of push, release, workflow_run", e)}
		}
	}
	return nil
}

// compileRef compiles a ref glob: ** matches anything, * and ? anything
// but "/"; every other character stands for itself.
func compileRef(glob string) (*regexp.Regexp, *RuleError) {
	if glob == "" {
		return nil, nil
	}
	if !strings.HasPrefix(glob, "refs/") {
		return nil, &RuleError{Field: "ref", Message: fmt.Sprintf("%q must be a full ref, such as refs/heads/main or refs/tags/v*", glob)}
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(glob); i++ {
		switch {
		case strings.HasPrefix(glob[i:], "**"):
			b.WriteString(".*")
			i++
		case glob[i] == '*':
			b.WriteString("[^/]*")
		case glob[i] == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(glob[i : i+1]))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String()), nil
}

func compileImage(text string) (*template.Template, *RuleError) {
	if strings.TrimSpace(text) == "" {
		return nil, &RuleError{Field: "image", Message: "is required"}
	}
	t, err := template.New("image").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, &RuleError{Field: "image", Message: err.Error()}
	}
	if _, err := render(t, sampleVars); err != nil {
		return nil, &RuleError{Field: "image", Message: err.Error()}
	}
	return t, nil
}

// checkDeploy checks the deploy a rule makes, as jobs checks it, but for
// the image: a template may render empty for some events, which is answered
// 422 when it happens.
func checkDeploy(c rule) *RuleError {
	if _, bad := c.deploy("image", store.Delivery{Source: store.WebhookGitHub, ID: "check"}); bad != nil {
		return &RuleError{Field: bad.field, Message: bad.message}
	}
	return nil
}

// matchRule returns the first rule for the event, or nil.
func matchRule(rules []rule, event string, v ImageVars) *rule {
	for i := range rules {
		r := &rules[i]
		if r.Repository == v.Repository && slices.Contains(r.Events, event) && (r.ref == nil || r.ref.MatchString(v.Ref)) {
			return r
		}
	}
	return nil
}

func render(t *template.Template, v ImageVars) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, v.values()); err != nil {
		return "", err
	}
	return b.String(), nil
}
