package api

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/tinmanhq/tinman/jobs"
)

// serverBodySeeds are bodies of POST /v1/servers and PATCH /v1/servers/{id},
// good and hostile.
var serverBodySeeds = []string{
	`{"id":"srv-9","bmc":{"address":"10.0.0.9:623","provider":"ipmi","cipher_suite":17},"username":"u","password":"p","labels":{"rack":"r1"}}`,
	`{"id":"a","id":"b"}`, `{"ID":"srv-9"}`, `{"bmc":{"Address":"h"}}`, `{"bmc":{"cipher_suite":1e400}}`,
	`{"labels":{"rack":"r2","old":null},"bmc":{"address":"h","verify_tls":true},"password":"x"}`,
	`{"maintenance":{"reason":"fan"}}`, `{"maintenance":null}`, `{"password":null}`, `{"labels":null}`,
	"{\"maintenance\":{\"reason\":\"\xff\"}}", `{"username":"\ud800"}`, `[[[[`, `null`, `{}`, ``,
}

// FuzzEnrolment: any POST /v1/servers body, never a panic; one accepted was
// strict JSON (each key once, spelt exactly, its strings text) and makes a
// valid server with credentials within their bounds.
func FuzzEnrolment(f *testing.F) {
	for _, s := range serverBodySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var e Enrolment
		if err := decodeStrict(body, &e, ""); err != nil {
			refused(t, err)
			return
		}
		srv, creds, err := enrolled(e)
		if err != nil {
			refused(t, err)
			return
		}
		strict(t, body, &Enrolment{})
		if srv.Validate() != nil || checkCredentials(creds) != nil || checkLabels(srv.Labels) != nil {
			t.Fatalf("accepted %q as an invalid server", body)
		}
	})
}

// FuzzServerPatch: any PATCH /v1/servers/{id} body, never a panic; one
// accepted was strict JSON, changes something, and applies to a server.
func FuzzServerPatch(f *testing.F) {
	for _, s := range serverBodySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var p ServerPatch
		if err := p.decode(httptest.NewRequest("PATCH", "/v1/servers/srv-1", bytes.NewReader(body))); err != nil {
			refused(t, err)
			return
		}
		if err := p.check(RoleAdmin); err != nil {
			refused(t, err)
			return
		}
		strict(t, body, &ServerPatch{})
		if !p.adminOnly() && p.Maintenance == nil {
			t.Fatalf("accepted %q, which changes nothing", body)
		}
		srv := jobs.Server{ID: "srv-1", BMC: jobs.BMC{Address: "h", Provider: jobs.ProviderIPMI}, Labels: map[string]string{"a": "b"}}
		creds := jobs.Credentials{Username: "u", Password: "p"}
		p.apply(&srv, &creds, "fuzz")
		if checkLabels(srv.Labels) != nil || checkCredentials(creds) != nil {
			t.Fatalf("accepted %q, which makes labels %v", body, srv.Labels)
		}
	})
}

// refused fails unless err is a bad request or a too large body.
func refused(t *testing.T, err error) {
	t.Helper()
	if p := problemOf(err); p.Status != 400 && p.Status != 413 {
		t.Fatalf("refused with %d: %v", p.Status, err)
	}
}

// strict fails unless body, accepted into v's type, is strict JSON.
func strict(t *testing.T, body []byte, v any) {
	t.Helper()
	if !json.Valid(body) || jobs.CheckJSON(body) != nil {
		t.Fatalf("accepted %q, which is not strict JSON", body)
	}
	if err := exactKeys(body, reflect.TypeOf(v), ""); err != nil {
		t.Fatalf("accepted %q with a key not spelt as its field: %v", body, err)
	}
}
