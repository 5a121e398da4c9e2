package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tinmanhq/tinman/jobs"
)

const enrolBody = `{"id":"srv-9","bmc":{"address":"10.0.0.9:623","provider":"ipmi","cipher_suite":17},
	"username":"root-user-x9","password":"hunter2-SECRET-pw","labels":{"rack":"r1","fleet":"prod"}}`

func TestEnrolAndReadServer(t *testing.T) {
	t.Parallel()
	e := setup(t)
	a := e.do(t, RoleAdmin, "POST", "/v1/servers", enrolBody)
	want(t, a, http.StatusCreated)
	if loc := a.header.Get("Location"); loc != "/v1/servers/srv-9" {
		t.Errorf("Location %q", loc)
	}
	var srv jobs.Server
	a.decode(t, &srv)
	if srv.ID != "srv-9" || srv.State != jobs.ServerEnrolled || srv.BMC.CipherSuite != 17 || srv.Labels["rack"] != "r1" {
		t.Errorf("enrolled: %+v", srv)
	}
	_, creds, err := e.store.ServerWithCredentials(context.Background(), "srv-9")
	if err != nil || creds.Username != "root-user-x9" || creds.Password != "hunter2-SECRET-pw" {
		t.Errorf("stored credentials %v, %v", creds, err)
	}
	want(t, e.do(t, RoleViewer, "GET", "/v1/servers/srv-9", ""), http.StatusOK)
	if p := e.do(t, RoleAdmin, "POST", "/v1/servers", enrolBody).problem(t); p.Status != http.StatusConflict || p.Field != "id" {
		t.Errorf("enrol twice: %+v", p)
	}
	if p := e.do(t, RoleViewer, "GET", "/v1/servers/srv-0", "").problem(t); p.Status != http.StatusNotFound {
		t.Errorf("unknown server: %+v", p)
	}
}

func TestEnrolRefuses(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ok := func(change string) string { return strings.Replace(enrolBody, `"provider":"ipmi"`, change, 1) }
	cases := []struct{ name, body, field string }{
		{"bad id", `{"id":"SRV","bmc":{"address":"h","provider":"ipmi"},"username":"u","password":"p"}`, "id"},
		{"no address", `{"id":"s1","bmc":{"provider":"ipmi"},"username":"u","password":"p"}`, "bmc.address"},
		{"bad provider", ok(`"provider":"snmp"`), "bmc.provider"},
		{"cipher suite", `{"id":"s1","bmc":{"address":"h","provider":"ipmi","cipher_suite":99},"username":"u","password":"p"}`, "bmc.cipher_suite"},
		{"no password", `{"id":"s1","bmc":{"address":"h","provider":"ipmi"},"username":"u"}`, "password"},
		{"no username", `{"id":"s1","bmc":{"address":"h","provider":"ipmi"},"password":"p"}`, "username"},
		{"unknown field", `{"id":"s1","bmc":{"address":"h","provider":"ipmi"},"username":"u","password":"p","colour":1}`, "colour"},
		{"unknown bmc field", `{"id":"s1","bmc":{"address":"h","provider":"ipmi","port":1},"username":"u","password":"p"}`, "bmc.port"},
		{"wrong type", `{"id":"s1","bmc":{"address":"h","provider":"ipmi","verify_tls":"yes"},"username":"u","password":"p"}`, "bmc.verify_tls"},
		{"bad label", `{"id":"s1","bmc":{"address":"h","provider":"ipmi"},"username":"u","password":"p","labels":{"a":"b,c"}}`, "labels.a"},
		{"trailing data", `{"id":"s1","bmc":{"address":"h","provider":"ipmi"},"username":"u","password":"p"} {}`, ""},
		{"empty", ` `, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := e.do(t, RoleAdmin, "POST", "/v1/servers", c.body)
			p := a.problem(t)
			if a.status != http.StatusBadRequest || (c.field != "" && p.Field != c.field) {
				t.Errorf("%d field %q, want 400 naming %q: %+v", a.status, p.Field, c.field, p)
			}
		})
	}
	big := `{"id":"s1","bmc":{"address":"` + strings.Repeat("h", 1<<20) + `","provider":"ipmi"},"username":"u","password":"p"}`
	if p := e.do(t, RoleAdmin, "POST", "/v1/servers", big).problem(t); p.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over 1 MiB: %+v", p)
	}
}

