package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/tinmanhq/tinman/jobs"
)

func TestListServersBySelectorFollowsLabelChanges(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	put := func(id string, labels map[string]string) {
		srv := jobs.Server{ID: id, BMC: jobs.BMC{Address: "10.0.0.1", Provider: jobs.ProviderIPMI}, Labels: labels}
		if err := e.store.PutServer(ctx, srv, jobs.Credentials{Username: "u", Password: "p"}); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(sel map[string]string) []string {
		got, err := e.store.ListServers(ctx, sel)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range got {
			out = append(out, s.ID)
		}
		return out
	}
	put("a", map[string]string{"rack": "r1", "role": "web"})
	put("b", map[string]string{"rack": "r1", "role": "db"})
	put("c", map[string]string{"rack": "r2", "role": "web"})
	if got := ids(map[string]string{"role": "web"}); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("role=web: %v", got)
	}
	put("a", map[string]string{"rack": "r1", "role": "db"}) // relabelled by a new PUT
	if _, err := e.store.UpdateServer(ctx, "c", func(s *jobs.Server, _ *jobs.Credentials) error {
		s.Labels = map[string]string{"rack": "r1", "role": "web"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := ids(map[string]string{"rack": "r1", "role": "web"}); !slices.Equal(got, []string{"c"}) {
		t.Errorf("rack=r1,role=web after the changes: %v, want [c]", got)
	}
	if got := ids(map[string]string{"rack": "r2"}); len(got) != 0 {
		t.Errorf("rack=r2 after c moved: %v, want none", got)
	}
	if err := e.store.RemoveServer(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if got := ids(map[string]string{"role": "db"}); !slices.Equal(got, []string{"a"}) {
		t.Errorf("role=db after removing b: %v, want [a]", got)
	}
	if got := ids(nil); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("all: %v", got)
	}
}
