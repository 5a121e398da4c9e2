package store_test

import (
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/store/storetest"
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

// A listing reuses what it decoded only while the record is the same: a
// change made through another Store (another process) shows at the next
// listing, a server removed is gone, and a caller that changes what it got
// changes nothing for the next.
func TestListServersIsAsFreshAsRedis(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := testContext(t)
	other := storetest.Store(t, e.rdb, e.outbox, store.Config{Source: "/tinman/other"})
	for _, id := range []string{"srv-1", "srv-2", "srv-10"} {
		if err := e.store.PutServer(ctx, newServer(id), creds); err != nil {
			t.Fatal(err)
		}
	}
	list := func(sel map[string]string) []jobs.Server {
		t.Helper()
		got, err := e.store.ListServers(ctx, sel)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	first := list(nil)
	first[0].Labels["rack"] = "changed-by-caller"
	first[0].Labels["extra"] = "x"
	if _, err := other.UpdateServerSettings(ctx, "srv-2", func(srv *jobs.Server) error {
		srv.Labels = map[string]string{"rack": "r9"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := other.RemoveServer(ctx, "srv-10"); err != nil {
		t.Fatal(err)
	}
	for _, sel := range []map[string]string{nil, {"rack": "r1"}} {
		got := list(sel)
		racks := map[string]string{}
		for _, s := range got {
			racks[s.ID] = s.Labels["rack"]
			if len(s.Labels) != 1 {
				t.Errorf("selector %v: %s has labels %v, want one", sel, s.ID, s.Labels)
			}
		}
		want := map[string]string{"srv-1": "r1", "srv-2": "r9"}
		if sel != nil {
			want = map[string]string{"srv-1": "r1"}
		}
		if !maps.Equal(racks, want) {
			t.Errorf("selector %v: listed racks %v, want %v", sel, racks, want)
		}
	}
}
