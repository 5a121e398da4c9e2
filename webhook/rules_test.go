package webhook_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/webhook"
)

func TestLoadRules(t *testing.T) {
	t.Parallel()
	rules := loadRules(t, "rules.json")
	if len(rules) != 4 || rules[0].Name != "ubuntu-release" || rules[3].Ref != "refs/heads/**" {
		t.Fatalf("rules = %+v", rules)
	}
	bare, err := webhook.LoadRules(strings.NewReader(`[{"name": "a", "repository": "o/r", "events": ["push"], "image": "i", "servers": ["s1"]}]`))
	if err != nil || len(bare) != 1 {
		t.Fatalf("a bare array: %v, %+v", err, bare)
	}
}

func TestLoadRulesInvalid(t *testing.T) {
	t.Parallel()
	const good = `"repository": "o/r", "events": ["push"], "image": "img:{{.Tag}}", "selector": {"os": "ubuntu"}`
	tests := []struct {
		name  string
		rules string // the rules after a good first one
		field string
		msg   string
	}{
		{"no name", `{` + good + `}`, "name", "must match"},
		{"bad name", `{"name": "a b", ` + good + `}`, "name", "must match"},
		{"duplicate name", `{"name": "first", ` + good + `}`, "name", "also the name of rule 0"},
		{"no repository", `{"name": "x", "events": ["push"], "image": "i", "servers": ["s1"]}`, "repository", `must be "owner/name"`},
		{"repository without owner", `{"name": "x", "repository": "os-images", "events": ["push"], "image": "i", "servers": ["s1"]}`, "repository", "owner/name"},
		{"repository URL", `{"name": "x", "repository": "github.com/o/r", "events": ["push"], "image": "i", "servers": ["s1"]}`, "repository", "owner/name"},
		{"no events", `{"name": "x", "repository": "o/r", "image": "i", "servers": ["s1"]}`, "events", "is required"},
		{"unknown event", `{"name": "x", "repository": "o/r", "events": ["push", "pull_request"], "image": "i", "servers": ["s1"]}`, "events[1]", `"pull_request"`},
		{"short ref", `{"name": "x", "ref": "main", ` + good + `}`, "ref", "must be a full ref"},
		{"no image", `{"name": "x", "repository": "o/r", "events": ["push"], "servers": ["s1"]}`, "image", "is required"},
		{"template syntax", `{"name": "x", "repository": "o/r", "events": ["push"], "image": "img:{{.Tag", "servers": ["s1"]}`, "image", "unclosed action"},
		{"unknown variable", `{"name": "x", "repository": "o/r", "events": ["push"], "image": "img:{{.Version}}", "servers": ["s1"]}`, "image", `"Version"`},
		{"no targets", `{"name": "x", "repository": "o/r", "events": ["push"], "image": "i"}`, "selector", "exactly one"},
		{"both targets", `{"name": "x", ` + good + `, "servers": ["s1"]}`, "selector", "only one"},
		{"bad server", `{"name": "x", "repository": "o/r", "events": ["push"], "image": "i", "servers": ["Srv_1"]}`, "servers[0]", "must match"},
		{"negative batch", `{"name": "x", ` + good + `, "batch_size": -1}`, "batch_size", "at least 1"},
		{"negative max_failures", `{"name": "x", ` + good + `, "max_failures": -2}`, "max_failures", "at least 0"},
		{"bad priority", `{"name": "x", ` + good + `, "priority": "urgent"}`, "priority", "must be one of"},
		{"unknown key", `{"name": "x", ` + good + `, "selecter": {"a": "b"}}`, "", `unknown field "selecter"`},
		{"wrong type", `{"name": "x", ` + good + `, "batch_size": "2"}`, "", "cannot unmarshal string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			file := `{"rules": [{"name": "first", ` + good + `}, ` + tt.rules + `]}`
			_, err := webhook.LoadRules(strings.NewReader(file))
			var re *webhook.RuleError
			if !errors.As(err, &re) || !errors.Is(err, webhook.ErrInvalidRule) {
				t.Fatalf("LoadRules: %v, want a *RuleError", err)
			}
			if re.Index != 1 || re.Field != tt.field || !strings.Contains(re.Message, tt.msg) {
				t.Errorf("error = %#v, want rule 1, field %q, message containing %q", re, tt.field, tt.msg)
			}
			if !strings.Contains(err.Error(), "rule 1") {
				t.Errorf("error %q does not name the rule", err)
			}
		})
	}
}

func TestLoadRulesNamesTheRule(t *testing.T) {
	t.Parallel()
	_, err := webhook.LoadRules(strings.NewReader(`{"rules": [{"name": "ubuntu-prod", "repository": "o/r", "events": ["push"], "image": "i", "servers": ["s1"], "batch_size": 0.5}]}`))
	if err == nil || !strings.Contains(err.Error(), `rule 0 ("ubuntu-prod")`) {
		t.Errorf("err = %v, want it to name rule 0 (\"ubuntu-prod\")", err)
	}
}

func TestLoadRulesBadFile(t *testing.T) {
	t.Parallel()
	for _, file := range []string{``, `{`, `{"rules": {}}`, `{"rulez": []}`, `{"rules": []} {}`} {
		if _, err := webhook.LoadRules(strings.NewReader(file)); err == nil {
			t.Errorf("LoadRules(%q) succeeded", file)
		}
	}
}

func TestNewChecksConfig(t *testing.T) {
	t.Parallel()
	e := setup(t)
	tests := []struct {
		name string
		cfg  webhook.Config
		sub  webhook.Submitter
	}{
		{"no Redis", webhook.Config{}, e.sub},
		{"no submitter", webhook.Config{Deliveries: e.cfg.Deliveries}, nil},
		{"negative TTL", webhook.Config{Deliveries: e.cfg.Deliveries, DedupeTTL: -1}, e.sub},
		{"bad rule", webhook.Config{Deliveries: e.cfg.Deliveries, Rules: []webhook.Rule{{Name: "r", Repository: "o/r", Events: []string{"push"}, Image: "i"}}}, e.sub},
	}
	for _, tt := range tests {
		tt.cfg.Logger = zerolog.Nop()
		if _, err := webhook.New(tt.cfg, tt.sub); !errors.Is(err, webhook.ErrInvalidConfig) {
			t.Errorf("%s: New: %v, want ErrInvalidConfig", tt.name, err)
		}
	}
}
