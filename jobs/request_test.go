package jobs_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/jobs"
)

const (
	actions  = "on, off, soft, cycle, reset, status"
	allTypes = "power, boot-device, inspect, provision, deprovision, bmc-reset, deploy"
	serverRE = "^[a-z0-9][a-z0-9-]{0,62}$"
	jobIDRE  = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
)

// decodeCase is one input to DecodeRequest. An accepted input has want ""; a
// rejected one names its Field, and either the exact err.Error() (want) or,
// for messages that quote encoding/json, a part of it (contains).
type decodeCase struct {
	name     string
	in       string
	field    string
	want     string
	contains string
}

func TestDecodeRequestAccepts(t *testing.T) {
	t.Parallel()
	tests := []decodeCase{
		{name: "power", in: `{"type":"power","server":"srv-042","params":{"action":"cycle"}}`},
		{name: "every field", in: `{"id":"01JDX3Z5K8W9Q2R4T6V8Y0A1B2","type":"power","server":"srv-042","params":{"action":"status"},"priority":"critical","requested_by":"ops@example.com"}`},
		{name: "longest id", in: `{"id":"` + strings.Repeat("a", 128) + `","type":"inspect","server":"s"}`},
		{name: "id punctuation", in: `{"id":"a._:-b","type":"inspect","server":"s"}`},
		{name: "longest server", in: `{"type":"inspect","server":"` + strings.Repeat("s", 63) + `"}`},
		{name: "boot-device flags", in: `{"type":"boot-device","server":"s","params":{"device":"bios","persistent":true,"efi":true}}`},
		{name: "inspect without params", in: `{"type":"inspect","server":"s"}`},
		{name: "inspect with empty params", in: `{"type":"inspect","server":"s","params":{}}`},
		{name: "provision", in: `{"type":"provision","server":"s","params":{"image":"ubuntu-24.04"}}`},
		{name: "longest image", in: `{"type":"provision","server":"s","params":{"image":"` + strings.Repeat("i", 256) + `"}}`},
		{name: "bmc-reset", in: `{"type":"bmc-reset","server":"s","params":{"kind":"cold"}}`},
		{name: "deploy by selector", in: `{"type":"deploy","params":{"image":"i","selector":{"rack":"a1"}}}`},
		{name: "deploy by servers", in: `{"type":"deploy","params":{"image":"i","servers":["a","b"],"batch_size":1000,"max_failures":0}}`},
		{name: "smallest batch", in: `{"type":"deploy","params":{"image":"i","servers":["a"],"batch_size":1}}`},
		{name: "longest requested_by", in: `{"type":"inspect","server":"s","requested_by":"` + strings.Repeat("r", 256) + `"}`},
		{name: "white space around", in: " \n\t{\"type\":\"inspect\",\"server\":\"s\"}\n "},
		{name: "longest requested_by in characters", in: `{"type":"inspect","server":"s","requested_by":"` + strings.Repeat("é", 256) + `"}`},
		{name: "longest image in characters", in: `{"type":"provision","server":"s","params":{"image":"` + strings.Repeat("映", 256) + `"}}`},
		{name: "empty requested_by", in: `{"type":"inspect","server":"s","requested_by":""}`},
		{name: "empty selector value", in: `{"type":"deploy","params":{"image":"i","selector":{"rack":""}}}`},
		{name: "any selector key", in: `{"type":"deploy","params":{"image":"i","selector":{"":"a","Rack A":"b"}}}`},
		{name: "batch_size with a fraction of zero", in: `{"type":"deploy","params":{"image":"i","servers":["a"],"batch_size":1.0}}`},
		{name: "batch_size with an exponent", in: `{"type":"deploy","params":{"image":"i","servers":["a"],"batch_size":1e2}}`},
		{name: "largest max_failures", in: `{"type":"deploy","params":{"image":"i","servers":["a"],"max_failures":9223372036854775807}}`},
	}
	runDecode(t, tests)
}

