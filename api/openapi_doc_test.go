package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tinmanhq/tinman/schemas"
)

// servedDoc returns the served document, its numbers as json.Number.
func servedDoc(t *testing.T) map[string]any {
	t.Helper()
	data, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var doc map[string]any
	if err := d.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// walkJSON calls visit with every object under v and its JSON pointer.
func walkJSON(v any, ptr string, visit func(ptr string, obj map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		visit(ptr, v)
		for k, e := range v {
			walkJSON(e, ptr+"/"+strings.NewReplacer("~", "~0", "/", "~1").Replace(k), visit)
		}
	case []any:
		for i, e := range v {
			walkJSON(e, fmt.Sprintf("%s/%d", ptr, i), visit)
		}
	}
}

// resolve follows the pointer "#/a/b" through the objects of doc.
func resolve(doc any, ref string) (any, bool) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, false
	}
	cur := doc
	for _, tok := range strings.Split(rest, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// TestOpenAPIRefsResolve holds every $ref of the served document to a
// component that exists, with no $defs left, and every component to be
// referenced (a reference in an extension such as x-event-data counts).
func TestOpenAPIRefsResolve(t *testing.T) {
	t.Parallel()
	doc := servedDoc(t)
	used := map[string]bool{}
	walkJSON(doc, "#", func(ptr string, obj map[string]any) {
		if _, ok := obj["$defs"]; ok {
			t.Errorf("%s has $defs, which OpenAPI tools do not resolve", ptr)
		}
		ref, ok := obj["$ref"].(string)
		if !ok {
			return
		}
		if _, found := resolve(doc, ref); !found || !strings.HasPrefix(ref, "#/components/") {
			t.Errorf("%s: $ref %q is not to a component of the document", ptr, ref)
		}
		used[ref] = true
	})
	comps, _ := doc["components"].(map[string]any)
	for kind, set := range comps {
		if kind == "securitySchemes" { // named by security requirements, not by $ref
			continue
		}
		for name := range set.(map[string]any) {
			if !used["#/components/"+kind+"/"+name] {
				t.Errorf("component %s/%s is never referenced", kind, name)
			}
		}
	}
}

// numbers adds every number literal under v to into, as written.
func numbers(v any, into map[string]bool) {
	switch v := v.(type) {
	case json.Number:
		into[v.String()] = true
	case map[string]any:
		for _, e := range v {
			numbers(e, into)
		}
	case []any:
		for _, e := range v {
			numbers(e, into)
		}
	}
}

// TestOpenAPIIntegersExact: the served document holds the numbers of its
// sources as they are written there, none rounded through a float64.
func TestOpenAPIIntegersExact(t *testing.T) {
	t.Parallel()
	doc := servedDoc(t)
	served, sources := map[string]bool{}, map[string]bool{}
	numbers(doc, served)
	files := schemas.Files()
	for _, data := range [][]byte{openAPIData, files[schemas.RequestFile], files[schemas.EventFile]} {
		var v any
		if err := decodeExact(data, &v); err != nil {
			t.Fatal(err)
		}
		numbers(v, sources)
	}
	if !maps.Equal(served, sources) {
		t.Errorf("numbers of the served document %v, of its sources %v", slices.Sorted(maps.Keys(served)), slices.Sorted(maps.Keys(sources)))
	}
	for _, tt := range []struct{ ptr, want string }{
		{"#/components/schemas/deployParams/properties/max_failures/minimum", "0"},
		{"#/components/schemas/deployParams/properties/max_failures/maximum", strconv.FormatInt(math.MaxInt64, 10)},
		{"#/components/schemas/deployParams/properties/batch_size/minimum", "1"},
		// The bound is the dispatcher's --max-batch-size, not the schema's.
		{"#/components/schemas/deployParams/properties/batch_size/maximum", strconv.FormatInt(math.MaxInt64, 10)},
	} {
		if got, _ := resolve(doc, tt.ptr); got != json.Number(tt.want) {
			t.Errorf("%s is %v, want %s", tt.ptr, got, tt.want)
		}
	}
}

// TestOpenAPISchemasMeanTheFiles compiles the served JobRequest and
// CloudEvent, their references moved, and holds them to the verdicts of
// schemas/request.json and schemas/event.json on every golden case.
func TestOpenAPISchemasMeanTheFiles(t *testing.T) {
	t.Parallel()
	data, err := OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range projectSchemas {
		served := compileSchema(t, data, "mem:///openapi.json", "#/components/schemas/"+p.component)
		file := compileSchema(t, schemas.Files()[p.file], "mem:///"+p.file, "")
		dir := map[string]string{schemas.RequestFile: "requests", schemas.EventFile: "events"}[p.file]
		checkVerdicts(t, dir, file, served)
	}
}

// checkVerdicts runs the golden cases of schemas/testdata/dir through both
// schemas, which must agree; some cases must pass and some fail.
func checkVerdicts(t *testing.T, dir string, file, served *jsonschema.Schema) {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "schemas", "testdata", dir, "*", "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no golden cases in schemas/testdata/%s: %v", dir, err)
	}
	verdicts := map[bool]int{}
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			continue // not JSON: refused before any schema
		}
		want, got := file.Validate(v) == nil, served.Validate(v) == nil
		if want != got {
			t.Errorf("%s: the served schema says valid=%v, the file valid=%v", path, got, want)
		}
		verdicts[want]++
	}
	if verdicts[true] == 0 || verdicts[false] == 0 {
		t.Errorf("schemas/testdata/%s: %d cases pass and %d fail the file; want some of each", dir, verdicts[true], verdicts[false])
	}
}

// compileSchema compiles the schema at fragment of the document data, put at url.
func compileSchema(t *testing.T, data []byte, url, fragment string) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(url + fragment)
	if err != nil {
		t.Fatalf("compile %s%s: %v", url, fragment, err)
	}
	return sch
}
