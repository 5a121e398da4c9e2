package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/webhook"
)

type printSubmitter struct{}

func (printSubmitter) Submit(_ context.Context, req jobs.Request) error {
	fmt.Println("submit", req.Type, string(req.Params))
	return nil
}

// Load the rules, build the handler, and mount its two routes.
func Example() {
	rules, err := webhook.LoadRules(strings.NewReader(`{"rules": [{
		"name": "ubuntu-release", "repository": "tinmanhq/os-images", "events": ["release"],
		"image": "registry.example.com/os/ubuntu:{{.Tag}}", "selector": {"os": "ubuntu"}, "batch_size": 2}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	deliveries, err := store.New(redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"}), nil, store.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	h, err := webhook.New(webhook.Config{
		GitHubSecret:  []byte("from a file or TINMAN_GITHUB_WEBHOOK_SECRET"),
		GenericSecret: []byte("another secret"),
		Rules:         rules,
		Deliveries:    deliveries,
		Logger:        zerolog.Nop(),
	}, printSubmitter{})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/webhooks/github", h.ServeGitHub)
	mux.HandleFunc("POST /v1/webhooks/generic", h.ServeGeneric)
	fmt.Println(len(rules), "rule")
	// Output: 1 rule
}

// A rule whose field is wrong is named, with the field.
func ExampleLoadRules() {
	_, err := webhook.LoadRules(strings.NewReader(`{"rules": [{
		"name": "ubuntu-release", "repository": "tinmanhq/os-images", "events": ["release"],
		"image": "registry.example.com/os/ubuntu:{{.Version}}", "selector": {"os": "ubuntu"}}]}`))
	fmt.Println(err)
	// Output: rule 0 ("ubuntu-release"): image: template: image:1:33: executing "image" at <.Version>: map has no entry for key "Version"
}
