package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

// acceptDeploy records deploy id as a queued job.
func acceptDeploy(t *testing.T, ctx context.Context, st *store.Store, id string) jobs.Job {
	t.Helper()
	req := jobs.Request{ID: id, Type: jobs.Deploy, Params: []byte(`{"image":"x","servers":["srv-1"]}`)}
	job, _, err := st.Accept(ctx, jobs.NewJob(req, 3, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	return job
}

// A deploy's hold refuses another deploy on any of its servers, naming it,
// until it ends; an ended deploy's hold is taken over even unreleased; a
// release lets go of its holds only; checking takes nothing.
func TestDeployHolds(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st *store.Store, ctx context.Context) {
		a := acceptDeploy(t, ctx, st, "dep-a")
		if err := st.HoldServers(ctx, "dep-a", []string{"s1", "s2", "s3"}); err != nil {
			t.Fatal(err)
		}
		if err := st.HoldServers(ctx, "dep-a", []string{"s1", "s2", "s3"}); err != nil {
			t.Fatalf("holding again what it holds: %v", err)
		}
		for _, hold := range []func(context.Context, string, []string) error{st.CheckServersFree, st.HoldServers} {
			err := hold(ctx, "dep-b", []string{"s0", "s2", "s3"})
			if e := jobs.AsError(err); jobs.CodeOf(err) != jobs.CodeConflict ||
				!strings.Contains(e.Message, "servers s2 and 1 more are held by deploy dep-a, which is queued") {
				t.Errorf("overlapping hold = %v, want a conflict naming dep-a and its 2 servers", err)
			}
		}
		if err := st.CheckServersFree(ctx, "dep-b", []string{"s4"}); err != nil {
			t.Errorf("check of a free server: %v", err)
		}
		if err := st.HoldServers(ctx, "dep-c", []string{"s4"}); err != nil {
			t.Fatal(err)
		}
		a.State = jobs.StateFailed
		if _, err := st.Record(ctx, &a, events.JobFailed, events.Detail{}); err != nil {
			t.Fatal(err)
		}
		if err := st.HoldServers(ctx, "dep-b", []string{"s2", "s3"}); err != nil {
			t.Fatalf("hold of servers whose deploy ended (stale): %v", err)
		}
		if err := st.ReleaseServers(ctx, "dep-a"); err != nil {
			t.Fatal(err)
		}
		if err := st.HoldServers(ctx, "dep-d", []string{"s2"}); jobs.CodeOf(err) != jobs.CodeConflict {
			t.Errorf("dep-a's release let go of dep-b's hold: %v", err)
		}
		got, err := st.DeployServers(ctx, "dep-b", 0, -1)
		if err != nil || !slices.Equal(got, []string{"s2", "s3"}) {
			t.Errorf("DeployServers(dep-b) = %v, %v", got, err)
		}
		if err := st.ReleaseServers(ctx, "dep-b"); err != nil {
			t.Fatal(err)
		}
		if err := st.HoldServers(ctx, "dep-d", []string{"s1", "s2", "s3"}); err != nil {
			t.Errorf("hold after every holder ended: %v", err)
		}
	})
}

// The last child of a batch to end is told so, once; a child outside the
// batch changes nothing.
func TestDeployBatchPending(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st *store.Store, ctx context.Context) {
		var ids []string
		for i := range 1500 {
			ids = append(ids, fmt.Sprintf("dep.s%d", i))
		}
		if err := st.StartDeployBatch(ctx, "dep", ids); err != nil {
			t.Fatal(err)
		}
		if n, err := st.DeployBatchPending(ctx, "dep"); err != nil || n != 1500 {
			t.Fatalf("pending = %d, %v; want 1500", n, err)
		}
		lasts := 0
		for _, id := range append(ids, ids[0], "dep.other") {
			last, err := st.DeployChildEnded(ctx, "dep", id)
			if err != nil {
				t.Fatal(err)
			}
			if last {
				lasts++
				if id != ids[len(ids)-1] {
					t.Errorf("%s told it was last", id)
				}
			}
		}
		if lasts != 1 {
			t.Errorf("%d children told they were last, want 1", lasts)
		}
	})
}
