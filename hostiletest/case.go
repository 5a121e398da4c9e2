package hostiletest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Catalogue is one file of cases: testdata/hostile/<name>.json.
type Catalogue struct {
	// Edge names the edge the cases are sent to (http, sse, nats, callback, webhook).
	Edge  string `json:"edge"`
	Cases []Case `json:"cases"`
}

// Case is one hostile input and what the edge must answer. Which fields
// count depends on the edge: an HTTP case has Method and Path, a NATS case
// Subject; every case has a body, given one of three ways.
type Case struct {
	Name  string `json:"name"`
	Class Class  `json:"class"`

	// Method and Path are the HTTP request's; Path is sent as written, with
	// its query and escapes.
	Method string `json:"method,omitempty"`
	Path   string `json:"path,omitempty"`
	// Role is the token the request carries: none, viewer, operator or
	// admin (default: the least role the route takes, chosen by the suite).
	Role string `json:"role,omitempty"`
	// Subject is the NATS subject a request or report is published on.
	Subject string `json:"subject,omitempty"`
	// Server is the server a callback reports about (path or subject).
	Server string `json:"server,omitempty"`
	// Headers are sent in order; a name given twice is sent twice.
	Headers [][2]string `json:"headers,omitempty"`
	// Sign says how a webhook body is signed: "" (rightly), "none", or a
	// keyword the webhook suite knows.
	Sign string `json:"sign,omitempty"`

	// The body: Text as written, else Base64 decoded, else Repeat made.
	Text   *string `json:"body,omitempty"`
	Base64 string  `json:"body_base64,omitempty"`
	Repeat *Repeat `json:"body_repeat,omitempty"`

	Want Want `json:"want"`
}

// Repeat makes a large body: Prefix, Unit Count times, then Suffix.
type Repeat struct {
	Prefix string `json:"prefix"`
	Unit   string `json:"unit"`
	Count  int    `json:"count"`
	Suffix string `json:"suffix"`
}

// Want is what the edge must answer. Every case also changes nothing:
// no job, no record, no server; the suites check that themselves.
type Want struct {
	// Status is the HTTP status (HTTP edges).
	Status int `json:"status,omitempty"`
	// Code is the problem's code, or the rejection's error code.
	Code string `json:"code,omitempty"`
	// Field is the field the problem or rejection names ("" when it names none).
	Field string `json:"field"`
	// Header is the header a webhook problem names.
	Header string `json:"header,omitempty"`
	// Outcome is what a NATS edge does: "rejected" (a tinman.request.rejected
	// event), "duplicate" (JetStream drops it), "refused" (a report
	// terminated, nothing recorded). A webhook: "duplicate" answers.
	Outcome string `json:"outcome,omitempty"`
}

// Body returns the case's body (nil when it has none).
func (c Case) Body() ([]byte, error) {
	switch {
	case c.Text != nil:
		return []byte(*c.Text), nil
	case c.Base64 != "":
		b, err := base64.StdEncoding.DecodeString(c.Base64)
		if err != nil {
			return nil, fmt.Errorf("case %q: body_base64: %w", c.Name, err)
		}
		return b, nil
	case c.Repeat != nil:
		var b bytes.Buffer
		b.WriteString(c.Repeat.Prefix)
		b.WriteString(strings.Repeat(c.Repeat.Unit, c.Repeat.Count))
		b.WriteString(c.Repeat.Suffix)
		return b.Bytes(), nil
	}
	return nil, nil
}

// Load reads every catalogue of dir (testdata/hostile), checking each.
func Load(t testing.TB, dir string) []Catalogue {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no hostile catalogue in %s (%v)", dir, err)
	}
	var out []Catalogue
	for _, f := range files {
		cat, err := read(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, cat)
	}
	return out
}

// Cases returns the cases of every catalogue in dir of edge.
func Cases(t testing.TB, dir, edge string) []Case {
	t.Helper()
	var out []Case
	for _, cat := range Load(t, dir) {
		if cat.Edge == edge {
			out = append(out, cat.Cases...)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no hostile cases for edge %s in %s", edge, dir)
	}
	return out
}

// Run runs check as a subtest for each case of edge in dir, in order.
func Run(t *testing.T, dir, edge string, check func(t *testing.T, c Case)) {
	t.Helper()
	for _, c := range Cases(t, dir, edge) {
		t.Run(c.Name, func(t *testing.T) { check(t, c) })
	}
}

// read reads and checks one catalogue: unknown keys, unnamed or
// unclassified cases, and names given twice are errors.
func read(path string) (Catalogue, error) {
	var cat Catalogue
	data, err := os.ReadFile(path)
	if err != nil {
		return cat, fmt.Errorf("read catalogue: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cat); err != nil {
		return cat, fmt.Errorf("catalogue %s: %w", path, err)
	}
	var names []string
	for _, c := range cat.Cases {
		if _, known := Classes[c.Class]; !known || c.Name == "" || slices.Contains(names, c.Name) {
			return cat, fmt.Errorf("catalogue %s: case %q: a case needs a unique name and a known class (not %q)", path, c.Name, c.Class)
		}
		if _, err := c.Body(); err != nil {
			return cat, fmt.Errorf("catalogue %s: %w", path, err)
		}
		names = append(names, c.Name)
	}
	return cat, nil
}