func TestListServersBySelector(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.enrol(t, "a1", map[string]string{"rack": "r1", "fleet": "prod"})
	e.enrol(t, "a2", map[string]string{"rack": "r2", "fleet": "prod"})
	e.enrol(t, "a3", map[string]string{"rack": "r1", "fleet": "lab"})
	for query, wantIDs := range map[string]string{
		"":                             "a1,a2,a3",
		"?selector=fleet=prod":         "a1,a2",
		"?selector=rack=r1,fleet=prod": "a1",
		"?selector=rack=r9":            "",
	} {
		a := e.do(t, RoleViewer, "GET", "/v1/servers"+query, "")
		want(t, a, http.StatusOK)
		var list ServerList
		a.decode(t, &list)
		var ids []string
		for _, s := range list.Servers {
			ids = append(ids, s.ID)
		}
		if got := strings.Join(ids, ","); got != wantIDs {
			t.Errorf("GET /v1/servers%s: %q, want %q", query, got, wantIDs)
		}
	}
	for _, query := range []string{"?selector=rack", "?selector=a=b=c", "?labels=x", "?selector=rack=r1,,fleet=prod",
		"?selector=rack=r1,", "?selector=rack=r1,rack=r2", "?selector=rack=r1&selector=rack=r2"} {
		if p := e.do(t, RoleViewer, "GET", "/v1/servers"+query, "").problem(t); p.Status != http.StatusBadRequest || p.Field == "" {
			t.Errorf("GET /v1/servers%s: %+v", query, p)
		}
	}
}

func TestPatchServer(t *testing.T) {
	t.Parallel()
	e := setup(t)
	want(t, e.do(t, RoleAdmin, "POST", "/v1/servers", enrolBody), http.StatusCreated)
	patch := func(role Role, body string) (jobs.Server, answer) {
		a := e.do(t, role, "PATCH", "/v1/servers/srv-9", body)
		var srv jobs.Server
		if a.status == http.StatusOK {
			a.decode(t, &srv)
		}
		return srv, a
	}
	srv, a := patch(RoleAdmin, `{"labels":{"rack":"r2","fleet":null,"new":"x"},"bmc":{"address":"10.0.0.10"},"password":"n3w-SECRET-pw"}`)
	want(t, a, http.StatusOK)
	if srv.Labels["rack"] != "r2" || srv.Labels["new"] != "x" || len(srv.Labels) != 2 || srv.BMC.Address != "10.0.0.10" || srv.BMC.Provider != jobs.ProviderIPMI {
		t.Errorf("after the admin patch: %+v", srv)
	}
	_, creds, _ := e.store.ServerWithCredentials(context.Background(), "srv-9")
	if creds.Username != "root-user-x9" || creds.Password != "n3w-SECRET-pw" {
		t.Errorf("credentials after the patch: %v", creds)
	}
	// An operator sets and clears maintenance, and nothing else.
	srv, a = patch(RoleOperator, `{"maintenance":{"reason":"fan swap"}}`)
	want(t, a, http.StatusOK)
	if srv.Maintenance == nil || srv.Maintenance.Reason != "fan swap" || !strings.HasPrefix(srv.Maintenance.SetBy, "operator:") {
		t.Errorf("maintenance set: %+v", srv.Maintenance)
	}
	if _, a = patch(RoleOperator, `{"labels":{"rack":"r3"}}`); a.problem(t).Status != http.StatusForbidden {
		t.Errorf("operator changing labels: %d", a.status)
	}
	srv, a = patch(RoleOperator, `{"maintenance":null}`)
	want(t, a, http.StatusOK)
	if srv.Maintenance != nil {
		t.Errorf("maintenance after clearing: %+v", srv.Maintenance)
	}
	srv, _ = patch(RoleAdmin, `{"labels":null}`)
	if len(srv.Labels) != 0 {
		t.Errorf("labels after null: %v", srv.Labels)
	}
	for body, field := range map[string]string{
		`{}`:                            "",
		`{"maintenance":{"reason":""}}`: "maintenance.reason",
		`{"maintenance":{"why":"x"}}`:   "maintenance.why",
		`{"bmc":{"provider":"snmp"}}`:   "bmc.provider",
		`{"password":""}`:               "password",
		`{"labels":{"bad key!":"x"}}`:   "labels",
		`{"state":"active"}`:            "state",
	} {
		if _, a = patch(RoleAdmin, body); a.problem(t).Status != http.StatusBadRequest || a.problem(t).Field != field {
			t.Errorf("PATCH %s: %d %s, want 400 naming %q", body, a.status, a.body, field)
		}
	}
	if p := e.do(t, RoleAdmin, "PATCH", "/v1/servers/srv-0", `{"maintenance":null}`).problem(t); p.Status != http.StatusNotFound {
		t.Errorf("PATCH an unknown server: %+v", p)
	}
}

