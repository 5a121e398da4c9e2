package api

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/tinmanhq/tinman/jobs"
)

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// exactKeys refuses an object key that is not spelt exactly as a field of
// t, at any depth: encoding/json matches keys whatever their case, so
// {"ID": "x"} would fill id, and {"id": "a", "ID": "b"} would be read as b.
// Values held raw (json.RawMessage) are left to their own decoding, and
// input that is not what t wants to the decoder, which says what is wrong.
func exactKeys(data []byte, t reflect.Type, prefix string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == rawMessageType:
		return nil
	case t.Kind() == reflect.Struct:
		return exactMembers(data, prefix, jsonFields(t))
	case t.Kind() == reflect.Map:
		return exactMembers(data, prefix, func(string) (reflect.Type, bool) { return t.Elem(), true })
	case t.Kind() == reflect.Slice:
		var items []json.RawMessage
		if json.Unmarshal(data, &items) != nil {
			return nil
		}
		for _, item := range items {
			if err := exactKeys(item, t.Elem(), prefix); err != nil {
				return err
			}
		}
	}
	return nil
}

// exactMembers checks the members of the object data: member tells the
// type of a key's value, or that there is no such key.
func exactMembers(data []byte, prefix string, member func(key string) (reflect.Type, bool)) error {
	var obj map[string]json.RawMessage
	if json.Unmarshal(data, &obj) != nil {
		return nil
	}
	for _, key := range slices.Sorted(maps.Keys(obj)) { // the same error every time
		t, ok := member(key)
		if !ok {
			return jobs.Invalid(jobs.FieldKey(prefix, key), "is not allowed (keys are spelt exactly, in lower case)")
		}
		if err := exactKeys(obj[key], t, jobs.FieldKey(prefix, key)); err != nil {
			return err
		}
	}
	return nil
}

// jsonFields returns the JSON names of a struct's exported fields, with
// their types; an embedded struct's fields count as the struct's own, as
// encoding/json promotes them.
func jsonFields(t reflect.Type) func(string) (reflect.Type, bool) {
	fields := map[string]reflect.Type{}
	for _, f := range reflect.VisibleFields(t) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case !f.IsExported() || name == "-":
			continue
		case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
			continue // its fields are among the visible ones
		case name == "":
			name = f.Name
		}
		fields[name] = f.Type
	}
	return func(key string) (reflect.Type, bool) {
		ft, ok := fields[key]
		return ft, ok
	}
}
