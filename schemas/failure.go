package schemas

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"github.com/tinmanhq/tinman/jobs"
)

// failure is one broken rule: where in the instance, and the rule in words.
type failure struct {
	path    []string // instance location, one token per object key or array index
	field   string   // path spelt as jobs.Error.Field; set by failureOf
	message string
}

// The messages that name a property of the object at fault.
const (
	isRequired   = "is required"
	isNotAllowed = "is not allowed"
)

// failureOf turns a validation error tree into one *jobs.Error: the deepest
// failure, ties broken by field name and then message, so that the answer is
// the most specific one and the same on every run (the library walks objects
// in map order).
func failureOf(verr *jsonschema.ValidationError, doc any) *jobs.Error {
	fs := collect(verr, nil)
	if len(fs) == 0 { // cannot happen: every tree has a leaf
		return jobs.Invalid("", "does not match the schema")
	}
	for i := range fs {
		fs[i].field = fieldName(doc, fs[i].path)
	}
	best := slices.MinFunc(fs, moreSpecific)
	return jobs.Invalid(best.field, best.message)
}

// moreSpecific orders failures deepest first, then by field and message.
func moreSpecific(a, b failure) int {
	return cmp.Or(cmp.Compare(len(b.path), len(a.path)), cmp.Compare(a.field, b.field), cmp.Compare(a.message, b.message))
}

// collect appends the leaves of the error tree to out. A leaf that names
// properties (required, additionalProperties) becomes one failure per
// property, on the property's own path.
func collect(e *jsonschema.ValidationError, out []failure) []failure {
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		return appendEach(out, e.InstanceLocation, k.Missing, isRequired)
	case *kind.AdditionalProperties:
		return appendEach(out, e.InstanceLocation, k.Properties, isNotAllowed)
	case *kind.PropertyNames:
		return append(out, failure{path: child(e.InstanceLocation, k.Property), message: nameMessage(e.Causes)})
	case *kind.OneOf, *kind.AnyOf:
		if f, ok := exclusive(e); ok {
			return append(out, f)
		}
	}
	if len(e.Causes) == 0 {
		return append(out, failure{path: e.InstanceLocation, message: message(e.ErrorKind)})
	}
	for _, c := range e.Causes {
		out = collect(c, out)
	}
	return out
}

// nameMessage says why a property name is refused, from the errors its name
// raised against propertyNames.
func nameMessage(causes []*jsonschema.ValidationError) string {
	leaves := collectAll(causes)
	if len(leaves) == 0 {
		return "is not an allowed name"
	}
	return "is not allowed: the name " + leaves[0].message
}

func appendEach(out []failure, at []string, names []string, msg string) []failure {
	for _, name := range names {
		out = append(out, failure{path: child(at, name), message: msg})
	}
	return out
}

func child(at []string, name string) []string {
	return append(slices.Clip(at), name)
}

// exclusive recognises a oneOf or anyOf whose branches only ask for one
// property each (and, for oneOf, forbid the others), as deploy's selector and
// servers do, and says so in one sentence on the first property's path.
func exclusive(e *jsonschema.ValidationError) (failure, bool) {
	var names []string
	both := false
	for _, leaf := range collectAll(e.Causes) {
		name, forbidden, ok := propertyRule(leaf, e.InstanceLocation)
		if !ok {
			return failure{}, false
		}
		names = append(names, name)
		both = both || forbidden
	}
	slices.Sort(names)
	names = slices.Compact(names)
	if len(names) < 2 {
		return failure{}, false
	}
	return failure{path: child(e.InstanceLocation, names[0]), message: exclusiveMessage(e.ErrorKind, names, both)}, true
}

// propertyRule reports whether leaf only requires or forbids a property of
// the object at, which one, and whether it forbids it.
func propertyRule(leaf failure, at []string) (name string, forbidden, ok bool) {
	if len(leaf.path) != len(at)+1 || !slices.Equal(leaf.path[:len(at)], at) {
		return "", false, false
	}
	name = leaf.path[len(at)]
	switch leaf.message {
	case isRequired:
		return name, false, true
	case isNotAllowed:
		return name, true, true
	}
	return "", false, false
}

func collectAll(es []*jsonschema.ValidationError) []failure {
	var out []failure
	for _, e := range es {
		out = collect(e, out)
	}
	return out
}

func exclusiveMessage(k jsonschema.ErrorKind, names []string, both bool) string {
	list := joinWords(names, "and")
	switch {
	case both:
		return "only one of " + list + " may be given"
	case isAnyOf(k):
		return "at least one of " + list + " is required"
	}
	return "exactly one of " + list + " is required"
}

