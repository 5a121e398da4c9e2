package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/webhook"
)

func webhookFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.String("github-webhook-secret", "", "HMAC key of X-Hub-Signature-256 (empty: the GitHub webhook route is off; prefer TINMAN_GITHUB_WEBHOOK_SECRET)")
	f.String("generic-webhook-secret", "", "HMAC key of X-Tinman-Signature (empty: the generic webhook route is off)")
	f.String("webhook-rules", "", "JSON file of rules mapping GitHub events to deploys")
}

// webhookConfig reads the webhook flags; nil when no secret is set.
func webhookConfig(cmd *cobra.Command) (*webhook.Config, error) {
	gh, generic := mustString(cmd, "github-webhook-secret"), mustString(cmd, "generic-webhook-secret")
	if gh == "" && generic == "" {
		return nil, nil
	}
	cfg := &webhook.Config{GitHubSecret: []byte(gh), GenericSecret: []byte(generic)}
	if path := mustString(cmd, "webhook-rules"); path != "" {
		f, err := os.Open(path)
		if err != nil {
			return nil, usageErr("--webhook-rules: %v", err)
		}
		defer f.Close()
		if cfg.Rules, err = webhook.LoadRules(f); err != nil {
			return nil, usageErr("--webhook-rules %s: %v", path, err)
		}
	}
	return cfg, nil
}

// webhooks builds the webhook handler on this backend: deliveries are
// deduplicated in Redis, deploys published to NATS.
func (b *backend) webhooks(cfg *webhook.Config) (*webhook.Handler, error) {
	if cfg == nil {
		return nil, nil
	}
	cfg.Deliveries = b.store
	cfg.Logger = b.log.With().Str("component", "webhooks").Logger()
	h, err := webhook.New(*cfg, requestSubmitter{b.submit})
	if err != nil {
		return nil, usageErr("webhooks: %v", err)
	}
	return h, nil
}

// devWebhookRules is the rule `tinman dev` starts with: a published release
// of the repository tinman-dev/demo rolls its tag across the simulated fleet,
// two servers at a time.
func devWebhookRules() []webhook.Rule {
	return []webhook.Rule{{
		Name: "dev-release", Repository: "tinman-dev/demo", Events: []string{"release"},
		Image: demoImage, Selector: map[string]string{"fleet": "sim"},
		BatchSize: 2, MaxFailures: 0, Priority: jobs.PriorityDefault,
	}}
}

func describeRules(rules []webhook.Rule) string {
	if len(rules) == 0 {
		return "no rules"
	}
	return fmt.Sprintf("%d rule(s), first %q for %s", len(rules), rules[0].Name, rules[0].Repository)
}
