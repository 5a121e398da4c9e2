package store_test

import (
	"testing"
	"time"

	"github.com/tinmanhq/tinman/jobs"
)

func TestCancelBeforeItRanGivesTheServerBack(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := testContext(t)
	srv := jobs.Server{ID: "srv-1", BMC: jobs.BMC{Address: "10.0.0.1", Provider: jobs.ProviderIPMI}, State: jobs.ServerActive}
	if err := e.store.PutServer(ctx, srv, jobs.Credentials{Username: "u", Password: "p"}); err != nil {
		t.Fatal(err)
	}
	// As the dispatcher does: claim the server, then accept the job.
	if _, err := e.store.TransitionServer(ctx, "srv-1", []jobs.ServerState{jobs.ServerActive}, jobs.ServerProvisioning, "p-1", "provision requested"); err != nil {
		t.Fatal(err)
	}
	req := jobs.Request{ID: "p-1", Type: jobs.Provision, Server: "srv-1", Params: []byte(`{"image":"x"}`)}
	if _, _, err := e.store.Accept(ctx, jobs.NewJob(req, 3, time.Now())); err != nil {
		t.Fatal(err)
	}
	job, err := e.store.CancelJob(ctx, "p-1", "ops")
	if err != nil || job.State != jobs.StateCanceled {
		t.Fatalf("cancel: %s %v, want canceled", job.State, err)
	}
	got, _ := e.store.Server(ctx, "srv-1")
	if got.State != jobs.ServerActive || got.Job != "" {
		t.Errorf("server %s (job %q) after its queued provision was canceled, want active again", got.State, got.Job)
	}
	// A re-enrolment keeps the server's event numbering going.
	if err := e.store.PutServer(ctx, got, jobs.Credentials{Username: "u", Password: "p"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.TransitionServer(ctx, "srv-1", []jobs.ServerState{jobs.ServerActive}, jobs.ServerDeprovisioning, "d-1", ""); err != nil {
		t.Fatal(err)
	}
	evs := published(t, e, "d-1")
	if len(evs) != 1 || evs[0].ID != "server.srv-1.3" {
		t.Errorf("the state change after re-enrolment: %v, want one event server.srv-1.3 (1 claim, 2 release, 3 this)", evs)
	}
}
