package main

import "testing"

func TestClosest(t *testing.T) {
	t.Parallel()
	states := []string{"queued", "running", "retrying", "succeeded", "failed", "canceled"}
	tests := []struct{ value, want string }{
		{"faild", "failed"},
		{"succeded", "succeeded"},
		{"xyzzy", ""},
		{"run", "running"}, // a prefix
		{"cancelled", "canceled"},
		{"bogus", ""},
		{"", ""},
		{"q", "queued"},
		{"cancleed", "canceled"}, // a swap and a deletion
	}
	for _, tt := range tests {
		if got := closest(tt.value, states); got != tt.want {
			t.Errorf("closest(%q) = %q, want %q", tt.value, got, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"", "abc", 3}, {"kitten", "sitting", 3}, {"json", "jsno", 1}, {"yaml", "yml", 1}, {"cycel", "cycle", 1}, {"ab", "ba", 1}, {"abc", "ca", 3},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
