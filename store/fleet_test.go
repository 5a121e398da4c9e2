package store_test

import (
	"testing"

	"github.com/tinmanhq/tinman/jobs"
)

func TestServersByIDKeepsTheOrderAndLeavesOutTheMissing(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := testContext(t)
	for _, id := range []string{"srv-1", "srv-2", "srv-3"} {
		if err := e.store.PutServer(ctx, newServer(id), creds); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.store.SetInventory(ctx, "srv-2", jobs.Inventory{Vendor: "Acme"}); err != nil {
		t.Fatal(err)
	}
	got, err := e.store.ServersByID(ctx, []string{"srv-3", "gone", "srv-1", "srv-2"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range got {
		ids = append(ids, s.ID)
		if s.BMC.Address == "" || s.State != jobs.ServerEnrolled {
			t.Errorf("%s read without its record: %+v", s.ID, s)
		}
	}
	if len(ids) != 3 || ids[0] != "srv-3" || ids[1] != "srv-1" || ids[2] != "srv-2" {
		t.Errorf("ServersByID = %v, want srv-3, srv-1, srv-2", ids)
	}
	if none, err := e.store.ServersByID(ctx, nil); err != nil || none == nil || len(none) != 0 {
		t.Errorf("ServersByID(nil) = %v, %v; want an empty list", none, err)
	}
}