func TestDecodeRequestRejects(t *testing.T) {
	t.Parallel()
	tests := []decodeCase{
		{name: "bad id", in: `{"id":"my job","type":"inspect","server":"s"}`, field: "id", want: "id: must match " + jobIDRE},
		{name: "id too long", in: `{"id":"` + strings.Repeat("a", 129) + `","type":"inspect","server":"s"}`, field: "id", want: "id: must match " + jobIDRE},
		{name: "id starts with a dot", in: `{"id":".a","type":"inspect","server":"s"}`, field: "id", want: "id: must match " + jobIDRE},
		{name: "missing type", in: `{"server":"s"}`, field: "type", want: "type: must be one of " + allTypes},
		{name: "unknown type", in: `{"type":"reboot","server":"s"}`, field: "type", want: "type: must be one of " + allTypes},
		{name: "type in capitals", in: `{"type":"POWER","server":"s"}`, field: "type", want: "type: must be one of " + allTypes},
		{name: "missing server", in: `{"type":"power","params":{"action":"on"}}`, field: "server", want: "server: is required for a power job"},
		{name: "bad server", in: `{"type":"inspect","server":"Srv_1"}`, field: "server", want: "server: must match " + serverRE},
		{name: "server too long", in: `{"type":"inspect","server":"` + strings.Repeat("s", 64) + `"}`, field: "server", want: "server: must match " + serverRE},
		{name: "server on deploy", in: `{"type":"deploy","server":"s","params":{"image":"i","servers":["s"]}}`, field: "server", want: "server: is not allowed on a deploy job: use params.servers or params.selector"},
		{name: "bad priority", in: `{"type":"inspect","server":"s","priority":"urgent"}`, field: "priority", want: "priority: must be one of critical, default, low"},
		{name: "requested_by too long", in: `{"type":"inspect","server":"s","requested_by":"` + strings.Repeat("r", 257) + `"}`, field: "requested_by", want: "requested_by: must be at most 256 characters"},
		{name: "missing action", in: `{"type":"power","server":"s","params":{}}`, field: "params.action", want: "params.action: is required: one of " + actions},
		{name: "absent params", in: `{"type":"power","server":"s"}`, field: "params", want: "params: is required"},
		{name: "bad action", in: `{"type":"power","server":"s","params":{"action":"bounce"}}`, field: "params.action", want: "params.action: must be one of " + actions},
		{name: "missing device", in: `{"type":"boot-device","server":"s","params":{"efi":true}}`, field: "params.device", want: "params.device: is required: one of pxe, disk, cdrom, bios"},
		{name: "bad device", in: `{"type":"boot-device","server":"s","params":{"device":"usb"}}`, field: "params.device", want: "params.device: must be one of pxe, disk, cdrom, bios"},
		{name: "bad reset kind", in: `{"type":"bmc-reset","server":"s","params":{"kind":"hard"}}`, field: "params.kind", want: "params.kind: must be one of warm, cold"},
		{name: "missing image", in: `{"type":"provision","server":"s","params":{}}`, field: "params.image", want: "params.image: is required"},
		{name: "empty image", in: `{"type":"provision","server":"s","params":{"image":""}}`, field: "params.image", want: "params.image: is required"},
		{name: "blank image", in: `{"type":"provision","server":"s","params":{"image":" \t\u3000"}}`, field: "params.image", want: "params.image: must not be blank"},
		{name: "image too long", in: `{"type":"provision","server":"s","params":{"image":"` + strings.Repeat("i", 257) + `"}}`, field: "params.image", want: "params.image: must be at most 256 characters"},
		{name: "image too long in characters", in: `{"type":"provision","server":"s","params":{"image":"` + strings.Repeat("映", 257) + `"}}`, field: "params.image", want: "params.image: must be at most 256 characters"},
		{name: "requested_by too long in characters", in: `{"type":"inspect","server":"s","requested_by":"` + strings.Repeat("é", 257) + `"}`, field: "requested_by", want: "requested_by: must be at most 256 characters"},
		{name: "deploy without image", in: `{"type":"deploy","params":{"servers":["s"]}}`, field: "params.image", want: "params.image: is required"},
		{name: "deploy with neither", in: `{"type":"deploy","params":{"image":"i"}}`, field: "params.selector", want: "params.selector: exactly one of selector and servers is required"},
		{name: "deploy with both", in: `{"type":"deploy","params":{"image":"i","selector":{"a":"b"},"servers":["s"]}}`, field: "params.selector", want: "params.selector: only one of selector and servers may be given"},
		{name: "deploy with an empty selector and servers", in: `{"type":"deploy","params":{"image":"i","selector":{},"servers":["s"]}}`, field: "params.selector", want: "params.selector: only one of selector and servers may be given"},
		{name: "deploy with an empty selector", in: `{"type":"deploy","params":{"image":"i","selector":{}}}`, field: "params.selector", want: "params.selector: must not be empty"},
		{name: "deploy with empty servers", in: `{"type":"deploy","params":{"image":"i","servers":[]}}`, field: "params.servers", want: "params.servers: must not be empty"},
		{name: "deploy bad server", in: `{"type":"deploy","params":{"image":"i","servers":["a","B"]}}`, field: "params.servers[1]", want: "params.servers[1]: must match " + serverRE},
		{name: "deploy server not a string", in: `{"type":"deploy","params":{"image":"i","servers":["a",1]}}`, field: "params.servers[1]", want: "params.servers[1]: must be a string"},
		{name: "deploy null server", in: `{"type":"deploy","params":{"image":"i","servers":[null]}}`, field: "params.servers[0]", want: "params.servers[0]: must be a string"},
		{name: "servers not an array", in: `{"type":"deploy","params":{"image":"i","servers":"a"}}`, field: "params.servers", want: "params.servers: must be an array"},
		{name: "selector value not a string", in: `{"type":"deploy","params":{"image":"i","selector":{"rack a":1}}}`, field: `params.selector["rack a"]`, want: `params.selector["rack a"]: must be a string`},
		{name: "null selector value", in: `{"type":"deploy","params":{"image":"i","selector":{"rack":null}}}`, field: "params.selector.rack", want: "params.selector.rack: must be a string"},
		{name: "selector not an object", in: `{"type":"deploy","params":{"image":"i","selector":["a"]}}`, field: "params.selector", want: "params.selector: must be an object"},
		{name: "negative batch", in: `{"type":"deploy","params":{"image":"i","servers":["a"],"batch_size":-1}}`, field: "params.batch_size", want: "params.batch_size: must be at least 1"},
		{name: "zero batch", in: `{"type":"deploy","params":{"image":"i","servers":["a"],"batch_size":0}}`, field: "params.batch_size", want: "params.batch_size: must be at least 1"},
		{name: "batch beyond an int", in: `{"type":"deploy","params":{"image":"i","servers":["a"],"batch_size":9223372036854775808}}`, field: "params.batch_size", want: "params.batch_size: must be at most 9223372036854775807"},
		{name: "batch with a fraction", in: `{"type":"deploy","params":{"image":"i","servers":["a"],"batch_size":2.5}}`, field: "params.batch_size", want: "params.batch_size: must be an integer"},
		{name: "batch as a string", in: `{"type":"deploy","params":{"image":"i","servers":["a"],"batch_size":"2"}}`, field: "params.batch_size", want: "params.batch_size: must be an integer"},
		{name: "null batch", in: `{"type":"deploy","params":{"image":"i","servers":["a"],"batch_size":null}}`, field: "params.batch_size", want: "params.batch_size: must be an integer"},
		{name: "negative max_failures", in: `{"type":"deploy","params":{"image":"i","servers":["a"],"max_failures":-1}}`, field: "params.max_failures", want: "params.max_failures: must be at least 0"},
		{name: "max_failures beyond an int", in: `{"type":"deploy","params":{"image":"i","servers":["a"],"max_failures":9223372036854775808}}`, field: "params.max_failures", want: "params.max_failures: must be at most 9223372036854775807"},
		{name: "unknown param", in: `{"type":"power","server":"s","params":{"action":"on","colour":"red"}}`, field: "params.colour", want: "params.colour: is not allowed"},
		{name: "params on inspect", in: `{"type":"inspect","server":"s","params":{"deep":true}}`, field: "params.deep", want: "params.deep: is not allowed"},
		{name: "params not an object", in: `{"type":"power","server":"s","params":"cycle"}`, field: "params", want: "params: must be an object"},
		{name: "params an array", in: `{"type":"power","server":"s","params":[]}`, field: "params", want: "params: must be an object"},
		{name: "null params", in: `{"type":"deprovision","server":"s","params":null}`, field: "params", want: "params: must be an object"},
		{name: "param of the wrong type", in: `{"type":"boot-device","server":"s","params":{"device":"pxe","efi":"yes"}}`, field: "params.efi", want: "params.efi: must be a boolean"},
		{name: "null param", in: `{"type":"boot-device","server":"s","params":{"device":"pxe","efi":null}}`, field: "params.efi", want: "params.efi: must be a boolean"},
		{name: "param in capitals", in: `{"type":"power","server":"s","params":{"Action":"on"}}`, field: "params.Action", want: "params.Action: is not allowed"},
		{name: "unknown field", in: `{"type":"inspect","server":"s","colour":"red"}`, field: "colour", want: "colour: is not allowed"},
		{name: "the first unknown field", in: `{"type":"inspect","server":"s","b":1,"a b":2,"c":3}`, field: `["a b"]`, want: `["a b"]: is not allowed`},
		{name: "field in capitals", in: `{"TYPE":"inspect","server":"s"}`, field: "TYPE", want: "TYPE: is not allowed"},
		{name: "field in mixed case", in: `{"type":"inspect","server":"s","pArAms":{}}`, field: "pArAms", want: "pArAms: is not allowed"},
		{name: "field with a long s", in: `{"type":"inspect","ſerver":"s"}`, field: `["ſerver"]`, want: `["ſerver"]: is not allowed`},
		{name: "type not a string", in: `{"type":7,"server":"s"}`, field: "type", want: "type: must be a string"},
		{name: "empty id", in: `{"id":"","type":"inspect","server":"s"}`, field: "id", want: "id: must match " + jobIDRE},
		{name: "null id", in: `{"id":null,"type":"inspect","server":"s"}`, field: "id", want: "id: must be a string"},
		{name: "empty priority", in: `{"type":"inspect","server":"s","priority":""}`, field: "priority", want: "priority: must be one of critical, default, low"},
		{name: "null priority", in: `{"type":"inspect","server":"s","priority":null}`, field: "priority", want: "priority: must be a string"},
		{name: "null requested_by", in: `{"type":"inspect","server":"s","requested_by":null}`, field: "requested_by", want: "requested_by: must be a string"},
		{name: "empty server", in: `{"type":"inspect","server":""}`, field: "server", want: "server: must match " + serverRE},
		{name: "empty server on deploy", in: `{"type":"deploy","server":"","params":{"image":"i","servers":["s"]}}`, field: "server", want: "server: is not allowed on a deploy job: use params.servers or params.selector"},
		{name: "not JSON", in: `{"type": power}`, field: "", want: "not valid JSON: invalid character 'p' looking for beginning of value"},
		{name: "empty", in: ``, field: "", want: "not valid JSON: unexpected end of JSON input"},
		{name: "not an object", in: `["inspect"]`, field: "", want: "must be an object"},
		{name: "null", in: `null`, field: "", want: "must be an object"},
		{name: "duplicate key", in: `{"type":"power","type":"inspect","server":"s"}`, field: "type", want: "type: is given more than once: each key may appear once"},
		{name: "duplicate param: status read, off run", in: `{"type":"power","server":"s","params":{"action":"status","action":"off"}}`,
			field: "params.action", want: "params.action: is given more than once: each key may appear once"},
		{name: "a deploy's server twice", in: `{"type":"deploy","params":{"image":"i","servers":["srv-1","srv-2","srv-1"]}}`,
			field: "params.servers[2]", want: "params.servers[2]: srv-1 is params.servers[0] already: each server once"},
		{name: "duplicate deep in params", in: `{"type":"deploy","params":{"image":"i","selector":{"rack":"r1","rack":"r2"}}}`,
			field: "params.selector.rack", want: "params.selector.rack: is given more than once: each key may appear once"},
		{name: "trailing object", in: `{"type":"inspect","server":"s"} {}`, field: "", want: "not valid JSON: invalid character '{' after top-level value"},
		{name: "trailing brace", in: `{"type":"inspect","server":"s"}}`, field: "", want: "not valid JSON: invalid character '}' after top-level value"},
		{name: "trailing bracket", in: `{"type":"inspect","server":"s"}]`, field: "", want: "not valid JSON: invalid character ']' after top-level value"},
	}
	runDecode(t, tests)
}

