package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/store/storetest"
)

// A submitted record is made once, read back as a job, marked rejected with
// its cause (only while submitted), and removed.
func TestSubmittedRecord(t *testing.T) {
	t.Parallel()
	_, rdb := servicetest.Redis(t)
	st := storetest.Store(t, rdb, nil, store.Config{})
	ctx := testContext(t)
	req := jobs.Request{ID: "sub-1", Type: jobs.Power, Server: "srv-1", Params: []byte(`{"action":"on"}`), RequestedBy: "ops"}
	for i, want := range []bool{true, false} {
		if made, err := st.CreateSubmitted(ctx, req); err != nil || made != want {
			t.Fatalf("CreateSubmitted #%d = %v, %v; want %v", i+1, made, err, want)
		}
	}
	rec, err := st.SubmittedJob(ctx, "sub-1")
	if job := rec.Job(); err != nil || job.State != jobs.StateSubmitted || job.Server != "srv-1" || job.RequestedBy != "ops" {
		t.Fatalf("SubmittedJob = %+v, %v; want the request, submitted", job, err)
	}
	cause := &jobs.Error{Code: jobs.CodeNotFound, Field: "server", Message: "server srv-1 is not enrolled"}
	if err := st.RejectSubmitted(ctx, "sub-1", cause); err != nil {
		t.Fatal(err)
	}
	rec, _ = st.SubmittedJob(ctx, "sub-1")
	if rec.State != jobs.StateRejected || rec.Error == nil || rec.Error.Field != "server" {
		t.Errorf("after RejectSubmitted: %+v, want rejected naming server", rec)
	}
	if err := st.RejectSubmitted(ctx, "never-submitted", cause); err != nil {
		t.Errorf("RejectSubmitted of an id with no record = %v, want nothing done", err)
	}
	if err := st.RemoveSubmitted(ctx, "sub-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SubmittedJob(ctx, "sub-1"); jobs.CodeOf(err) != jobs.CodeNotFound {
		t.Errorf("SubmittedJob after RemoveSubmitted = %v, want not_found", err)
	}
}

// A delivery is claimed once under all its names: a replay that matches
// any one of them (the same id, the same signed body under a new id, the
// same event in another body) finds the first job; the same id from the
// other source is another delivery; a forgotten one can be claimed again.
func TestDeliveries(t *testing.T) {
	t.Parallel()
	_, rdb := servicetest.Redis(t)
	st := storetest.Store(t, rdb, nil, store.Config{})
	ctx := testContext(t)
	first := store.Delivery{Source: store.WebhookGitHub, ID: "d-1", BodySHA256: "aa", Event: "release:o/r:v1"}
	if orig, err := st.ClaimDelivery(ctx, first, "job-a", time.Hour); err != nil || orig != "" {
		t.Fatalf("first claim = %q, %v; want new", orig, err)
	}
	replays := map[string]store.Delivery{
		"same id":              {Source: store.WebhookGitHub, ID: "d-1", BodySHA256: "bb", Event: "release:o/r:v2"},
		"same body, new id":    {Source: store.WebhookGitHub, ID: "d-2", BodySHA256: "aa"},
		"same event, new body": {Source: store.WebhookGitHub, ID: "d-3", BodySHA256: "cc", Event: "release:o/r:v1"},
	}
	for name, d := range replays {
		if orig, err := st.ClaimDelivery(ctx, d, "job-b", time.Hour); err != nil || orig != "job-a" {
			t.Errorf("%s: claim = %q, %v; want job-a", name, orig, err)
		}
		if got, err := st.DeliveryJob(ctx, d); err != nil || got != "job-a" {
			t.Errorf("%s: DeliveryJob = %q, %v; want job-a", name, got, err)
		}
	}
	other := store.Delivery{Source: store.WebhookGeneric, ID: "d-1", BodySHA256: "aa"}
	if orig, err := st.ClaimDelivery(ctx, other, "job-c", time.Hour); err != nil || orig != "" {
		t.Errorf("generic claim of a GitHub delivery's names = %q, %v; want new", orig, err)
	}
	if err := st.ForgetDelivery(ctx, first); err != nil {
		t.Fatal(err)
	}
	if got, err := st.DeliveryJob(ctx, first); err != nil || got != "" {
		t.Errorf("DeliveryJob after ForgetDelivery = %q, %v; want none", got, err)
	}
	for name, d := range map[string]store.Delivery{
		"unknown source":         {Source: "gitlab", ID: "d-1"},
		"no name":                {Source: store.WebhookGitHub},
		"generic event identity": {Source: store.WebhookGeneric, ID: "d-1", Event: "x"},
	} {
		if _, err := st.ClaimDelivery(ctx, d, "job-d", time.Hour); err == nil {
			t.Errorf("%s: claim succeeded", name)
		}
	}
}

// A submitted request is listed with the jobs, newest first, until its job
// record takes its place; a state filter finds it.
func TestListJobsShowsSubmitted(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := testContext(t)
	if _, _, err := e.store.Accept(ctx, newJob("job-old")); err != nil {
		t.Fatal(err)
	}
	req := jobs.Request{ID: "sub-new", Type: jobs.Power, Server: "srv-1", Params: []byte(`{"action":"on"}`)}
	if _, err := e.store.CreateSubmitted(ctx, req); err != nil {
		t.Fatal(err)
	}
	all, err := e.store.ListJobs(ctx, store.JobFilter{})
	if err != nil || len(all) != 2 || all[0].ID != "sub-new" || all[0].State != jobs.StateSubmitted || all[1].ID != "job-old" {
		t.Fatalf("ListJobs = %+v, %v; want sub-new (submitted), then job-old", all, err)
	}
	got, err := e.store.ListJobs(ctx, store.JobFilter{Server: "srv-1", State: jobs.StateSubmitted})
	if err != nil || len(got) != 1 || got[0].ID != "sub-new" {
		t.Errorf("ListJobs(server srv-1, submitted) = %+v, %v; want sub-new", got, err)
	}
}

// The secret key is checked at start: the key that sealed what Redis holds
// passes, another is ErrWrongKey, whether the check finds its own known
// value or only a server's sealed credentials (a deployment from before it).
func TestCheckKey(t *testing.T) {
	t.Parallel()
	_, rdb := servicetest.Redis(t)
	ctx := testContext(t)
	key, other := store.NewKey(), store.NewKey()
	first := storetest.Store(t, rdb, nil, store.Config{SecretKey: key})
	srv := jobs.Server{ID: "srv-1", BMC: jobs.BMC{Address: "127.0.0.1:1", Provider: jobs.ProviderRedfish}}
	if err := first.PutServer(ctx, srv, jobs.Credentials{Username: "u", Password: "p"}); err != nil {
		t.Fatal(err)
	}
	if err := storetest.Store(t, rdb, nil, store.Config{SecretKey: other}).CheckKey(ctx); !errors.Is(err, store.ErrWrongKey) {
		t.Fatalf("CheckKey with another key, before any check = %v, want ErrWrongKey (the server's credentials tell)", err)
	}
	if err := first.CheckKey(ctx); err != nil {
		t.Fatalf("CheckKey with the sealing key = %v", err)
	}
	if err := storetest.Store(t, rdb, nil, store.Config{SecretKey: other}).CheckKey(ctx); !errors.Is(err, store.ErrWrongKey) {
		t.Errorf("CheckKey with another key = %v, want ErrWrongKey", err)
	}
	if err := storetest.Store(t, rdb, nil, store.Config{SecretKey: key}).CheckKey(ctx); err != nil {
		t.Errorf("CheckKey by a second process with the key = %v", err)
	}
}
