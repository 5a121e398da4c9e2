package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

// The job list is newest first, filtered by server, state and type, and
// bounded by its limit; a server's list holds its jobs only.
func TestListJobsFilters(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st *store.Store, ctx context.Context) {
		base := time.Now().Add(-time.Minute)
		accept := func(id, server string, typ jobs.Type, params string, at time.Duration) {
			t.Helper()
			req := jobs.Request{ID: id, Type: typ, Server: server, Params: []byte(params)}
			if _, _, err := st.Accept(ctx, jobs.NewJob(req, 3, base.Add(at))); err != nil {
				t.Fatal(err)
			}
		}
		accept("a-power", "srv-1", jobs.Power, `{"action":"on"}`, 1*time.Second)
		accept("b-inspect", "srv-1", jobs.Inspect, `{}`, 2*time.Second)
		accept("c-power", "srv-2", jobs.Power, `{"action":"off"}`, 3*time.Second)
		accept("d-power", "srv-1", jobs.Power, `{"action":"cycle"}`, 4*time.Second)
		job, err := st.Job(ctx, "a-power")
		if err != nil {
			t.Fatal(err)
		}
		job.State = jobs.StateRunning
		if _, err := st.Record(ctx, &job, events.JobStarted, events.Detail{}); err != nil {
			t.Fatal(err)
		}
		ids := func(f store.JobFilter) []string {
			t.Helper()
			list, err := st.ListJobs(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, j := range list {
				out = append(out, j.ID)
			}
			return out
		}
		for _, c := range []struct {
			name string
			f    store.JobFilter
			want []string
		}{
			{"all, newest first", store.JobFilter{}, []string{"d-power", "c-power", "b-inspect", "a-power"}},
			{"one server", store.JobFilter{Server: "srv-1"}, []string{"d-power", "b-inspect", "a-power"}},
			{"other server", store.JobFilter{Server: "srv-2"}, []string{"c-power"}},
			{"by type", store.JobFilter{Type: jobs.Inspect}, []string{"b-inspect"}},
			{"by state", store.JobFilter{State: jobs.StateRunning}, []string{"a-power"}},
			{"server and type", store.JobFilter{Server: "srv-1", Type: jobs.Power}, []string{"d-power", "a-power"}},
			{"limit", store.JobFilter{Limit: 2}, []string{"d-power", "c-power"}},
			{"after a cursor", store.JobFilter{Limit: 2, After: "c-power"}, []string{"b-inspect", "a-power"}},
			{"after the last", store.JobFilter{After: "a-power"}, nil},
			{"server after a cursor", store.JobFilter{Server: "srv-1", After: "d-power", Type: jobs.Power}, []string{"a-power"}},
			{"unknown server", store.JobFilter{Server: "srv-9"}, nil},
		} {
			if got := ids(c.f); !slices.Equal(got, c.want) {
				t.Errorf("%s: %v, want %v", c.name, got, c.want)
			}
		}
		if _, err := st.ListJobs(ctx, store.JobFilter{After: "no-such-job"}); jobs.CodeOf(err) != jobs.CodeNotFound {
			t.Errorf("after an unlisted cursor: %v, want not_found", err)
		}
	})
}

// Enrolment refuses a server that exists, naming the id; its inventory is
// not_found until one is stored, then reads back.
func TestEnrolAndInventory(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st *store.Store, ctx context.Context) {
		srv := jobs.Server{ID: "srv-3", BMC: jobs.BMC{Address: "127.0.0.1:1", Provider: jobs.ProviderRedfish}, State: jobs.ServerAvailable}
		if err := st.EnrollServer(ctx, srv, jobs.Credentials{Username: "u", Password: "p"}); err != nil {
			t.Fatal(err)
		}
		err := st.EnrollServer(ctx, srv, jobs.Credentials{Username: "u", Password: "p"})
		if e := jobs.AsError(err); e.Code != jobs.CodeConflict || e.Field != "id" {
			t.Errorf("second enrolment: %v, want conflict naming id", err)
		}
		if _, err := st.Inventory(ctx, "srv-3"); jobs.CodeOf(err) != jobs.CodeNotFound {
			t.Errorf("inventory before any inspect: %v, want not_found", err)
		}
		inv := jobs.Inventory{Vendor: "Acme", Model: "X1"}
		if err := st.SetInventory(ctx, "srv-3", inv); err != nil {
			t.Fatal(err)
		}
		if got, err := st.Inventory(ctx, "srv-3"); err != nil || got.Vendor != "Acme" || got.Model != "X1" {
			t.Errorf("inventory %+v, %v", got, err)
		}
		if err := st.SetInventory(ctx, "srv-9", inv); jobs.CodeOf(err) != jobs.CodeNotFound {
			t.Errorf("inventory of a server not enrolled: %v, want not_found", err)
		}
	})
}

