package jobs_test

import (
	"testing"

	"github.com/tinmanhq/tinman/jobs"
)

// TestCheckJSON: keys given twice and strings that encoding/json would
// change without a word (bytes that are not UTF-8, lone surrogates) are
// refused naming their field; U+FFFD written as such, and input that is
// not JSON, pass.
func TestCheckJSON(t *testing.T) {
	t.Parallel()
	const passes = "-"
	tests := []struct{ name, data, field string }{
		{"plain", `{"a":"b","c":["d"]}`, passes},
		{"replacement character written", "{\"a\":\"\uFFFD\"}", passes},
		{"replacement character escaped", `{"a":"\ufffd","b":"\uFFFD"}`, passes},
		{"surrogate pair", `{"a":"\ud83d\ude00"}`, passes},
		{"escaped backslash then u", `{"a":"\\ud800"}`, passes},
		{"not JSON", "{\"a\":\xff", passes},
		{"key twice", `{"a":1,"a":2}`, "a"},
		{"value not UTF-8", "{\"p\":{\"image\":\"x\xffy\"}}", "p.image"},
		{"overlong encoding", "{\"a\":[\"ok\",\"\xc0\xaf\"]}", "a[1]"},
		{"lone high surrogate", `{"by":"\ud800"}`, "by"},
		{"lone low surrogate", `{"by":"x\uDC00"}`, "by"},
		{"surrogate beside a written U+FFFD", `{"by":"\ufffd\ud800"}`, "by"},
		{"key not UTF-8", "{\"a\xff\":1}", "[\"a\uFFFD\"]"},
		{"top-level string", "\"\xff\"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := jobs.CheckJSON([]byte(tt.data))
			switch e := jobs.AsError(err); {
			case tt.field == passes && err != nil:
				t.Errorf("CheckJSON(%q) = %v, want nil", tt.data, err)
			case tt.field != passes && (e == nil || e.Field != tt.field):
				t.Errorf("CheckJSON(%q) = %v, want a refusal naming %q", tt.data, err, tt.field)
			}
		})
	}
}