func isAnyOf(k jsonschema.ErrorKind) bool {
	_, ok := k.(*kind.AnyOf)
	return ok
}

// message says in plain words which rule a leaf error broke.
func message(k jsonschema.ErrorKind) string {
	for _, say := range []func(jsonschema.ErrorKind) (string, bool){valueMessage, sizeMessage, rangeMessage} {
		if msg, ok := say(k); ok {
			return msg
		}
	}
	return "is invalid (" + strings.Join(k.KeywordPath(), "/") + ")"
}

func valueMessage(k jsonschema.ErrorKind) (string, bool) {
	switch k := k.(type) {
	case *kind.Type:
		return "must be " + typeNames(k.Want), true
	case *kind.Enum:
		return "must be one of " + joinValues(k.Want, ", "), true
	case *kind.Const:
		return "must be " + display(k.Want), true
	case *kind.Pattern:
		return patternMessage(k.Want), true
	case *kind.Format:
		return formatMessage(k.Want), true
	case *kind.FalseSchema, *kind.Not:
		return isNotAllowed, true
	case *kind.OneOf:
		return "matches more than one alternative", true
	}
	return "", false
}

func sizeMessage(k jsonschema.ErrorKind) (string, bool) {
	switch k := k.(type) {
	case *kind.MinLength:
		return atLeast(k.Want, "character"), true
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %d characters", k.Want), true
	case *kind.MinItems:
		return atLeast(k.Want, "item"), true
	case *kind.MaxItems:
		return fmt.Sprintf("must have at most %d items", k.Want), true
	case *kind.MinProperties:
		return atLeast(k.Want, "entry"), true
	case *kind.MaxProperties:
		return fmt.Sprintf("must have at most %d entries", k.Want), true
	}
	return "", false
}

func rangeMessage(k jsonschema.ErrorKind) (string, bool) {
	switch k := k.(type) {
	case *kind.Minimum:
		return "must be at least " + k.Want.RatString(), true
	case *kind.Maximum:
		return "must be at most " + k.Want.RatString(), true
	case *kind.ExclusiveMinimum:
		return "must be more than " + k.Want.RatString(), true
	case *kind.ExclusiveMaximum:
		return "must be less than " + k.Want.RatString(), true
	case *kind.MultipleOf:
		return "must be a multiple of " + k.Want.RatString(), true
	}
	return "", false
}

func atLeast(n int, unit string) string {
	if n == 1 {
		return "must not be empty"
	}
	return fmt.Sprintf("must have at least %d %s", n, plural(unit))
}

func plural(unit string) string {
	if unit == "entry" {
		return "entries"
	}
	return unit + "s"
}

// notBlank is the pattern of request.json's image: one character that is not
// white space as Go's unicode.IsSpace sees it, spelt so that Go's regexp and
// ECMA-262 read it alike.
const notBlank = "[^\\t\\n\\v\\f\\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"

func patternMessage(pattern string) string {
	if pattern == notBlank {
		return "must not be blank"
	}
	return "must match " + pattern
}

func formatMessage(format string) string {
	switch format {
	case "date-time":
		return "must be an RFC 3339 date-time"
	case "uri-reference":
		return "must be a URI reference"
	case "uri":
		return "must be an absolute URI"
	}
	return "must be a valid " + format
}

func typeNames(want []string) string {
	named := make([]string, len(want))
	for i, t := range want {
		named[i] = t
		if t != "null" {
			named[i] = article(t) + " " + t
		}
	}
	return joinWords(named, "or")
}

func article(word string) string {
	if strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

// joinWords joins "a", "b" and "c" as "a, b and c".
func joinWords(words []string, conj string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " " + conj + " " + words[len(words)-1]
}

func joinValues(values []any, sep string) string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = display(v)
	}
	return strings.Join(out, sep)
}

// display shows a schema value as an operator would type it: strings bare,
// anything else as JSON.
func display(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// fieldName spells an instance location as the field names of jobs.Error:
// "params.servers[0]", or "" for the root (jobs.FieldKey's spelling).
func fieldName(doc any, path []string) string {
	field := ""
	node := doc
	for _, tok := range path {
		if arr, ok := node.([]any); ok {
			field += "[" + tok + "]"
			node = index(arr, tok)
			continue
		}
		field = jobs.FieldKey(field, tok)
		obj, _ := node.(map[string]any)
		node = obj[tok]
	}
	return field
}

func index(arr []any, tok string) any {
	i, err := strconv.Atoi(tok)
	if err != nil || i < 0 || i >= len(arr) {
		return nil
	}
	return arr[i]
}
