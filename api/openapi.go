package api

import (
	_ "embed" // the OpenAPI document
	"encoding/json"
	"fmt"
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

// buildOpenAPI fills the document's JobRequest and CloudEvent schemas.
func buildOpenAPI() ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(openAPIData, &doc); err != nil {
		return nil, fmt.Errorf("parse openapi.json: %w", err)
	}
	comps, _ := doc["components"].(map[string]any)
	defs, _ := comps["schemas"].(map[string]any)
	if defs == nil {
		return nil, fmt.Errorf("openapi.json has no components.schemas")
	}
	files := schemas.Files()
	for name, file := range map[string]string{"JobRequest": schemas.RequestFile, "CloudEvent": schemas.EventFile} {
		var s map[string]any
		if err := json.Unmarshal(files[file], &s); err != nil {
			return nil, fmt.Errorf("schema %s: %w", file, err)
		}
		delete(s, "$schema") // the document's jsonSchemaDialect says it
		defs[name] = s
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("marshal openapi document: %w", err)
	}
	return out, nil
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
