package webhook

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

// ServeGeneric handles POST /v1/webhooks/generic: a body signed with
// X-Tinman-Signature that names the deploy itself:
//
//	{"delivery_id": "ci-run-4711", "image": "ubuntu-24.04", "selector": {"rack": "r1"},
//	 "batch_size": 2, "max_failures": 1, "priority": "default"}
//
// with "servers": ["srv-1", ...] in place of "selector" to name the servers.
// delivery_id is required; batch_size, max_failures and priority are not.
func (h *Handler) ServeGeneric(w http.ResponseWriter, r *http.Request) {
	log := h.log.With().Str("webhook", "generic").Logger()
	a, err := h.generic(w, r)
	h.respond(w, log, a, err)
}

func (h *Handler) generic(w http.ResponseWriter, r *http.Request) (answer, error) {
	if len(h.genericSecret) == 0 {
		return answer{}, disabled("generic")
	}
	body, err := h.readSigned(w, r, h.genericSecret, GenericSignatureHeader)
	if err != nil {
		return answer{}, err
	}
	delivery, req, err := parseGeneric(body)
	if err != nil {
		return answer{}, err
	}
	d := store.Delivery{Source: store.WebhookGeneric, ID: delivery, BodySHA256: bodyHash(body)}
	if a, err := h.seen(r.Context(), d); err != nil || a.Status != "" {
		return a, err
	}
	return h.start(r.Context(), d, req, answer{Image: imageOf(req)})
}

// parseGeneric reads a generic body into its delivery id and deploy request.
// Errors are 400 problems that name the body field.
func parseGeneric(body []byte) (string, jobs.Request, error) {
	if err := jobs.CheckJSON(body); err != nil {
		return "", jobs.Request{}, badField(jobs.AsError(err).Field, jobs.AsError(err).Message)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return "", jobs.Request{}, badField("", "the body must be a JSON object")
	}
	delivery, err := takeString(obj, "delivery_id")
	switch {
	case err != nil:
		return "", jobs.Request{}, err
	case delivery == "":
		return "", jobs.Request{}, badField("delivery_id", "is required")
	case !validDeliveryID(delivery):
		return "", jobs.Request{}, badField("delivery_id", fmt.Sprintf("must be 1 to %d printable characters without spaces", maxDeliveryID))
	}
	req, err := genericRequest(obj, delivery)
	return delivery, req, err
}

// genericRequest makes the deploy of a generic body whose delivery_id has
// been taken out: what remains, but priority, is the deploy's params.
func genericRequest(obj map[string]json.RawMessage, delivery string) (jobs.Request, error) {
	priority, err := takeString(obj, "priority")
	if err != nil {
		return jobs.Request{}, err
	}
	params, err := json.Marshal(obj)
	if err != nil { // unreachable: raw values that json.Unmarshal has checked
		return jobs.Request{}, badField("", err.Error())
	}
	req := jobs.Request{ID: jobID("generic", delivery), Type: jobs.Deploy, Params: params,
		Priority: jobs.Priority(priority), RequestedBy: "webhook:generic:" + delivery}
	if err := req.Validate(); err != nil {
		je := jobs.AsError(err)
		return jobs.Request{}, badField(strings.TrimPrefix(je.Field, "params."), je.Message)
	}
	if size := len(mustJSON(req)); size > jobs.MaxRequestSize {
		return jobs.Request{}, newProblem(http.StatusRequestEntityTooLarge,
			"the deploy makes a request of %d bytes, more than the %d a request may have", size, jobs.MaxRequestSize)
	}
	return req, nil
}

// takeString removes key from obj and returns its string value, "" when absent.
func takeString(obj map[string]json.RawMessage, key string) (string, error) {
	raw, ok := obj[key]
	if !ok {
		return "", nil
	}
	delete(obj, key)
	var s *string
	if err := json.Unmarshal(raw, &s); err != nil || s == nil {
		return "", badField(key, "must be a string")
	}
	return *s, nil
}

func badField(field, message string) *problem {
	if field == "" {
		return newProblem(http.StatusBadRequest, "%s", message)
	}
	p := newProblem(http.StatusBadRequest, "%s %s", field, message)
	p.Field = field
	return p
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v) // a jobs.Request always marshals
	return b
}

// imageOf returns the image of a deploy request built here.
func imageOf(req jobs.Request) string {
	var p struct {
		Image string `json:"image"`
	}
	_ = json.Unmarshal(req.Params, &p)
	return p.Image
}
