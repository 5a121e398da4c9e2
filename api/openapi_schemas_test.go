package api

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestComponentSetMovesDefs moves the $defs of two schema files into one
// set of components, or refuses, naming what clashes.
func TestComponentSetMovesDefs(t *testing.T) {
	t.Parallel()
	const a = `{"$id": "https://x/a.json", "$schema": "https://json-schema.org/draft/2020-12/schema",
		"properties": {"n": {"$ref": "#/$defs/count"}}, "$defs": {"count": {"type": "integer", "maximum": 9223372036854775807}}}`
	tests := []struct {
		name, b, want string // want: a part of the error; "" for none
	}{
		{"same def twice", `{"$defs": {"count": {"type": "integer", "maximum": 9223372036854775807}}}`, ""},
		{"same def, different", `{"$defs": {"count": {"type": "integer", "maximum": 9223372036854775806}}}`,
			`component "count" is defined differently by schemas/a.json $defs and by schemas/b.json $defs`},
		{"def in another case", `{"$defs": {"Count": {"type": "integer"}}}`,
			`components "count" (schemas/a.json $defs) and "Count" (schemas/b.json $defs) differ only in case`},
		{"def named as a hand-written component", `{"$defs": {"Problem": {"type": "string"}}}`,
			`component "Problem" is defined differently by openapi.json and by schemas/b.json $defs`},
		{"def named as a file's component", `{"$defs": {"A": {"type": "string"}}}`,
			`component "A" is defined differently by schemas/a.json and by schemas/b.json $defs`},
		{"ref to no def", `{"properties": {"x": {"$ref": "#/$defs/nothing"}}}`, `$ref "#/$defs/nothing" is not to one of the file's $defs`},
		{"ref out of the file", `{"properties": {"x": {"$ref": "other.json#/$defs/count"}}}`, `$ref "other.json#/$defs/count" is not to one`},
		{"ref to a def elsewhere", `{"properties": {"x": {"$ref": "#/properties/y"}}}`, `$ref "#/properties/y" is not to one`},
		{"nested $id", `{"properties": {"x": {"$id": "y.json"}}}`, "keyword $id inside a schema cannot be moved"},
		{"nested $defs", `{"$defs": {"d": {"$defs": {"e": {}}}}}`, "keyword $defs inside a schema cannot be moved"},
		{"bad name", `{"$defs": {"a b": {}}}`, `"a b" is no valid component name`},
		{"not JSON", `{"$defs": `, "schema b.json: unexpected EOF"},
		{"two values", `{} {}`, "schema b.json: data after the JSON value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			comps := map[string]any{"Problem": map[string]any{"type": "object"}}
			set := newComponentSet(comps)
			if err := set.addSchemaFile("A", "a.json", []byte(a)); err != nil {
				t.Fatal(err)
			}
			err := set.addSchemaFile("B", "b.json", []byte(tt.b))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				checkMoved(t, comps)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one with %q", err, tt.want)
			}
		})
	}
}

// checkMoved checks the components that a.json became: A without its
// $id, $schema and $defs, its reference rewritten, count exact.
func checkMoved(t *testing.T, comps map[string]any) {
	t.Helper()
	got, err := json.Marshal(map[string]any{"A": comps["A"], "count": comps["count"]})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"A":{"properties":{"n":{"$ref":"#/components/schemas/count"}}},"count":{"maximum":9223372036854775807,"type":"integer"}}`
	if string(got) != want {
		t.Errorf("moved components\n got %s\nwant %s", got, want)
	}
}
