package jobs

import (
	"bytes"
	"encoding/json"
	"fmt"
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

// DecodeRequest parses and validates a request. It rejects unknown fields,
// trailing data and oversized input, and names the field at fault.
func DecodeRequest(data []byte) (Request, error) {
	var r Request
	if len(data) > MaxRequestSize {
		return r, Invalid("", fmt.Sprintf("request is %d bytes, more than the %d allowed", len(data), MaxRequestSize))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, Invalid("", fmt.Sprintf("not a JSON request object: %v", err))
	}
	if dec.More() {
		return r, Invalid("", "trailing data after the request object")
	}
	return r, r.Validate()
}

// Validate checks the request and its params for its type.
func (r Request) Validate() error {
	if r.ID != "" && !ValidJobID(r.ID) {
		return Invalid("id", "must match ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
	}
	if _, err := ParseType(string(r.Type)); err != nil {
		return err
	}
	if err := r.validateServer(); err != nil {
		return err
	}
	if !r.Priority.valid() {
		return Invalid("priority", "must be one of critical, default, low")
	}
	if len(r.RequestedBy) > 256 {
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
		return Invalid("server", "must match ^[a-z0-9][a-z0-9-]{0,62}$")
	case !r.Type.TargetsServer() && r.Server != "":
		return Invalid("server", "is not allowed on a deploy job: use params.servers or params.selector")
	}
	return nil
}

// Params is implemented by every type's parameter struct.
type Params interface {
	Validate() error
}

// DecodeParams decodes and validates r.Params into the struct of r.Type.
func (r Request) DecodeParams() (Params, error) {
	p, err := newParams(r.Type)
	if err != nil {
		return nil, err
	}
	raw := r.Params
	if len(bytes.TrimSpace(raw)) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		raw = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		return nil, Invalid("params", fmt.Sprintf("invalid for a %s job: %v", r.Type, err))
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

func newParams(t Type) (Params, error) {
	switch t {
	case Power:
		return &PowerParams{}, nil
	case BootDevice:
		return &BootDeviceParams{}, nil
	case Inspect, Deprovision:
		return &NoParams{}, nil
	case Provision:
		return &ProvisionParams{}, nil
	case BMCReset:
		return &BMCResetParams{}, nil
	case Deploy:
		return &DeployParams{}, nil
	}
	return nil, Invalid("type", fmt.Sprintf("must be one of %s", joinTypes()))
}