func TestDecodeRequestSize(t *testing.T) {
	t.Parallel()
	in := []byte(`{"type":"inspect","server":"s"}`)
	atLimit := append(in, bytes.Repeat([]byte(" "), jobs.MaxRequestSize-len(in))...)
	if _, err := jobs.DecodeRequest(atLimit); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	runDecode(t, []decodeCase{{
		name:  "over the limit",
		in:    string(atLimit) + " ",
		want:  fmt.Sprintf("request is %d bytes, more than the %d allowed", jobs.MaxRequestSize+1, jobs.MaxRequestSize),
		field: "",
	}})
}

func runDecode(t *testing.T, tests []decodeCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := jobs.DecodeRequest([]byte(tt.in))
			checkDecodeError(t, tt, err)
		})
	}
}

func checkDecodeError(t *testing.T, tt decodeCase, err error) {
	t.Helper()
	if tt.want == "" && tt.contains == "" {
		if err != nil {
			t.Fatalf("rejected: %v", err)
		}
		return
	}
	var e *jobs.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want a *jobs.Error", err, err)
	}
	if e.Code != jobs.CodeInvalidRequest || e.Retryable || e.Field != tt.field {
		t.Errorf("got code %q retryable %t field %q, want invalid_request, false, %q", e.Code, e.Retryable, e.Field, tt.field)
	}
	if tt.want != "" && err.Error() != tt.want {
		t.Errorf("got  %q\nwant %q", err.Error(), tt.want)
	}
	if !strings.Contains(err.Error(), tt.contains) {
		t.Errorf("got %q, want it to contain %q", err.Error(), tt.contains)
	}
}

