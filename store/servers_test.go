package store_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tinmanhq/tinman/jobs"
)

var creds = jobs.Credentials{Username: "bmc-admin", Password: "s3cret-pw"}

func newServer(id string) jobs.Server {
	return jobs.Server{ID: id, BMC: jobs.BMC{Address: "10.0.0.7:623", Provider: jobs.ProviderIPMI}, Labels: map[string]string{"rack": "r1"}}
}

func TestPutServerInvalid(t *testing.T) {
	t.Parallel()
	e := setup(t)
	tests := []struct {
		name   string
		change func(*jobs.Server)
		field  string
	}{
		{"bad id", func(s *jobs.Server) { s.ID = "SRV_1" }, "id"},
		{"no id", func(s *jobs.Server) { s.ID = "" }, "id"},
		{"no address", func(s *jobs.Server) { s.BMC.Address = "" }, "bmc.address"},
		{"unknown provider", func(s *jobs.Server) { s.BMC.Provider = "telnet" }, "bmc.provider"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer("srv-" + strings.ReplaceAll(tt.name, " ", "-"))
			tt.change(&srv)
			err := e.store.PutServer(testContext(t), srv, creds)
			if jobs.AsError(err) == nil || jobs.AsError(err).Field != tt.field {
				t.Errorf("PutServer = %v, want an error on %s", err, tt.field)
			}
		})
	}
	if ids, err := e.store.ServerIDs(testContext(t)); err != nil || len(ids) != 0 {
		t.Errorf("ServerIDs() = %v, %v; want none enrolled", ids, err)
	}
}

func TestServerCredentials(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := testContext(t)
	if err := e.store.PutServer(ctx, newServer("srv-1"), creds); err != nil {
		t.Fatalf("PutServer: %v", err)
	}
	srv, err := e.store.Server(ctx, "srv-1")
	if err != nil {
		t.Fatalf("Server: %v", err)
	}
	if srv.State != jobs.ServerEnrolled || srv.PowerState != jobs.PowerStateUnknown || srv.CreatedAt.IsZero() ||
		srv.BMC.Address != "10.0.0.7:623" || srv.Labels["rack"] != "r1" {
		t.Errorf("Server() = %+v, want enrolled, power unknown, as put", srv)
	}
	data, err := json.Marshal(srv)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), creds.Password) || strings.Contains(string(data), creds.Username) {
		t.Errorf("Server JSON carries credentials: %s", data)
	}
	_, got, err := e.store.ServerWithCredentials(ctx, "srv-1")
	if err != nil || got != creds {
		t.Errorf("ServerWithCredentials() = %s, %v; want %s", got, err, creds)
	}
}

func TestServerNotFound(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := testContext(t)
	_, err := e.store.Server(ctx, "srv-missing")
	_, _, credErr := e.store.ServerWithCredentials(ctx, "srv-missing")
	powerErr := e.store.SetPowerState(ctx, "srv-missing", jobs.PowerStateOn)
	for _, err := range []error{err, credErr, powerErr} {
		var je *jobs.Error
		if !errors.As(err, &je) || je.Code != jobs.CodeNotFound {
			t.Errorf("got %v, want a jobs.Error with code not_found", err)
		}
	}
}

func TestSetPowerState(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := testContext(t)
	if err := e.store.PutServer(ctx, newServer("srv-1"), creds); err != nil {
		t.Fatal(err)
	}
	before, err := e.store.Server(ctx, "srv-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []jobs.PowerState{jobs.PowerStateOn, jobs.PowerStateOff, jobs.PowerStateUnknown} {
		if err := e.store.SetPowerState(ctx, "srv-1", p); err != nil {
			t.Fatalf("SetPowerState(%s): %v", p, err)
		}
		srv, got, err := e.store.ServerWithCredentials(ctx, "srv-1")
		if err != nil || srv.PowerState != p || got != creds || !srv.CreatedAt.Equal(before.CreatedAt) ||
			srv.State != jobs.ServerEnrolled {
			t.Errorf("after SetPowerState(%s): %+v %s %v", p, srv, got, err)
		}
	}
}

func TestServerIDs(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := testContext(t)
	want := []string{"srv-1", "srv-2", "srv-3"}
	for _, id := range append(want, "srv-2") { // put again: replaced, not listed twice
		if err := e.store.PutServer(ctx, newServer(id), creds); err != nil {
			t.Fatal(err)
		}
	}
	got, err := e.store.ServerIDs(ctx)
	slices.Sort(got)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("ServerIDs() = %v, %v; want %v", got, err, want)
	}
}
