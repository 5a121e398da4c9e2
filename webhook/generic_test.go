package webhook_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/webhook"
)

func TestGenericAccepted(t *testing.T) {
	t.Parallel()
	e := setup(t)
	tests := []struct {
		name, body string
		want       jobs.DeployParams
		priority   jobs.Priority
	}{
		{"selector", `{"delivery_id": "ci-4711", "image": "ubuntu-24.04", "selector": {"rack": "r1"}, "batch_size": 2, "max_failures": 1}`,
			jobs.DeployParams{Image: "ubuntu-24.04", Selector: map[string]string{"rack": "r1"}, BatchSize: intp(2), MaxFailures: 1}, ""},
		{"servers", `{"delivery_id": "ci-4712", "image": "ubuntu-24.04", "servers": ["sim-01", "sim-02"], "priority": "low"}`,
			jobs.DeployParams{Image: "ubuntu-24.04", Servers: []string{"sim-01", "sim-02"}}, jobs.PriorityLow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := []byte(tt.body)
			got := answer(t, e.generic(t, body, signature(genericSecret, body)), 202)
			if got.Status != "accepted" || got.Image != "ubuntu-24.04" || !jobs.ValidJobID(got.JobID) {
				t.Fatalf("answer = %+v", got)
			}
			reqs := e.sub.submitted(got.JobID)
			if len(reqs) != 1 {
				t.Fatalf("%d requests submitted, want 1", len(reqs))
			}
			if reqs[0].Type != jobs.Deploy || reqs[0].Priority != tt.priority || !strings.HasPrefix(reqs[0].RequestedBy, "webhook:generic:ci-") {
				t.Errorf("request = %+v", reqs[0])
			}
			if p := deployParams(t, reqs[0]); !reflect.DeepEqual(*p, tt.want) {
				t.Errorf("params = %+v, want %+v", *p, tt.want)
			}
		})
	}
}

func TestGenericInvalid(t *testing.T) {
	t.Parallel()
	e := setup(t)
	tests := []struct{ name, body, field string }{
		{"no delivery_id", `{"image": "u", "servers": ["s1"]}`, "delivery_id"},
		{"empty delivery_id", `{"delivery_id": "", "image": "u", "servers": ["s1"]}`, "delivery_id"},
		{"delivery_id not a string", `{"delivery_id": 7, "image": "u", "servers": ["s1"]}`, "delivery_id"},
		{"no image", `{"delivery_id": "d", "servers": ["s1"]}`, "image"},
		{"blank image", `{"delivery_id": "d", "image": "  ", "servers": ["s1"]}`, "image"},
		{"no targets", `{"delivery_id": "d", "image": "u"}`, "selector"},
		{"both targets", `{"delivery_id": "d", "image": "u", "servers": ["s1"], "selector": {"a": "b"}}`, "selector"},
		{"empty selector", `{"delivery_id": "d", "image": "u", "selector": {}}`, "selector"},
		{"bad server id", `{"delivery_id": "d", "image": "u", "servers": ["S 1"]}`, "servers[0]"},
		{"batch_size 0", `{"delivery_id": "d", "image": "u", "servers": ["s1"], "batch_size": 0}`, "batch_size"},
		{"batch_size text", `{"delivery_id": "d", "image": "u", "servers": ["s1"], "batch_size": "2"}`, "batch_size"},
		{"negative max_failures", `{"delivery_id": "d", "image": "u", "servers": ["s1"], "max_failures": -1}`, "max_failures"},
		{"bad priority", `{"delivery_id": "d", "image": "u", "servers": ["s1"], "priority": "urgent"}`, "priority"},
		{"unknown field", `{"delivery_id": "d", "image": "u", "servers": ["s1"], "server": "s1"}`, "server"},
		{"not an object", `["d"]`, ""},
		{"null", `null`, ""},
		{"not JSON", `delivery_id=d`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := []byte(tt.body)
			got := answer(t, e.generic(t, body, signature(genericSecret, body)), 400)
			if got.Field != tt.field {
				t.Errorf("problem names field %q, want %q: %+v", got.Field, tt.field, got)
			}
		})
	}
	if e.sub.count() != 0 || e.keys(t) != 0 {
		t.Errorf("invalid bodies submitted %d requests and left %d keys", e.sub.count(), e.keys(t))
	}
}

func TestGenericSignature(t *testing.T) {
	t.Parallel()
	e := setup(t)
	body := []byte(`{"delivery_id": "sig-1", "image": "u", "servers": ["s1"]}`)
	answer(t, e.generic(t, body, ""), 401)
	answer(t, e.generic(t, body, signature(githubSecret, body)), 401) // the other route's secret
	answer(t, e.generic(t, body, signature(genericSecret, []byte(`{}`))), 401)
	if e.sub.count() != 0 || e.keys(t) != 0 {
		t.Fatalf("forged deliveries submitted %d requests and left %d keys", e.sub.count(), e.keys(t))
	}
	answer(t, e.generic(t, body, signature(genericSecret, body)), 202)
}

func TestGenericReplayAndSubmitFailure(t *testing.T) {
	t.Parallel()
	e := setup(t)
	body := []byte(`{"delivery_id": "ci-99", "image": "ubuntu-24.04", "selector": {"os": "ubuntu"}}`)
	sig := signature(genericSecret, body)
	e.sub.failNext(1)
	answer(t, e.generic(t, body, sig), 503)
	first := answer(t, e.generic(t, body, sig), 202)
	// A replay, even with another body, is the same delivery.
	other := []byte(`{"delivery_id": "ci-99", "image": "debian-13", "selector": {"os": "debian"}}`)
	again := answer(t, e.generic(t, other, signature(genericSecret, other)), 200)
	if again.Status != "duplicate" || again.JobID != first.JobID {
		t.Fatalf("replay answered %+v, want duplicate of %s", again, first.JobID)
	}
	if n := e.sub.count(); n != 1 {
		t.Errorf("%d requests accepted, want 1", n)
	}
}

func TestGenericOversized(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var servers strings.Builder // ~100 KiB of distinct server ids, under MaxBody
	for i := range 3000 {
		fmt.Fprintf(&servers, `"srv-%028d",`, i)
	}
	body := []byte(`{"delivery_id": "big", "image": "u", "servers": [` + servers.String() + `"srv-last"]}`)
	answer(t, e.generic(t, body, signature(genericSecret, body)), 413)

	small := setup(t, func(c *webhook.Config) { c.MaxBody = 64 })
	answer(t, small.generic(t, body, signature(genericSecret, body)), 413)
}

func TestGenericRouteDisabled(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *webhook.Config) { c.GenericSecret = nil })
	body := []byte(`{"delivery_id": "off", "image": "u", "servers": ["s1"]}`)
	answer(t, e.generic(t, body, signature(nil, body)), 404)
}
