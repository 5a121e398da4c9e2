// Package schemas holds Tinman's public JSON Schemas (draft 2020-12): the job
// request (request.json) and the CloudEvents envelope of every event
// (event.json). A Validator checks raw messages against them and reports the
// most specific failure as a *jobs.Error that names the field, in words an
// operator can act on.
package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/tinmanhq/tinman/jobs"
)

//go:embed *.json
var files embed.FS

// RequestFile is the name of the job request schema in Files.
const RequestFile = "request.json"

// EventFile is the name of the CloudEvents envelope schema in Files.
const EventFile = "event.json"

// baseURL is where the schemas' $id says they live.
const baseURL = "https://github.com/tinmanhq/tinman/schemas/"

// MaxEventSize is the largest event the Validator accepts, in bytes: the
// default max_payload of a NATS server. An event can carry a whole rejected
// request, so it is allowed more room than jobs.MaxRequestSize.
const MaxEventSize = 1 << 20

// Validator checks requests and events against the embedded schemas. Safe for concurrent use.
type Validator struct {
	request *jsonschema.Schema
	event   *jsonschema.Schema
}

// New compiles the embedded schemas. It fails only if they are broken.
func New() (*Validator, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	request, err := compile(c, RequestFile)
	if err != nil {
		return nil, err
	}
	event, err := compile(c, EventFile)
	if err != nil {
		return nil, err
	}
	return &Validator{request: request, event: event}, nil
}

func compile(c *jsonschema.Compiler, name string) (*jsonschema.Schema, error) {
	data, err := files.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read schema %s: %w", name, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("parse schema %s: %w", name, err)
	}
	if err := c.AddResource(baseURL+name, doc); err != nil {
		return nil, fmt.Errorf("add schema %s: %w", name, err)
	}
	sch, err := c.Compile(baseURL + name)
	if err != nil {
		return nil, fmt.Errorf("compile schema %s: %w", name, err)
	}
	return sch, nil
}

// Request validates a raw request. A failure is a *jobs.Error with Code jobs.CodeInvalidRequest,
// Field the dotted path of the failing field ("params.action", "params.servers[0]", "" for the root)
// and Message the rule in plain words, so err.Error() reads
// "params.action: must be one of on, off, soft, cycle, reset, status".
func (v *Validator) Request(data []byte) error {
	if len(data) > jobs.MaxRequestSize {
		return tooLarge("request", len(data), jobs.MaxRequestSize)
	}
	return validate(v.request, data)
}

// Event validates a raw CloudEvent the same way. Events larger than
// MaxEventSize are refused before parsing.
func (v *Validator) Event(data []byte) error {
	if len(data) > MaxEventSize {
		return tooLarge("event", len(data), MaxEventSize)
	}
	return validate(v.event, data)
}

func tooLarge(what string, size, limit int) *jobs.Error {
	return jobs.Invalid("", fmt.Sprintf("%s is %d bytes, more than the %d allowed", what, size, limit))
}

func validate(sch *jsonschema.Schema, data []byte) error {
	// JSON is UTF-8 text with each key once (RFC 8259); a JSON reader
	// would turn other bytes into U+FFFD, and read one of two copies of a
	// key, without a word: what is validated would not be what was sent.
	if err := jobs.CheckJSON(data); err != nil {
		return err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return jobs.Invalid("", "not valid JSON: "+jsonProblem(err))
	}
	doc = tame(doc)
	err = sch.Validate(doc)
	var verr *jsonschema.ValidationError
	if errors.As(err, &verr) {
		return failureOf(verr, doc)
	}
	if err != nil { // not a ValidationError: the library failed, not the input
		return jobs.Errorf(jobs.CodeInternal, false, "validate against %s: %w", sch.Location, err)
	}
	return nil
}

// jsonProblem says what is wrong with input that is not JSON, and where: the
// byte named is the offending one, counting from 1.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		return "empty input"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	case errors.As(err, &syntax):
		return fmt.Sprintf("%v (at byte %d)", syntax, syntax.Offset)
	}
	return err.Error()
}

// Files returns the embedded schema documents by name (for docs/ and the API's /schemas route).
// The map and its slices are the caller's own.
func Files() map[string][]byte {
	out := map[string][]byte{}
	entries, _ := fs.Glob(files, "*.json") // the pattern is constant and valid
	for _, name := range entries {
		data, err := files.ReadFile(name)
		if err == nil {
			out[name] = data
		}
	}
	return out
}
