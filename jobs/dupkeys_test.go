package jobs_test

import (
	"encoding/json"
	"testing"

	"github.com/tinmanhq/tinman/jobs"
)

// FuzzCheckDuplicateKeys: any input, never a panic, and a refusal names a
// field; any valid JSON value given twice under one key is refused naming
// that key, however deep or odd the value.
func FuzzCheckDuplicateKeys(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":1,"a":2}`, `{"p":{"x":[{"k":1,"k":2}]}}`, `[[[`, `{"a":`, `"x"`, `{}`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := jobs.CheckDuplicateKeys(data); err != nil && jobs.AsError(err).Field == "" {
			t.Fatalf("refusal %v names no field", err)
		}
		if !json.Valid(data) {
			return
		}
		if err := jobs.CheckDuplicateKeys(data); err != nil {
			return // a duplicate inside the value is found first
		}
		twice := append(append(append(append([]byte(`{"k":`), data...), `,"k":`...), data...), '}')
		if err := jobs.CheckDuplicateKeys(twice); err == nil || jobs.AsError(err).Field != "k" {
			t.Fatalf("%s: got %v, want a refusal naming k", twice, err)
		}
	})
}
