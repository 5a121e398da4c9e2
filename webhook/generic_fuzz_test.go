package webhook

import (
	"encoding/json"
	"testing"

	"github.com/tinmanhq/tinman/jobs"
)

// FuzzGenericBody: any generic webhook body, never a panic; an accepted
// one was JSON with each key once and its strings text, and makes a valid
// deploy request, within the size of a request, whose id its delivery id
// gives.
func FuzzGenericBody(f *testing.F) {
	for _, s := range []string{
		`{"delivery_id":"ci-1","image":"u","servers":["s1"]}`,
		`{"delivery_id":"ci-2","image":"u","selector":{"rack":"r1"},"batch_size":2,"max_failures":1,"priority":"low"}`,
		`{"delivery_id":"d","delivery_id":"e","image":"u","servers":["s1"]}`,
		`{"delivery_id":"d","Image":"u","servers":["s1"]}`,
		`{"delivery_id":"d","image":"u","servers":["s1"],"batch_size":1e400}`,
		"{\"delivery_id\":\"d\",\"image\":\"\xff\",\"servers\":[\"s1\"]}",
		`{"delivery_id":"d","image":"u","selector":[[[[`, `null`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		delivery, req, err := parseGeneric(body)
		if err != nil {
			if p := asProblem(err); p.Status != 400 && p.Status != 413 {
				t.Fatalf("refused with %d: %v", p.Status, err)
			}
			return
		}
		switch {
		case !json.Valid(body) || jobs.CheckJSON(body) != nil:
			t.Fatalf("accepted %q, which is not strict JSON", body)
		case !validDeliveryID(delivery) || req.ID != jobID("generic", delivery):
			t.Fatalf("accepted delivery %q as job %q", delivery, req.ID)
		case req.Validate() != nil:
			t.Fatalf("accepted %q as an invalid request: %v", body, req.Validate())
		case len(mustJSON(req)) > jobs.MaxRequestSize:
			t.Fatalf("accepted %q as a request of %d bytes", body, len(mustJSON(req)))
		}
	})
}
