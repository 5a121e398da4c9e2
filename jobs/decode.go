package jobs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"unicode/utf8"
)

// decodeObject decodes data, a JSON object, into members, as strictly as the
// schema (schemas/request.json) reads it: every key must be a member's name,
// spelt exactly (encoding/json would fold case), and every value must be of
// its member's JSON type, null included. Errors name the field at fault below
// prefix. It returns the object with its values raw, for the checks that need
// to know which keys were given.
func decodeObject(data []byte, prefix string, members []member) (map[string]json.RawMessage, error) {
	obj, err := rawObject(data, prefix)
	if err != nil {
		return nil, err
	}
	known := 0
	for _, m := range members {
		if raw, ok := obj[m.name]; ok {
			known++
			if err := m.decode(raw, FieldKey(prefix, m.name)); err != nil {
				return nil, err
			}
		}
	}
	if known < len(obj) {
		return nil, Invalid(firstUnknown(obj, prefix, members), "is not allowed")
	}
	return obj, nil
}

// A member is a key that an object may have, and the decoder of its value.
type member struct {
	name   string
	decode decoder
}

// A decoder decodes one JSON value (checked, without surrounding space) into
// its destination, or says why it cannot, naming field.
type decoder func(raw []byte, field string) error

// rawObject parses a JSON object, leaving its values raw.
func rawObject(data []byte, field string) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	err := json.Unmarshal(data, &obj) // checks the whole input: no trailing data
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr) || err == nil && obj == nil: // obj is nil for null
		return nil, mustBe(field, "an object")
	case err != nil:
		return nil, Invalid(field, "not valid JSON: "+err.Error())
	}
	return obj, nil
}

// firstUnknown names the key of obj that is no member's, the first in the
// order of field names, as the schema does when there are several.
func firstUnknown(obj map[string]json.RawMessage, prefix string, members []member) string {
	var fields []string
	for key := range obj {
		if !slices.ContainsFunc(members, func(m member) bool { return m.name == key }) {
			fields = append(fields, FieldKey(prefix, key))
		}
	}
	return slices.Min(fields)
}

func text[T ~string](dst *T) decoder {
	return func(raw []byte, field string) error {
		s, err := parseString(raw, field)
		*dst = T(s)
		return err
	}
}

func parseString(raw []byte, field string) (string, error) {
	if raw[0] != '"' {
		return "", mustBe(field, "a string")
	}
	if inner := raw[1 : len(raw)-1]; bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner), nil // nothing to unescape or replace: the usual string, fast
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", mustBe(field, "a string")
	}
	return s, nil
}

func boolean(dst *bool) decoder {
	return func(raw []byte, field string) error {
		if raw[0] != 't' && raw[0] != 'f' {
			return mustBe(field, "a boolean")
		}
		*dst = raw[0] == 't'
		return nil
	}
}

func integer(dst *int) decoder {
	return func(raw []byte, field string) error {
		n, err := parseInteger(raw, field)
		*dst = n
		return err
	}
}

// optionalInteger leaves *dst nil when the member is absent.
func optionalInteger(dst **int) decoder {
	return func(raw []byte, field string) error {
		n, err := parseInteger(raw, field)
		*dst = &n
		return err
	}
}

// rawJSONObject keeps an object raw, to be decoded later.
func rawJSONObject(dst *json.RawMessage) decoder {
	return func(raw []byte, field string) error {
		if raw[0] != '{' {
			return mustBe(field, "an object")
		}
		*dst = raw
		return nil
	}
}

// stringMap decodes an object of strings, with any keys.
func stringMap(dst *map[string]string) decoder {
	return func(raw []byte, field string) error {
		obj, err := rawObject(raw, field)
		if err != nil {
			return err
		}
		m := make(map[string]string, len(obj))
		for _, key := range slices.Sorted(maps.Keys(obj)) { // the same error every time
			if m[key], err = parseString(obj[key], FieldKey(field, key)); err != nil {
				return err
			}
		}
		*dst = m
		return nil
	}
}

// stringList decodes an array of strings.
func stringList(dst *[]string) decoder {
	return func(raw []byte, field string) error {
		var items []json.RawMessage
		if raw[0] != '[' || json.Unmarshal(raw, &items) != nil {
			return mustBe(field, "an array")
		}
		list := make([]string, len(items))
		for i, item := range items {
			var err error
			if list[i], err = parseString(item, fmt.Sprintf("%s[%d]", field, i)); err != nil {
				return err
			}
		}
		*dst = list
		return nil
	}
}

// mustBe says that field must be of a JSON type, named as the schema names it.
func mustBe(field, jsonType string) *Error {
	return Invalid(field, "must be "+jsonType)
}
