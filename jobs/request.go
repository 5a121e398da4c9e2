package jobs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// MaxRequestSize is the largest request Tinman accepts, in bytes.
const MaxRequestSize = 64 << 10

// Request asks for a job. It is what arrives over NATS, the HTTP API or a webhook.
type Request struct {
	// ID is the job id and the idempotency key: the same ID twice is one job.
	// It is optional; the edge that accepts the request assigns one when empty.
	ID          string          `json:"id,omitempty"`
	Type        Type            `json:"type"`
	Server      string          `json:"server,omitempty"`
	Params      json.RawMessage `json:"params,omitempty"`
	Priority    Priority        `json:"priority,omitempty"`
	RequestedBy string          `json:"requested_by,omitempty"`
}

// Messages that DecodeRequest and Validate share.
const (
	priorityRule   = "must be one of critical, default, low"
	serverOnDeploy = "is not allowed on a deploy job: use params.servers or params.selector"
)

// DecodeRequest parses and validates a request as the schema
// (schemas/request.json) does: it rejects oversized input, trailing data,
// keys that are unknown or not spelt exactly, null and values of the wrong
// JSON type, and names the field at fault.
func DecodeRequest(data []byte) (Request, error) {
	var r Request
	if len(data) > MaxRequestSize {
		return r, Invalid("", fmt.Sprintf("request is %d bytes, more than the %d allowed", len(data), MaxRequestSize))
	}
	if err := CheckJSON(data); err != nil {
		return r, err
	}
	given, err := decodeObject(data, "", r.members())
	if err != nil {
		return r, err
	}
	if err := r.rejectEmpty(given); err != nil {
		return r, err
	}
	return r, r.Validate()
}

func (r *Request) members() []member {
	return []member{
		{"id", text(&r.ID)},
		{"type", text(&r.Type)},
		{"server", text(&r.Server)},
		{"params", rawJSONObject(&r.Params)},
		{"priority", text(&r.Priority)},
		{"requested_by", text(&r.RequestedBy)},
	}
}

// rejectEmpty rejects an id, server or priority given as "", which Validate
// cannot tell from one left out.
func (r Request) rejectEmpty(given map[string]json.RawMessage) error {
	empty := func(key string) bool { return string(given[key]) == `""` }
	switch {
	case empty("id"):
		return Invalid("id", "must match "+jobIDPattern.String())
	case empty("server") && !r.Type.TargetsServer():
		return Invalid("server", serverOnDeploy)
	case empty("server"):
		return Invalid("server", "must match "+serverIDPattern.String())
	case empty("priority"):
		return Invalid("priority", priorityRule)
	}
	return nil
}

// Validate checks the request and its params for its type. An empty ID,
// Server or Priority is taken as absent.
func (r Request) Validate() error {
	if r.ID != "" && !ValidJobID(r.ID) {
		return Invalid("id", "must match "+jobIDPattern.String())
	}
	if _, err := ParseType(string(r.Type)); err != nil {
		return err
	}
	if err := r.validateServer(); err != nil {
		return err
	}
	if !r.Priority.valid() {
		return Invalid("priority", priorityRule)
	}
	if utf8.RuneCountInString(r.RequestedBy) > 256 {
		return Invalid("requested_by", "must be at most 256 characters")
	}
	_, err := r.DecodeParams()
	return err
}

func (r Request) validateServer() error {
	switch {
	case r.Type.TargetsServer() && r.Server == "":
		return Invalid("server", "is required for a "+string(r.Type)+" job")
	case r.Server != "" && !ValidServerID(r.Server):
		return Invalid("server", "must match "+serverIDPattern.String())
	case !r.Type.TargetsServer() && r.Server != "":
		return Invalid("server", serverOnDeploy)
	}
	return nil
}

// Params is implemented by every type's parameter struct.
type Params interface {
	Validate() error
}

// paramsObject is a Params that decodeObject can decode.
type paramsObject interface {
	Params
	members() []member
}

// DecodeParams decodes and validates r.Params into the struct of r.Type.
// Params that are empty (nil or blank) are absent, which only the types
// that take no params allow; JSON null is not an object, and is refused.
func (r Request) DecodeParams() (Params, error) {
	p, err := newParams(r.Type)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(r.Params)) == 0 {
		if _, optional := p.(interface{ optional() }); !optional {
			return nil, Invalid("params", "is required")
		}
		return p, nil
	}
	if err := decodeParams(r.Params, p); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

func decodeParams(data []byte, p paramsObject) error {
	_, err := decodeObject(data, "params", p.members())
	return err
}

func newParams(t Type) (paramsObject, error) {
	switch t {
	case Power:
		return &PowerParams{}, nil
	case BootDevice:
		return &BootDeviceParams{}, nil
	case Inspect:
		return &NoParams{}, nil
	case Deprovision:
		return &DeprovisionParams{}, nil
	case Provision:
		return &ProvisionParams{}, nil
	case BMCReset:
		return &BMCResetParams{}, nil
	case Deploy:
		return &DeployParams{}, nil
	}
	return nil, Invalid("type", fmt.Sprintf("must be one of %s", joinTypes()))
}
