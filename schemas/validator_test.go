package schemas_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/schemas"
)

func TestFiles(t *testing.T) {
	t.Parallel()
	files := schemas.Files()
	for _, name := range []string{schemas.RequestFile, schemas.EventFile} {
		var doc struct {
			Schema string `json:"$schema"`
			ID     string `json:"$id"`
		}
		if err := json.Unmarshal(files[name], &doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if doc.Schema != "https://json-schema.org/draft/2020-12/schema" || !strings.HasSuffix(doc.ID, "/"+name) {
			t.Errorf("%s: $schema %q, $id %q", name, doc.Schema, doc.ID)
		}
	}
	if len(files) != 2 {
		t.Errorf("Files() has %d documents, want 2", len(files))
	}
}

func TestFilesAreTheCallersOwn(t *testing.T) {
	t.Parallel()
	a := schemas.Files()
	a[schemas.RequestFile][0] = 'X'
	delete(a, schemas.EventFile)
	b := schemas.Files()
	if b[schemas.RequestFile][0] != '{' || b[schemas.EventFile] == nil {
		t.Error("changing what Files returned changed the next answer")
	}
}

func TestSizeLimits(t *testing.T) {
	t.Parallel()
	v := setup(t)
	inspect := []byte(`{"type":"inspect","server":"srv-042"}`)
	event := mustRead(t, "testdata/events/valid/job-queued.json")
	tests := []struct {
		name     string
		validate func([]byte) error
		data     []byte
		want     string
	}{
		{"request at the limit", v.Request, pad(inspect, jobs.MaxRequestSize), ""},
		{"request over the limit", v.Request, pad(inspect, jobs.MaxRequestSize+1), "request is 65537 bytes, more than the 65536 allowed"},
		{"event at the limit", v.Event, pad(event, schemas.MaxEventSize), ""},
		{"event over the limit", v.Event, pad(event, schemas.MaxEventSize+1), "event is 1048577 bytes, more than the 1048576 allowed"},
		{"huge garbage is refused unread", v.Request, bytes.Repeat([]byte("{"), jobs.MaxRequestSize+1), "request is 65537 bytes, more than the 65536 allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.validate(tt.data)
			checkInvalidRequest(t, err)
			if got := errString(err); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// pad appends white space to data until it is size bytes long.
func pad(data []byte, size int) []byte {
	return append(bytes.Clone(data), bytes.Repeat([]byte(" "), size-len(data))...)
}

func TestMessages(t *testing.T) {
	t.Parallel()
	v := setup(t)
	tests := []struct {
		name, in, want string
	}{
		{"root not an object", `"power"`, "must be an object"},
		{"null root", `null`, "must be an object"},
		{"deepest error wins", `{"id":"bad id","type":"power","server":"BAD","params":{"action":"x"}}`, "params.action: must be one of on, off, soft, cycle, reset, status"},
		{"ties go to the first field name", `{"type":"power"}`, "params: is required"},
		{"several unknown fields", `{"type":"inspect","server":"s","zz":1,"aa":2,"mm":3}`, "aa: is not allowed"},
		{"array index", `{"type":"deploy","params":{"image":"i","servers":["ok","fine",7]}}`, "params.servers[2]: must be a string"},
		{"empty server list", `{"type":"deploy","params":{"image":"i","servers":[]}}`, "params.servers: must not be empty"},
		{"quoted key", `{"type":"deploy","params":{"image":"i","selector":{"a.b":false}}}`, `params.selector["a.b"]: must be a string`},
		{"numeric key is not an index", `{"type":"deploy","params":{"image":"i","selector":{"0":1}}}`, `params.selector.0: must be a string`},
		{"image of white space", `{"type":"provision","server":"s","params":{"image":"\u2003\n"}}`, "params.image: must not be blank"},
		{"empty image", `{"type":"provision","server":"s","params":{"image":""}}`, "params.image: must not be blank"},
		{"integer too big", `{"type":"deploy","params":{"image":"i","servers":["s"],"max_failures":9223372036854775808}}`, "params.max_failures: must be at most 9223372036854775807"},
		{"both selector and servers, servers wrong too", `{"type":"deploy","params":{"image":"i","selector":{"a":"b"},"servers":"s"}}`, "params.selector: only one of selector and servers may be given"},
		{"server wrong type on deploy", `{"type":"deploy","server":1,"params":{"image":"i","servers":["s"]}}`, "server: is not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := v.Request([]byte(tt.in))
			checkInvalidRequest(t, err)
			if got := errString(err); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestDeterministic checks that an input with many failures at the same depth
// gets the same answer every time, though the library walks maps in random order.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	v := setup(t)
	in := []byte(`{"type":"deploy","server":"x","params":{"image":"","selector":{},"servers":[],"batch_size":0,"max_failures":-1,"q":1,"b":2}}`)
	want := errString(v.Request(in))
	for range 200 {
		if got := errString(v.Request(in)); got != want {
			t.Fatalf("got %q, then %q", want, got)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	v := setup(t)
	cases := goldens(t, "requests")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for _, g := range cases {
				if got := errString(v.Request(g.data)); got != g.want {
					t.Errorf("%s: got %q, want %q", g.name, got, g.want)
				}
			}
		})
	}
	wg.Wait()
}

func ExampleValidator_Request() {
	v, err := schemas.New()
	if err != nil {
		panic(err)
	}
	err = v.Request([]byte(`{"type": "power", "server": "srv-042", "params": {"action": "bounce"}}`))
	fmt.Println(err)
	err = v.Request([]byte(`{"type": "power", "server": "srv-042", "params": {"action": "cycle", "colour": "red"}}`))
	fmt.Println(err)
	err = v.Request([]byte(`{"type": "power", "server": "srv-042", "params": {"action": "cycle"}}`))
	fmt.Println(err)
	// Output:
	// params.action: must be one of on, off, soft, cycle, reset, status
	// params.colour: is not allowed
	// <nil>
}

// TestNumbersStayCheap feeds numbers that cost math/big seconds to read and
// checks that they are judged as their value asks, and cheaply: within 100
// times what reading the same bytes as JSON tokens costs in the same run
// (a ratio, which a busy machine slows both sides of; math/big on these
// inputs costs thousands of times more).
func TestNumbersStayCheap(t *testing.T) {
	t.Parallel()
	v := setup(t)
	event := string(mustRead(t, "testdata/events/valid/job-started.json"))
	hugeSeq := strings.Replace(event, `"seq": 2`, `"seq": `+strings.Repeat("9", 1<<19), 1)
	deploy := func(param string) []byte {
		return []byte(`{"type":"deploy","params":{"image":"i","servers":["s"],` + param + `}}`)
	}
	tests := []struct {
		name     string
		validate func([]byte) error
		in       []byte
		want     string
	}{
		{"half a megabyte of digits", v.Event, []byte(hugeSeq), ""},
		{"huge exponent", v.Request, deploy(`"batch_size":1e1000000`), "params.batch_size: must be at most 9223372036854775807"},
		{"huge negative", v.Request, deploy(`"max_failures":-1e999999`), "params.max_failures: must be at least 0"},
		{"tiny", v.Request, deploy(`"batch_size":1e-1000000`), "params.batch_size: must be an integer"},
		{"long fraction", v.Request, deploy(`"batch_size":1.` + strings.Repeat("0", 60000) + `1`), "params.batch_size: must be an integer"},
		{"long but whole", v.Request, deploy(`"batch_size":1000.` + strings.Repeat("0", 60000)), ""},
		{"just too big", v.Request, deploy(`"max_failures":9223372036854775808.0`), "params.max_failures: must be at most 9223372036854775807"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			err := tt.validate(tt.in)
			took := time.Since(start)
			if got := errString(err); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			start = time.Now()
			dec := json.NewDecoder(bytes.NewReader(tt.in))
			dec.UseNumber()
			for _, err := dec.Token(); err == nil; _, err = dec.Token() {
			}
			baseline := time.Since(start)
			if took > 100*baseline+50*time.Millisecond {
				t.Errorf("took %v, reading its tokens %v: more than 100 times", took, baseline)
			}
		})
	}
}
