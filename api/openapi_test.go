package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/tinmanhq/tinman/schemas"
)

// openAPIOperations returns "METHOD /path" -> operation of the served document.
func openAPIOperations(t *testing.T) map[string]map[string]any {
	t.Helper()
	data, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi %q, want 3.1", doc.OpenAPI)
	}
	ops := map[string]map[string]any{}
	for path, item := range doc.Paths {
		for method, op := range item {
			ops[strings.ToUpper(method)+" "+path] = op
		}
	}
	return ops
}

// TestOpenAPIMatchesRoutes walks both ways: every route is documented,
// with its role; every documented operation is a route the mux serves.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	a := mustNew(t, Config{})
	ops := openAPIOperations(t)
	var patterns []string
	for _, rt := range a.routes() {
		patterns = append(patterns, rt.pattern)
		op, ok := ops[rt.pattern]
		if !ok {
			t.Errorf("route %s is not in openapi.json", rt.pattern)
			continue
		}
		if role, _ := op["x-tinman-role"].(string); role != rt.role.String() {
			t.Errorf("%s: documented role %q, route needs %s", rt.pattern, role, rt.role)
		}
		checkResponses(t, rt, op)
	}
	for key := range ops {
		if !slices.Contains(patterns, key) {
			t.Errorf("openapi.json documents %s, which is no route", key)
		}
		method, path := concrete(key)
		if _, pattern := a.mux.Handler(httptest.NewRequest(method, path, nil)); pattern != key {
			t.Errorf("%s %s reaches pattern %q of the mux, want %s", method, path, pattern, key)
		}
	}
}

// checkResponses checks that an operation documents its auth answers, the
// problem answers every route can give, and a 400 where it takes input
// (what redocly's operation-4xx-response would ask, turned off for the
// routes that take none).
func checkResponses(t *testing.T, rt routeSpec, op map[string]any) {
	t.Helper()
	responses, _ := op["responses"].(map[string]any)
	needs := []string{"500"}
	if rt.role != RoleNone {
		needs = append(needs, "401", "403")
	}
	if takesInput(op) {
		needs = append(needs, "400")
	}
	for _, code := range needs {
		if _, ok := responses[code]; !ok {
			t.Errorf("%s does not document %s", rt.pattern, code)
		}
	}
	if sec, ok := op["security"]; (rt.role == RoleNone) != (ok && len(sec.([]any)) == 0) {
		t.Errorf("%s: security %v does not fit role %s", rt.pattern, sec, rt.role)
	}
}

// takesInput reports whether an operation has a body, or a parameter
// outside its path, that a client can get wrong.
func takesInput(op map[string]any) bool {
	params, _ := op["parameters"].([]any)
	for _, p := range params {
		if in, _ := p.(map[string]any)["in"].(string); in != "path" {
			return true
		}
	}
	return op["requestBody"] != nil
}

func TestOpenAPIServesTheProjectSchemas(t *testing.T) {
	t.Parallel()
	e := setup(t)
	a := e.do(t, RoleNone, "GET", "/openapi.json", "")
	want(t, a, http.StatusOK)
	var doc struct {
		Components struct {
			Schemas map[string]map[string]any `json:"schemas"`
		} `json:"components"`
	}
	a.decode(t, &doc)
	for _, p := range projectSchemas {
		var file map[string]any
		if err := json.Unmarshal(schemas.Files()[p.file], &file); err != nil {
			t.Fatal(err)
		}
		s := doc.Components.Schemas[p.component]
		if s["title"] != file["title"] || s["properties"] == nil || s["$id"] != nil {
			t.Errorf("schema %s is not schemas/%s without its $id: %v", p.component, p.file, s["title"])
		}
	}
}
