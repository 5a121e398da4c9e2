package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

// bulkFleet is n servers bulk-0001.. with boot MACs and a label per tenth.
func bulkFleet(n int) []store.Enrolment {
	list := make([]store.Enrolment, n)
	for i := range list {
		list[i] = store.Enrolment{Server: jobs.Server{
			ID:      fmt.Sprintf("bulk-%04d", i+1),
			BMC:     jobs.BMC{Address: fmt.Sprintf("127.0.0.1:%d", 20000+i), Provider: jobs.ProviderRedfish},
			Labels:  map[string]string{"fleet": "sim", "tenth": fmt.Sprint(i % 10)},
			BootMAC: fmt.Sprintf("02:00:5e:de:%02x:%02x", (i+1)>>8, (i+1)&0xff),
		}, Credentials: jobs.Credentials{Username: "u", Password: fmt.Sprint("p", i)}}
	}
	return list
}

// PutServers enrols a fleet across several transactions as PutServer would
// each server: records, credentials, label sets and the MAC index.
func TestPutServersEnrolsEveryServer(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st *store.Store, ctx context.Context) {
		list := bulkFleet(1203) // three chunks, the last one short
		if err := st.PutServers(ctx, list); err != nil {
			t.Fatalf("PutServers: %v", err)
		}
		got, err := st.ListServers(ctx, map[string]string{"tenth": "3"})
		if err != nil || len(got) != 120 {
			t.Fatalf("ListServers(tenth=3) = %d servers, %v; want 120", len(got), err)
		}
		for _, i := range []int{0, 499, 500, 1202} {
			want := list[i]
			srv, c, err := st.ServerWithCredentials(ctx, want.Server.ID)
			if err != nil || c != want.Credentials || srv.State != jobs.ServerEnrolled || srv.BMC.Address != want.Server.BMC.Address {
				t.Errorf("server %s = %+v, %+v, %v; want it enrolled with its credentials", want.Server.ID, srv, c, err)
			}
			if byMAC, err := st.ServerByMAC(ctx, want.Server.BootMAC); err != nil || byMAC.ID != want.Server.ID {
				t.Errorf("ServerByMAC(%s) = %s, %v; want %s", want.Server.BootMAC, byMAC.ID, err, want.Server.ID)
			}
		}
	})
}

// A bulk enrolment that would give one id or MAC twice is refused naming
// the field; a replacement moves the labels and MAC of the servers it
// replaces.
func TestPutServersConflicts(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st *store.Store, ctx context.Context) {
		base := bulkFleet(3)
		if err := st.PutServers(ctx, base); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name  string
			edit  func(list []store.Enrolment)
			field string
		}{
			{"an id twice", func(l []store.Enrolment) { l[1].Server.ID = l[0].Server.ID }, "id"},
			{"a MAC twice", func(l []store.Enrolment) { l[1].Server.BootMAC = l[0].Server.BootMAC }, "boot_mac"},
			{"another server's MAC", func(l []store.Enrolment) { l[0].Server.ID = "other" }, "boot_mac"},
			{"a bad id", func(l []store.Enrolment) { l[2].Server.ID = "Bad_ID" }, "id"},
		}
		for _, tt := range tests {
			list := bulkFleet(3)
			tt.edit(list)
			err := st.PutServers(ctx, list)
			if e := jobs.AsError(err); e == nil || e.Field != tt.field {
				t.Errorf("%s: %v, want an error naming %s", tt.name, err, tt.field)
			}
		}
		moved := bulkFleet(3)
		moved[0].Server.Labels = map[string]string{"fleet": "moved"}
		moved[0].Server.BootMAC = "02:00:5e:de:ff:01"
		if err := st.PutServers(ctx, moved); err != nil {
			t.Fatalf("replace: %v", err)
		}
		if list, err := st.ListServers(ctx, map[string]string{"fleet": "sim"}); err != nil || len(list) != 2 {
			t.Errorf("fleet=sim after the move = %d servers, %v; want 2", len(list), err)
		}
		if _, err := st.ServerByMAC(ctx, base[0].Server.BootMAC); jobs.CodeOf(err) != jobs.CodeNotFound {
			t.Errorf("the replaced MAC: %v, want not_found", err)
		}
	})
}

// Servers are listed in natural id order: sim-2 before sim-10.
func TestListServersNaturalOrder(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st *store.Store, ctx context.Context) {
		var list []store.Enrolment
		for _, id := range []string{"sim-10", "sim-2", "sim-100", "sim-1"} {
			list = append(list, store.Enrolment{Server: jobs.Server{ID: id, BMC: jobs.BMC{Address: "127.0.0.1:1", Provider: jobs.ProviderRedfish},
				Labels: map[string]string{"fleet": "sim"}}, Credentials: jobs.Credentials{Username: "u", Password: "p"}})
		}
		if err := st.PutServers(ctx, list); err != nil {
			t.Fatal(err)
		}
		got, err := st.ListServers(ctx, map[string]string{"fleet": "sim"})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, srv := range got {
			ids = append(ids, srv.ID)
		}
		if want := []string{"sim-1", "sim-2", "sim-10", "sim-100"}; !slices.Equal(ids, want) {
			t.Errorf("ListServers = %q, want %q", ids, want)
		}
	})
}