// A lifecycle transition is a compare-and-set: from a state it does not
// list it is a conflict naming the state; the same job asking again changes
// nothing; a job canceled before it ran gives the server back; another
// job's release does nothing.
func TestTransitionServer(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st *store.Store, ctx context.Context) {
		available := []jobs.ServerState{jobs.ServerAvailable}
		got, err := st.TransitionServer(ctx, "srv-1", available, jobs.ServerProvisioning, "p-1", "provision")
		if err != nil || got.State != jobs.ServerProvisioning || got.Job != "p-1" {
			t.Fatalf("claim: %s job %q, %v", got.State, got.Job, err)
		}
		if again, err := st.TransitionServer(ctx, "srv-1", available, jobs.ServerProvisioning, "p-1", "provision"); err != nil || again.Job != "p-1" {
			t.Errorf("the same job again: %+v, %v; want no change and no error", again, err)
		}
		_, err = st.TransitionServer(ctx, "srv-1", available, jobs.ServerProvisioning, "p-2", "provision")
		if jobs.CodeOf(err) != jobs.CodeConflict {
			t.Errorf("a second job's claim: %v, want conflict", err)
		}
		if err := st.ReleaseUnstarted(ctx, "srv-1", "p-2"); err != nil {
			t.Fatal(err)
		}
		if srv, _ := st.Server(ctx, "srv-1"); srv.State != jobs.ServerProvisioning || srv.Job != "p-1" {
			t.Errorf("another job's release moved the server: %s job %q", srv.State, srv.Job)
		}
		if err := st.ReleaseUnstarted(ctx, "srv-1", "p-1"); err != nil {
			t.Fatal(err)
		}
		if srv, _ := st.Server(ctx, "srv-1"); srv.State != jobs.ServerAvailable || srv.Job != "" {
			t.Errorf("after its own job's release: %s job %q, want available", srv.State, srv.Job)
		}
		failed, err := st.TransitionServer(ctx, "srv-2", available, jobs.ServerError, "p-3", "disk on fire")
		if err != nil || failed.LastError == nil || failed.LastError.Reason != "disk on fire" || failed.LastError.JobID != "p-3" {
			t.Errorf("to error: %+v, %v; want the reason and job kept", failed.LastError, err)
		}
	})
}

// A lease names its holder while held and nobody after its release; a
// cancel request is seen by CancelRequested.
func TestLeaseHolderAndCancelFlag(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, st *store.Store, ctx context.Context) {
		l, err := st.AcquireLease(ctx, "srv-1", "job-7", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if owner, err := st.LeaseHolder(ctx, "srv-1"); err != nil || owner != "job-7" {
			t.Errorf("holder %q, %v; want job-7", owner, err)
		}
		if owner, _ := st.LeaseHolder(ctx, "srv-2"); owner != "" {
			t.Errorf("srv-2 held by %q", owner)
		}
		if err := st.ReleaseLease(ctx, l); err != nil {
			t.Fatal(err)
		}
		if owner, _ := st.LeaseHolder(ctx, "srv-1"); owner != "" {
			t.Errorf("held by %q after release", owner)
		}
		req := jobs.Request{ID: "c-1", Type: jobs.Power, Server: "srv-1", Params: []byte(`{"action":"on"}`)}
		job, _, err := st.Accept(ctx, jobs.NewJob(req, 3, time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		job.State = jobs.StateRunning
		if _, err := st.Record(ctx, &job, events.JobStarted, events.Detail{}); err != nil {
			t.Fatal(err)
		}
		if asked, err := st.CancelRequested(ctx, "c-1"); err != nil || asked {
			t.Fatalf("cancel requested before any: %v, %v", asked, err)
		}
		if _, err := st.CancelJob(ctx, "c-1", "ops"); err != nil {
			t.Fatal(err)
		}
		if asked, err := st.CancelRequested(ctx, "c-1"); err != nil || !asked {
			t.Errorf("cancel requested after CancelJob: %v, %v; want true", asked, err)
		}
	})
}