func TestDecodeRequestFields(t *testing.T) {
	t.Parallel()
	in := `{"id":"job-1","type":"deploy","params":{"image":"i","servers":["a"]},"priority":"low","requested_by":"me"}`
	got, err := jobs.DecodeRequest([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := jobs.Request{ID: "job-1", Type: jobs.Deploy, Params: json.RawMessage(`{"image":"i","servers":["a"]}`), Priority: jobs.PriorityLow, RequestedBy: "me"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestRequestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		r    jobs.Request
		want string
	}{
		{"power", jobs.Request{Type: jobs.Power, Server: "s", Params: json.RawMessage(`{"action":"off"}`)}, ""},
		{"nil params on inspect", jobs.Request{Type: jobs.Inspect, Server: "s"}, ""},
		{"blank params on inspect", jobs.Request{Type: jobs.Inspect, Server: "s", Params: json.RawMessage(" ")}, ""},
		{"empty type", jobs.Request{Server: "s"}, "type: must be one of " + allTypes},
		{"params of another type", jobs.Request{Type: jobs.BMCReset, Server: "s", Params: json.RawMessage(`{"action":"off"}`)}, "params.action: is not allowed"},
		{"no params on power", jobs.Request{Type: jobs.Power, Server: "s"}, "params: is required"},
		{"null params on inspect", jobs.Request{Type: jobs.Inspect, Server: "s", Params: json.RawMessage(`null`)}, "params: must be an object"},
		{"params with trailing data", jobs.Request{Type: jobs.Inspect, Server: "s", Params: json.RawMessage(`{}}`)}, "params: not valid JSON: invalid character '}' after top-level value"},
		{"the id is checked first", jobs.Request{ID: " ", Type: "nope"}, "id: must match " + jobIDRE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.r.Validate()
			if got := errString(err); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDecodeParams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		r    jobs.Request
		want jobs.Params
	}{
		{jobs.Request{Type: jobs.Power, Params: json.RawMessage(`{"action":"cycle"}`)}, &jobs.PowerParams{Action: jobs.PowerCycle}},
		{jobs.Request{Type: jobs.BootDevice, Params: json.RawMessage(`{"device":"pxe","efi":true}`)}, &jobs.BootDeviceParams{Device: jobs.BootPXE, EFI: true}},
		{jobs.Request{Type: jobs.Inspect}, &jobs.NoParams{}},
		{jobs.Request{Type: jobs.Deprovision, Params: json.RawMessage(`{}`)}, &jobs.DeprovisionParams{}},
		{jobs.Request{Type: jobs.Provision, Params: json.RawMessage(`{"image":"u"}`)}, &jobs.ProvisionParams{Image: "u"}},
		{jobs.Request{Type: jobs.Provision, Params: json.RawMessage(`{"image":"u","boot":"virtual-media"}`)}, &jobs.ProvisionParams{Image: "u", Boot: jobs.BootVirtualMedia}},
		{jobs.Request{Type: jobs.BMCReset, Params: json.RawMessage(`{"kind":"warm"}`)}, &jobs.BMCResetParams{Kind: jobs.BMCResetWarm}},
		{jobs.Request{Type: jobs.Deploy, Params: json.RawMessage(`{"image":"u","selector":{"a":"b"},"batch_size":3}`)}, &jobs.DeployParams{Image: "u", Selector: map[string]string{"a": "b"}, BatchSize: new(3)}},
	}
	for _, tt := range tests {
		t.Run(string(tt.r.Type), func(t *testing.T) {
			t.Parallel()
			got, err := tt.r.DecodeParams()
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %#v, %v; want %#v", got, err, tt.want)
			}
		})
	}
}

// TestDecodeInteger checks that an integer is read exactly, however it is
// spelt, as the schema's "integer" reads it.
func TestDecodeInteger(t *testing.T) {
	t.Parallel()
	const tooBig, tooSmall = "must be at most 9223372036854775807", "must be at least -9223372036854775808"
	tests := []struct {
		lit  string
		want int
		err  string // the message about params.max_failures
	}{
		{"0", 0, ""},
		{"-0", 0, ""},
		{"-0.0e-7", 0, ""},
		{"7", 7, ""},
		{"7.0", 7, ""},
		{"7.000E0", 7, ""},
		{"1e2", 100, ""},
		{"1E+2", 100, ""},
		{"100e-2", 1, ""},
		{"1.01e2", 101, ""},
		{"0.07e2", 7, ""},
		{"0e99999999999999999999", 0, ""},
		{"9223372036854775807", math.MaxInt, ""},
		{"9223372036854775807.000", math.MaxInt, ""},
		{"922337203685477580.7e1", math.MaxInt, ""},
		{"0.5", 0, "must be an integer"},
		{"1.5e0", 0, "must be an integer"},
		{"1e-1", 0, "must be an integer"},
		{"1e-99999999999999999999", 0, "must be an integer"},
		{"100000000000000000001e-1", 0, "must be an integer"},
		{"9223372036854775808", 0, tooBig},
		{"9.223372036854775808e18", 0, tooBig},
		{"1e19", 0, tooBig},
		{"1e99999999999999999999", 0, tooBig},
		{"-9223372036854775809", 0, tooSmall},
		{"-1e400", 0, tooSmall},
		{"-1", 0, "must be at least 0"},
		{"-9223372036854775808", 0, "must be at least 0"},
	}
	for _, tt := range tests {
		t.Run(tt.lit, func(t *testing.T) {
			t.Parallel()
			r := jobs.Request{Type: jobs.Deploy, Params: json.RawMessage(`{"image":"i","servers":["s"],"max_failures":` + tt.lit + `}`)}
			p, err := r.DecodeParams()
			if tt.err != "" {
				if got := errString(err); got != "params.max_failures: "+tt.err {
					t.Errorf("got %q, want params.max_failures: %s", got, tt.err)
				}
				return
			}
			if err != nil || p.(*jobs.DeployParams).MaxFailures != tt.want {
				t.Errorf("got %#v, %v; want MaxFailures %d", p, err, tt.want)
			}
		})
	}
}

// TestParamsUnmarshalJSON checks that json.Unmarshal, as workers use it,
// decodes params as DecodeParams does.
func TestParamsUnmarshalJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		into jobs.Params
		want jobs.Params
		err  string
	}{
		{"power", `{"action":"on"}`, &jobs.PowerParams{}, &jobs.PowerParams{Action: jobs.PowerOn}, ""},
		{"boot device", `{"device":"pxe","persistent":true}`, &jobs.BootDeviceParams{}, &jobs.BootDeviceParams{Device: jobs.BootPXE, Persistent: true}, ""},
		{"no params", `{}`, &jobs.NoParams{}, &jobs.NoParams{}, ""},
		{"provision", `{"image":"u"}`, &jobs.ProvisionParams{}, &jobs.ProvisionParams{Image: "u"}, ""},
		{"bmc reset", `{"kind":"cold"}`, &jobs.BMCResetParams{}, &jobs.BMCResetParams{Kind: jobs.BMCResetCold}, ""},
		{"deploy", `{"image":"u","servers":["a"],"batch_size":1e2,"max_failures":2.0}`, &jobs.DeployParams{}, &jobs.DeployParams{Image: "u", Servers: []string{"a"}, BatchSize: new(100), MaxFailures: 2}, ""},
		{"key in capitals", `{"ACTION":"on"}`, &jobs.PowerParams{}, nil, "params.ACTION: is not allowed"},
		{"null flag", `{"device":"pxe","efi":null}`, &jobs.BootDeviceParams{}, nil, "params.efi: must be a boolean"},
		{"null", `null`, &jobs.PowerParams{}, nil, "params: must be an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := json.Unmarshal([]byte(tt.in), tt.into)
			if got := errString(err); got != tt.err {
				t.Fatalf("got error %q, want %q", got, tt.err)
			}
			if tt.err == "" && !reflect.DeepEqual(tt.into, tt.want) {
				t.Errorf("got %#v, want %#v", tt.into, tt.want)
			}
		})
	}
}

