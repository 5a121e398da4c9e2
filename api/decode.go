package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"unicode"

	"github.com/tinmanhq/tinman/jobs"
)

// errForbidden is a change the caller's role may not make.
var errForbidden = errors.New("changing labels, bmc or credentials needs the admin role")

// decodeJSON reads the request body into v, strictly: unknown keys,
// trailing data and values of the wrong type are invalid_request errors
// that name the field.
func decodeJSON(r *http.Request, v any) error {
	body, err := readJSON(r)
	if err != nil {
		return err
	}
	return decodeStrict(body, v, "")
}

// readJSON reads the body of a request that must be JSON.
func readJSON(r *http.Request) ([]byte, error) {
	if err := requireJSON(r); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return body, nil
}

// decodeStrict decodes data into v; prefix names the object in errors.
// Keys given twice, keys in other cases than v's fields and strings that
// are not text are refused before encoding/json, which would take them.
func decodeStrict(data []byte, v any, prefix string) error {
	if err := jobs.CheckJSON(data); err != nil {
		e := jobs.AsError(err)
		return jobs.Invalid(jobs.FieldUnder(prefix, e.Field), e.Message)
	}
	if err := exactKeys(data, reflect.TypeOf(v), prefix); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, prefix)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return jobs.Invalid(prefix, "must be one JSON value, with nothing after it")
	}
	return nil
}

// decodeError translates an encoding/json error into a field error.
func decodeError(err error, prefix string) error {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return jobs.Invalid(prefix, "is empty: a JSON object is required")
	case errors.As(err, new(*http.MaxBytesError)):
		return err
	case errors.As(err, &syntax):
		return jobs.Invalid(prefix, fmt.Sprintf("not valid JSON: %v (at byte %d)", syntax, syntax.Offset))
	case errors.As(err, &typeErr):
		field := prefix
		for part := range strings.SplitSeq(typeErr.Field, ".") {
			// encoding/json names an embedded struct by its Go type
			// ("ServerPatch.bmc.address"); every key of the API is lower case.
			if part != "" && !unicode.IsUpper(rune(part[0])) {
				field = jobs.FieldKey(field, part)
			}
		}
		return jobs.Invalid(field, "must be "+jsonType(typeErr.Type))
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return jobs.Invalid(jobs.FieldKey(prefix, strings.Trim(name, `"`)), "is not allowed")
	}
	return jobs.Invalid(prefix, "not valid JSON: "+err.Error())
}

// jsonType names the JSON type of a Go type, as the schemas do.
func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

// Label rules: a selector is written KEY=VALUE,KEY=VALUE, so neither may
// hold "=" or ",".
var (
	labelKeyPattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$`)
	labelValuePattern = regexp.MustCompile(`^[A-Za-z0-9._:/@+-]{0,63}$`)
)

// maxLabels bounds the labels of one server.
const maxLabels = 64

func checkLabels(labels map[string]string) error {
	if len(labels) > maxLabels {
		return jobs.Invalid("labels", fmt.Sprintf("at most %d labels", maxLabels))
	}
	for k, v := range labels {
		if err := checkLabel(k, &v); err != nil {
			return err
		}
	}
	return nil
}

// checkLabel checks one label; a nil value (a removal) checks only the key.
func checkLabel(k string, v *string) error {
	if !labelKeyPattern.MatchString(k) {
		return jobs.Invalid("labels", fmt.Sprintf("key %q must match %s", k, labelKeyPattern))
	}
	if v != nil && !labelValuePattern.MatchString(*v) {
		return jobs.Invalid("labels."+k, "must match "+labelValuePattern.String())
	}
	return nil
}

// checkBMC checks what Server.Validate leaves to the API.
func checkBMC(b jobs.BMC) error {
	if b.CipherSuite < 0 || b.CipherSuite > 17 {
		return jobs.Invalid("bmc.cipher_suite", "must be from 0 (the default) to 17")
	}
	return nil
}

func checkCredentials(c jobs.Credentials) error {
	return checkCredentialParts(&c.Username, &c.Password)
}

// checkCredentialParts checks the username and password given (nil: not given).
func checkCredentialParts(user, pass *string) error {
	switch {
	case user != nil && (*user == "" || len(*user) > 256):
		return jobs.Invalid("username", "is required, at most 256 bytes")
	case pass != nil && (*pass == "" || len(*pass) > 1024):
		return jobs.Invalid("password", "is required, at most 1024 bytes")
	}
	return nil
}
