package main

import (
	"bytes"
	"context"
	"testing"
)

// The printer on its own: JSON as written, YAML that keeps the JSON's key
// order and numbers and quotes what a YAML 1.1 reader takes for a boolean
// ("n", "on"), --jq per object with strings raw.
func TestOutputRenders(t *testing.T) {
	t.Parallel()
	const obj = `{"id":"sim-02","n":12345678901234567890,"f":1.50,"s":"007","b":true,"z":null,"l":[1,"on"],"m":{}}`
	tests := []struct {
		name, format, jq string
		stream           bool
		want             string
	}{
		{"json object", "json", "", false, "{\n  \"id\": \"sim-02\",\n  \"n\": 12345678901234567890,\n  \"f\": 1.50,\n  \"s\": \"007\",\n  \"b\": true,\n  \"z\": null,\n  \"l\": [\n    1,\n    \"on\"\n  ],\n  \"m\": {}\n}\n"},
		{"json stream", "json", "", true, obj + "\n"},
		{"yaml object", "yaml", "", false, "id: sim-02\n\"n\": 12345678901234567890\nf: 1.50\ns: \"007\"\nb: true\nz: null\nl:\n  - 1\n  - \"on\"\nm: {}\n"},
		{"yaml stream", "yaml", "", true, "---\nid: sim-02\n\"n\": 12345678901234567890\nf: 1.50\ns: \"007\"\nb: true\nz: null\nl:\n  - 1\n  - \"on\"\nm: {}\n"},
		{"jq string raw", "json", ".id", true, "sim-02\n"},
		{"jq several results", "json", ".l[]", true, "1\non\n"},
		{"jq object pretty", "json", "{id}", false, "{\n  \"id\": \"sim-02\"\n}\n"},
		{"jq big number kept", "json", ".n", false, "12345678901234567890\n"},
		{"jq into yaml", "yaml", "{id, s}", false, "id: sim-02\ns: \"007\"\n"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		o := &output{ctx: context.Background(), format: tt.format, stdout: &out, jqText: tt.jq}
		if tt.jq != "" {
			code, err := compileJQ(tt.jq)
			if err != nil {
				t.Fatal(err)
			}
			o.jq = code
		}
		if err := o.render([]byte(obj), tt.stream); err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if out.String() != tt.want {
			t.Errorf("%s:\n%s\nwant\n%s", tt.name, out.String(), tt.want)
		}
	}
}

// A --jq that fails on an object is exit 2 naming the expression.
func TestOutputJQRuntimeError(t *testing.T) {
	t.Parallel()
	code, err := compileJQ(".id | length > 1 | error")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	o := &output{ctx: context.Background(), format: "json", stdout: &out, jq: code, jqText: ".id | length > 1 | error"}
	err = o.render([]byte(`{"id":"x"}`), false)
	if exitCode(err) != exitUsage || err == nil || !bytes.Contains([]byte(err.Error()), []byte(`--jq ".id | length > 1 | error"`)) {
		t.Errorf("render: %v (exit %d)", err, exitCode(err))
	}
}
