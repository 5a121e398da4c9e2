package schemas

import (
	"math/big"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// TestMessage covers the rules the embedded schemas do not use today, so that
// a schema that starts to use one gets a sentence, not a keyword.
func TestMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind jsonschema.ErrorKind
		want string
	}{
		{&kind.Type{Want: []string{"string", "null"}}, "must be a string or null"},
		{&kind.Type{Want: []string{"object", "array", "integer"}}, "must be an object, an array or an integer"},
		{&kind.Enum{Want: []any{"a", 1.5, true, nil}}, "must be one of a, 1.5, true, null"},
		{&kind.Const{Want: map[string]any{"a": 1}}, `must be {"a":1}`},
		{&kind.Pattern{Want: "^x$"}, "must match ^x$"},
		{&kind.Pattern{Want: notBlank}, "must not be blank"},
		{&kind.Format{Want: "date-time"}, "must be an RFC 3339 date-time"},
		{&kind.Format{Want: "uri-reference"}, "must be a URI reference"},
		{&kind.Format{Want: "uri"}, "must be an absolute URI"},
		{&kind.Format{Want: "ipv4"}, "must be a valid ipv4"},
		{&kind.FalseSchema{}, "is not allowed"},
		{&kind.Not{}, "is not allowed"},
		{&kind.OneOf{Subschemas: []int{0, 1}}, "matches more than one alternative"},
		{&kind.MinLength{Want: 1}, "must not be empty"},
		{&kind.MinLength{Want: 3}, "must have at least 3 characters"},
		{&kind.MaxLength{Want: 256}, "must be at most 256 characters"},
		{&kind.MinItems{Want: 2}, "must have at least 2 items"},
		{&kind.MaxItems{Want: 9}, "must have at most 9 items"},
		{&kind.MinProperties{Want: 1}, "must not be empty"},
		{&kind.MinProperties{Want: 2}, "must have at least 2 entries"},
		{&kind.MaxProperties{Want: 4}, "must have at most 4 entries"},
		{&kind.Minimum{Want: big.NewRat(1, 1)}, "must be at least 1"},
		{&kind.Maximum{Want: big.NewRat(1000, 1)}, "must be at most 1000"},
		{&kind.ExclusiveMinimum{Want: big.NewRat(1, 2)}, "must be more than 1/2"},
		{&kind.ExclusiveMaximum{Want: big.NewRat(10, 1)}, "must be less than 10"},
		{&kind.MultipleOf{Want: big.NewRat(5, 1)}, "must be a multiple of 5"},
		{&kind.UniqueItems{Duplicates: [2]int{0, 1}}, "is invalid (uniqueItems)"},
	}
	for _, tt := range tests {
		if got := message(tt.kind); got != tt.want {
			t.Errorf("message(%T) = %q, want %q", tt.kind, got, tt.want)
		}
	}
}

func TestExclusiveAnyOf(t *testing.T) {
	t.Parallel()
	at := []string{"params"}
	e := &jsonschema.ValidationError{
		InstanceLocation: at,
		ErrorKind:        &kind.AnyOf{},
		Causes: []*jsonschema.ValidationError{
			{InstanceLocation: at, ErrorKind: &kind.Required{Missing: []string{"servers"}}},
			{InstanceLocation: at, ErrorKind: &kind.Required{Missing: []string{"selector"}}},
		},
	}
	got, ok := exclusive(e)
	if !ok || got.message != "at least one of selector and servers is required" || fieldName(nil, got.path) != "params.selector" {
		t.Errorf("exclusive = %+v, %t", got, ok)
	}
	e.Causes[0].ErrorKind = &kind.Type{Want: []string{"string"}}
	if _, ok := exclusive(e); ok {
		t.Error("a branch that fails on a type is taken for a property rule")
	}
}

func TestFieldName(t *testing.T) {
	t.Parallel()
	doc := map[string]any{"a": []any{map[string]any{"b c": []any{"x"}}}}
	tests := []struct {
		path []string
		want string
	}{
		{nil, ""},
		{[]string{"a"}, "a"},
		{[]string{"a", "0"}, "a[0]"},
		{[]string{"a", "0", "b c", "0"}, `a[0]["b c"][0]`},
		{[]string{"a", "7", "missing"}, "a[7].missing"},
		{[]string{""}, `[""]`},
		{[]string{"x", "0"}, "x.0"},
	}
	for _, tt := range tests {
		if got := fieldName(doc, tt.path); got != tt.want {
			t.Errorf("fieldName(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestTameNumber(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"0", "0"},
		{"-0", "0"},
		{"0.000e-99", "0"},
		{"0e99999999999999999999999", "0"},
		{"1", "1e0"},
		{"1000", "1e3"},
		{"-1.50", "-15e-1"},
		{"0.001", "1e-3"},
		{"1E+2", "1e2"},
		{"9223372036854775807", "9223372036854775807e0"},
		{"1" + strings.Repeat("0", 400), "1e400"},
		{"1e1000000", "1e400"},
		{"-1e1000000", "-1e400"},
		{"1e99999999999999999999", "1e400"},
		{"1" + strings.Repeat("1", 40), "1e400"},
		{"1.5e1000000", "1e400"},
		{"1e-1000000", "0.5"},
		{"-1e-99999999999999999999", "0.5"},
		{"0." + strings.Repeat("1", 41), "0.5"},
		{strings.Repeat("1", 500) + ".5", "0.5"},
		{"1." + strings.Repeat("0", 1000), "1e0"},
		{strings.Repeat("0", 10) + "e5", "0"},
	}
	for _, tt := range tests {
		if got := tameNumber(tt.in); string(got) != tt.want {
			t.Errorf("tameNumber(%.30q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
