package api

import (
	"bytes"
	_ "embed" // the OpenAPI document
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/tinmanhq/tinman/schemas"
)

// openAPIData is the OpenAPI 3.1 document of the API, kept as data. Its
// JobRequest and CloudEvent schemas are placeholders for the project's
// public JSON Schemas, put in their place when the document is served, so
// the two never disagree.
//
//go:embed openapi.json
var openAPIData []byte

// OpenAPI returns the served OpenAPI document.
func OpenAPI() ([]byte, error) { return openAPIDoc() }

var openAPIDoc = sync.OnceValues(buildOpenAPI)

// projectSchemas names the components that are the project's JSON Schemas.
var projectSchemas = []struct{ component, file string }{
	{"JobRequest", schemas.RequestFile},
	{"CloudEvent", schemas.EventFile},
}

// buildOpenAPI puts the project's schemas, their $defs included, into the
// document's components. Numbers are kept as written: a float64 would round
// 9223372036854775807.
func buildOpenAPI() ([]byte, error) {
	var doc map[string]any
	if err := decodeExact(openAPIData, &doc); err != nil {
		return nil, fmt.Errorf("parse openapi.json: %w", err)
	}
	comps, _ := doc["components"].(map[string]any)
	defs, _ := comps["schemas"].(map[string]any)
	if defs == nil {
		return nil, fmt.Errorf("openapi.json has no components.schemas")
	}
	for _, p := range projectSchemas {
		delete(defs, p.component) // the placeholder
	}
	files := schemas.Files()
	set := newComponentSet(defs)
	for _, p := range projectSchemas {
		if err := set.addSchemaFile(p.component, p.file, files[p.file]); err != nil {
			return nil, err
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("marshal openapi document: %w", err)
	}
	return out, nil
}

// decodeExact decodes one JSON value, numbers as json.Number, so that
// integers keep every digit.
func decodeExact(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("data after the JSON value")
	}
	return nil
}

// serveOpenAPI answers GET /openapi.json.
func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	doc, err := openAPIDoc()
	if err != nil {
		fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(doc)
}
