package api

import (
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// componentName is what OpenAPI 3.1 allows as the name of a component.
var componentName = regexp.MustCompile(`^[a-zA-Z0-9.\-_]+$`)

// unmovable are the keywords that would change meaning, or stop resolving,
// once a schema is moved under components/schemas.
var unmovable = []string{"$id", "$anchor", "$dynamicAnchor", "$dynamicRef", "$defs", "$schema"}

// componentSet is the document's components/schemas and where each came
// from. No OpenAPI tool resolves a $ref into $defs inside a component, so a
// JSON Schema file's $defs become components of their own; a name defined
// twice, differently, or twice in different case (which code generators
// would turn into one type name) is refused.
type componentSet struct {
	schemas map[string]any
	origin  map[string]string // name -> where it was defined
	folded  map[string]string // lower-case name -> name
}

func newComponentSet(schemas map[string]any) *componentSet {
	s := &componentSet{schemas: schemas, origin: map[string]string{}, folded: map[string]string{}}
	for name := range schemas {
		s.origin[name] = "openapi.json"
		s.folded[strings.ToLower(name)] = name
	}
	return s
}

// addSchemaFile adds the JSON Schema file data as the component name and
// each of its $defs as a component, with every "#/$defs/x" reference
// rewritten to "#/components/schemas/x".
func (s *componentSet) addSchemaFile(name, file string, data []byte) error {
	var root map[string]any
	if err := decodeExact(data, &root); err != nil {
		return fmt.Errorf("schema %s: %w", file, err)
	}
	defs, _ := root["$defs"].(map[string]any)
	// $schema: the document's jsonSchemaDialect says it; $id would make the
	// rewritten references resolve against the file's own URL.
	for _, k := range []string{"$defs", "$schema", "$id"} {
		delete(root, k)
	}
	for _, def := range slices.Sorted(maps.Keys(defs)) {
		if err := s.addMoved(def, "schemas/"+file+" $defs", defs[def], defs); err != nil {
			return err
		}
	}
	return s.addMoved(name, "schemas/"+file, root, defs)
}

// addMoved rewrites the references of schema, from a file with defs, and adds it.
func (s *componentSet) addMoved(name, origin string, schema any, defs map[string]any) error {
	if err := moveRefs(schema, defs); err != nil {
		return fmt.Errorf("%s: %s: %w", origin, name, err)
	}
	return s.add(name, origin, schema)
}

// add adds schema as the component name, unless the name is taken.
func (s *componentSet) add(name, origin string, schema any) error {
	if !componentName.MatchString(name) {
		return fmt.Errorf("%s: %q is no valid component name (letters, digits, '.', '-', '_')", origin, name)
	}
	if have, ok := s.schemas[name]; ok {
		if reflect.DeepEqual(have, schema) {
			return nil
		}
		return fmt.Errorf("component %q is defined differently by %s and by %s", name, s.origin[name], origin)
	}
	if other, ok := s.folded[strings.ToLower(name)]; ok {
		return fmt.Errorf("components %q (%s) and %q (%s) differ only in case, which code generators cannot tell apart",
			other, s.origin[other], name, origin)
	}
	s.schemas[name], s.origin[name], s.folded[strings.ToLower(name)] = schema, origin, name
	return nil
}

// moveRefs rewrites, in place, every "#/$defs/x..." reference under v to
// "#/components/schemas/x...", and refuses any reference or keyword that
// would not survive the move.
func moveRefs(v any, defs map[string]any) error {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			if err := moveRefs(e, defs); err != nil {
				return err
			}
		}
	case map[string]any:
		for k, e := range v {
			if err := moveKey(v, k, e, defs); err != nil {
				return err
			}
		}
	}
	return nil
}

func moveKey(m map[string]any, k string, e any, defs map[string]any) error {
	if k != "$ref" {
		if slices.Contains(unmovable, k) {
			return fmt.Errorf("keyword %s inside a schema cannot be moved into the OpenAPI document", k)
		}
		return moveRefs(e, defs)
	}
	ref, _ := e.(string)
	rest, ok := strings.CutPrefix(ref, "#/$defs/")
	def, _, _ := strings.Cut(rest, "/")
	if _, known := defs[def]; !ok || !known {
		return fmt.Errorf("$ref %q is not to one of the file's $defs, so it cannot be moved into the OpenAPI document", ref)
	}
	m[k] = "#/components/schemas/" + rest
	return nil
}
