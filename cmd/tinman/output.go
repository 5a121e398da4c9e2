package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/itchyny/gojq"
	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

// The one way every command prints data: -o table|json|yaml and --jq.
// A single object prints as a table (details), pretty JSON or a YAML
// document; a stream (events) as lines, one compact JSON object per line,
// or YAML documents. When stdout is data, what is said to the person (ids,
// progress) goes to stderr, so that stdout stays parseable.

// outputFormats are the values of -o.
var outputFormats = []string{"table", "json", "yaml"}

// outputFlags adds -o, --jq and the older --json (hidden: it is -o json)
// to a command that prints data.
func outputFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringP("output", "o", "table", "output format: table, json or yaml (a stream: one JSON object per line, or YAML documents)")
	f.String("jq", "", "print what this jq expression makes of the JSON, of each object when streaming (implies -o json unless -o yaml)")
	f.Bool("json", false, "the same as -o json")
	_ = f.MarkHidden("json")
	_ = cmd.RegisterFlagCompletionFunc("output", fixedValues(outputFormats))
	_ = cmd.RegisterFlagCompletionFunc("jq", noCompletion)
}

// output prints a command's data as its flags say.
type output struct {
	ctx    context.Context
	format string // table, json or yaml
	jq     *gojq.Code
	jqText string
	stdout io.Writer
	stderr io.Writer
	color  bool
}

// newOutput reads -o and --jq; a format that is none of outputFormats, or
// an expression that does not compile, is a usage error naming it. A
// command without the flags prints tables.
func newOutput(cmd *cobra.Command) (*output, error) {
	o := &output{ctx: cmd.Context(), format: "table", stdout: cmd.OutOrStdout(), stderr: cmd.ErrOrStderr()}
	if cmd.Flags().Lookup("output") != nil {
		o.format, o.jqText = mustString(cmd, "output"), mustString(cmd, "jq")
		if err := checkValue("output format (-o)", o.format, outputFormats); err != nil {
			return nil, err
		}
		if asJSON, _ := cmd.Flags().GetBool("json"); asJSON && o.format == "table" {
			o.format = "json"
		}
	}
	if o.jqText != "" {
		code, err := compileJQ(o.jqText)
		if err != nil {
			return nil, err
		}
		o.jq = code
		if o.format == "table" {
			o.format = "json"
		}
	}
	o.color = o.format == "table" && useColor(cmd, o.stdout)
	return o, nil
}

// compileJQ compiles a --jq expression.
func compileJQ(expr string) (*gojq.Code, error) {
	q, err := gojq.Parse(expr)
	if err != nil {
		return nil, usageErr("--jq %q: %v", expr, err)
	}
	code, err := gojq.Compile(q)
	if err != nil {
		return nil, usageErr("--jq %q: %v", expr, err)
	}
	return code, nil
}

// data reports whether stdout is data (json or yaml), not for a person.
func (o *output) data() bool { return o.format != "table" }

// note says something to the person: on stdout under a table, on stderr
// when stdout is data.
func (o *output) note(format string, args ...any) {
	w := o.stdout
	if o.data() {
		w = o.stderr
	}
	fmt.Fprintf(w, format+"\n", args...)
}

// notesOut is where a command says things to the person: stdout under a
// table, stderr when stdout is data.
func notesOut(cmd *cobra.Command) io.Writer {
	if o, err := newOutput(cmd); err == nil && o.data() {
		return cmd.ErrOrStderr()
	}
	return cmd.OutOrStdout()
}

// object prints one object: table writes it for a person; raw is its JSON.
func (o *output) object(raw []byte, table func(io.Writer) error) error {
	if !o.data() {
		return table(o.stdout)
	}
	return o.render(raw, false)
}

// item prints one object of a stream: line writes it for a person; raw is
// its JSON.
func (o *output) item(raw []byte, line func(io.Writer) error) error {
	if !o.data() {
		return line(o.stdout)
	}
	return o.render(raw, true)
}

// render prints raw, or what --jq makes of it, as -o says.
func (o *output) render(raw []byte, stream bool) error {
	if o.jq == nil {
		return o.write(bytes.TrimSpace(raw), stream)
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("--jq: the input is not JSON: %w", err)
	}
	iter := o.jq.RunWithContext(o.ctx, v)
	for {
		r, ok := iter.Next()
		if !ok {
			return nil
		}
		if err, isErr := r.(error); isErr {
			return usageErr("--jq %q: %v", o.jqText, err)
		}
		if err := o.writeResult(r, stream); err != nil {
			return err
		}
	}
}

// writeResult prints one result of --jq: a string as it is under -o json
// (as jq -r, and as gh --jq do), anything else as JSON or YAML.
func (o *output) writeResult(r any, stream bool) error {
	if s, ok := r.(string); ok && o.format == "json" {
		_, err := fmt.Fprintln(o.stdout, s)
		return err
	}
	b, err := gojq.Marshal(r)
	if err != nil {
		return fmt.Errorf("--jq %q: encode a result: %w", o.jqText, err)
	}
	return o.write(b, stream)
}

// write prints one JSON value: pretty or compact JSON, or YAML.
func (o *output) write(raw []byte, stream bool) error {
	var b bytes.Buffer
	var err error
	switch {
	case o.format == "yaml":
		if stream {
			b.WriteString("---\n")
		}
		err = yamlOf(&b, raw)
	case stream:
		err = json.Compact(&b, raw)
		b.WriteByte('\n')
	default:
		err = json.Indent(&b, raw, "", "  ")
		b.WriteByte('\n')
	}
	if err != nil {
		return fmt.Errorf("print -o %s: %w", o.format, err)
	}
	_, err = o.stdout.Write(b.Bytes())
	return err
}

// yamlOf writes the JSON value raw as block YAML, in the JSON's order of
// keys and with its numbers as written (JSON is YAML: it is read as a
// document, then written again in block style).
func yamlOf(w io.Writer, raw []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("read JSON as YAML: %w", err)
	}
	blockStyle(&doc)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return fmt.Errorf("write YAML: %w", err)
	}
	return enc.Close()
}

// blockStyle clears the flow and quoting styles the JSON had, so that the
// encoder writes block YAML and quotes only what needs it, and the words
// YAML 1.1 readers take for booleans (power_state: "on").
func blockStyle(n *yaml.Node) {
	n.Style = 0
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" && oldBool[strings.ToLower(n.Value)] {
		n.Style = yaml.DoubleQuotedStyle
	}
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// oldBool are the words YAML 1.1 reads as booleans and YAML 1.2 as strings.
var oldBool = map[string]bool{"y": true, "yes": true, "n": true, "no": true, "on": true, "off": true}
