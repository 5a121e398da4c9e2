package webhook_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/webhook"
)

// FuzzGitHubPayload sends signed deliveries of arbitrary payloads: decoding
// them never panics, and never answers anything but 200, 202, 400 or 422,
// always as JSON.
func FuzzGitHubPayload(f *testing.F) {
	seeds := map[string]string{
		"push-main.json": "push", "push-tag.json": "push", "push-delete-branch.json": "push",
		"release-published.json": "release", "release-created.json": "release",
		"workflow-run-success.json": "workflow_run", "workflow-run-failure.json": "workflow_run", "ping.json": "ping",
	}
	for file, event := range seeds {
		f.Add(event, payload(f, file))
	}
	f.Add("push", []byte(`{"ref":"refs/heads/main","after":"","repository":{"full_name":"tinmanhq/os-images"}}`))
	f.Add("workflow_run", []byte(`{"action":"completed","workflow_run":null,"repository":{"full_name":"a/b"}}`))
	f.Add("release", []byte(`{"action":"published","release":{"tag_name":"{{.Tag}}"},"repository":{"full_name":"tinmanhq/os-images"}}`))

	e := setup(f, func(c *webhook.Config) { c.Logger = zerolog.Nop() })
	n := 0
	f.Fuzz(func(t *testing.T, event string, body []byte) {
		n++
		d := delivery{Event: event, ID: fmt.Sprintf("fuzz-%d", n), Body: body}
		if event == "" || len(event) > 100 {
			d.Event = "push"
		}
		w := e.github(t, d)
		switch w.Code {
		case 200, 202, 400, 422:
		default:
			t.Fatalf("status %d for event %q: %s", w.Code, d.Event, w.Body)
		}
		if !json.Valid(w.Body.Bytes()) {
			t.Fatalf("answer is not JSON: %q", w.Body)
		}
	})
}