func TestRemoveServer(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.enrol(t, "gone", nil)
	e.enrol(t, "busy", nil)
	want(t, e.do(t, RoleAdmin, "DELETE", "/v1/servers/gone", ""), http.StatusNoContent)
	want(t, e.do(t, RoleViewer, "GET", "/v1/servers/gone", ""), http.StatusNotFound)
	if p := e.do(t, RoleAdmin, "DELETE", "/v1/servers/gone", "").problem(t); p.Status != http.StatusNotFound {
		t.Errorf("remove twice: %+v", p)
	}
	_, err := e.store.TransitionServer(context.Background(), "busy", []jobs.ServerState{jobs.ServerEnrolled}, jobs.ServerInspecting, "job-1", "")
	if err != nil {
		t.Fatal(err)
	}
	if p := e.do(t, RoleAdmin, "DELETE", "/v1/servers/busy", "").problem(t); p.Status != http.StatusConflict {
		t.Errorf("remove while inspecting: %+v", p)
	}
}

// TestCredentialsNeverLeave enrols with a known password, then reads,
// lists, patches and removes, and searches every answer and the log.
func TestCredentialsNeverLeave(t *testing.T) {
	t.Parallel()
	e := setup(t)
	secrets := []string{"hunter2-SECRET-pw", "n3w-SECRET-pw", "root-user-x9", "n3w-user"}
	var bodies []answer
	bodies = append(bodies,
		e.do(t, RoleAdmin, "POST", "/v1/servers", enrolBody),
		e.do(t, RoleAdmin, "POST", "/v1/servers", enrolBody), // the conflict
		e.do(t, RoleViewer, "GET", "/v1/servers/srv-9", ""),
		e.do(t, RoleViewer, "GET", "/v1/servers", ""),
		e.do(t, RoleViewer, "GET", "/v1/servers?selector=rack=r1", ""),
		e.do(t, RoleAdmin, "PATCH", "/v1/servers/srv-9", `{"username":"n3w-user","password":"n3w-SECRET-pw"}`),
		e.do(t, RoleAdmin, "PATCH", "/v1/servers/srv-9", `{"password":"n3w-SECRET-pw","colour":"x"}`),
		e.do(t, RoleOperator, "PATCH", "/v1/servers/srv-9", `{"password":"n3w-SECRET-pw"}`),
		e.do(t, RoleViewer, "GET", "/v1/servers/srv-9", ""),
		e.do(t, RoleAdmin, "DELETE", "/v1/servers/srv-9", ""),
	)
	for i, a := range bodies {
		for _, s := range secrets {
			if strings.Contains(string(a.body), s) || strings.Contains(strings.Join(flatten(a.header), " "), s) {
				t.Errorf("answer %d (%d) shows %q: %s", i, a.status, s, a.body)
			}
		}
	}
	logs := e.logs.String()
	for _, s := range append(secrets, testTokens[RoleAdmin], testTokens[RoleViewer], testTokens[RoleOperator]) {
		if strings.Contains(logs, s) {
			t.Errorf("the log shows %q", s)
		}
	}
}

func flatten(h http.Header) []string {
	var out []string
	for k, vs := range h {
		out = append(out, k+": "+strings.Join(vs, ","))
	}
	return out
}

// GET /v1/servers answers exactly what encoding the store's listing as a
// ServerList gives, byte for byte (the servers come encoded from the
// store's cache), with none, and after a server changed.
func TestListServersAnswersAsEncoded(t *testing.T) {
	t.Parallel()
	e := setup(t)
	encoded := func() []byte {
		t.Helper()
		list, err := e.store.ListServers(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := json.NewEncoder(&buf).Encode(ServerList{Servers: list}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	check := func(when string) {
		t.Helper()
		a := e.do(t, RoleViewer, "GET", "/v1/servers", "")
		want(t, a, http.StatusOK)
		if exp := encoded(); !bytes.Equal(a.body, exp) {
			t.Errorf("%s: GET /v1/servers answered\n%s\nwant\n%s", when, a.body, exp)
		}
		if ct := a.header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", when, ct)
		}
	}
	check("no server")
	e.enrol(t, "srv-10", map[string]string{"rack": "r1", "note": "a<b&c"})
	e.enrol(t, "srv-2", nil)
	check("two servers")
	if _, err := e.store.UpdateServerSettings(context.Background(), "srv-2", func(srv *jobs.Server) error {
		srv.Labels = map[string]string{"rack": "r9"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	check("after a change")
}