func TestNewJob(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 11, 0, 0, 0, time.FixedZone("CET", 3600))
	r := jobs.Request{ID: "j", Type: jobs.Power, Server: "s", Params: json.RawMessage(`{"action":"on"}`), Priority: jobs.PriorityLow, RequestedBy: "me"}
	j := jobs.NewJob(r, 8, now)
	if j.State != jobs.StateQueued || j.MaxAttempts != 8 || j.Attempt != 0 || j.CreatedAt.Location() != time.UTC || !j.CreatedAt.Equal(now) {
		t.Errorf("NewJob = %+v", j)
	}
	if !reflect.DeepEqual(j.Request(), r) {
		t.Errorf("Job.Request() = %+v, want %+v", j.Request(), r)
	}
}

// FuzzDecodeRequest checks that DecodeRequest never panics, answers with an
// invalid_request *jobs.Error, and that what it accepts still validates and
// survives re-encoding unchanged.
func FuzzDecodeRequest(f *testing.F) {
	for _, seed := range []string{
		`{"type":"power","server":"srv-042","params":{"action":"cycle"}}`,
		`{"id":"a.b","type":"boot-device","server":"s","params":{"device":"pxe","persistent":true,"efi":false},"priority":"low","requested_by":"me"}`,
		`{"type":"inspect","server":"s","params":null}`,
		`{"type":"provision","server":"s","params":{"image":"ubuntu"}}`,
		`{"type":"bmc-reset","server":"s","params":{"kind":"warm"}}`,
		`{"type":"deploy","params":{"image":"i","selector":{"a":"b"},"batch_size":2,"max_failures":1}}`,
		`{"type":"deploy","params":{"image":"i","servers":["a","b"]}}`,
		`{"type":"deploy","server":"x"}`,
		`{"type": power}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := jobs.DecodeRequest(data)
		if err != nil {
			checkInvalid(t, err)
			return
		}
		checkAccepted(t, r)
	})
}

func checkInvalid(t *testing.T, err error) {
	t.Helper()
	var e *jobs.Error
	if !errors.As(err, &e) || e.Code != jobs.CodeInvalidRequest || e.Retryable {
		t.Fatalf("rejected with %v (%T), want a non-retryable invalid_request *jobs.Error", err, err)
	}
}

func checkAccepted(t *testing.T, r jobs.Request) {
	t.Helper()
	if err := r.Validate(); err != nil {
		t.Fatalf("accepted %+v, but Validate says %v", r, err)
	}
	out, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("marshal %+v: %v", r, err)
	}
	again, err := jobs.DecodeRequest(out)
	if err != nil {
		t.Fatalf("accepted %+v, but not its encoding %s: %v", r, out, err)
	}
	if out2, _ := json.Marshal(again); !bytes.Equal(out, out2) {
		t.Fatalf("encoding changed on a round trip:\n%s\n%s", out, out2)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// BenchmarkDecodeRequest measures a typical power request, the dispatcher's hot path.
func BenchmarkDecodeRequest(b *testing.B) {
	in := []byte(`{"id":"01JDX3Z5K8W9Q2R4T6V8Y0A1B2","type":"power","server":"srv-042","params":{"action":"cycle"},"priority":"critical","requested_by":"ops@example.com"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jobs.DecodeRequest(in); err != nil {
			b.Fatal(err)
		}
	}
}
