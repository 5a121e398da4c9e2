// Package confcheck checks the Config a package's New is given, and names
// the field at fault: every New refuses nonsense (a nil client, a negative
// concurrency, a lease that lives no time) instead of quietly running with
// it or with a default the caller did not ask for.
package confcheck

import (
	"errors"
	"fmt"
	"reflect"
	"time"
)

// FieldError is one field of a Config that cannot be used.
type FieldError struct {
	// Config names the struct: "workers.Config".
	Config string
	// Field is the field's Go name: "LeaseTTL", or "MinCommandInterval[ipmi]".
	Field string
	// Value is the value as given, printed.
	Value string
	// Rule says what the field must be: "must be more than 0".
	Rule string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s.%s %s: %s", e.Config, e.Field, e.Value, e.Rule)
}

// Checker collects the faults of one Config.
type Checker struct {
	config string
	errs   []error
}

// For starts the check of the Config named config.
func For(config string) *Checker { return &Checker{config: config} }

func (c *Checker) fault(field string, value any, rule string) {
	c.errs = append(c.errs, &FieldError{Config: c.config, Field: field, Value: fmt.Sprint(value), Rule: rule})
}

// Positive requires v > 0.
func Positive[T int | int64 | time.Duration](c *Checker, field string, v T) {
	if v <= 0 {
		c.fault(field, v, "must be more than 0")
	}
}

// NotNegative requires v >= 0.
func NotNegative[T int | int64 | time.Duration](c *Checker, field string, v T) {
	if v < 0 {
		c.fault(field, v, "must be 0 or more")
	}
}

// Present requires v to be set: not nil (an interface holding a nil
// pointer counts as nil), not empty.
func (c *Checker) Present(field string, v any) {
	if isNil(v) {
		c.fault(field, "<nil>", "must be set")
	}
}

// Require records a fault of field unless ok.
func (c *Checker) Require(ok bool, field string, value any, rule string) {
	if !ok {
		c.fault(field, value, rule)
	}
}

// Err returns every fault found, joined, or nil.
func (c *Checker) Err() error { return errors.Join(c.errs...) }

func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch r := reflect.ValueOf(v); r.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan:
		return r.IsNil()
	case reflect.String:
		return r.Len() == 0
	}
	return false
}

// Fields returns every FieldError in err (joined or wrapped).
func Fields(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *FieldError:
			out = append(out, e)
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return out
}
