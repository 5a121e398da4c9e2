package dispatch_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/jobs"
)

// rejection submits req as the API does and returns the error its
// submitted record is marked rejected with.
func (e *env) rejection(t *testing.T, req jobs.Request) *jobs.Error {
	t.Helper()
	ctx := context.Background()
	if _, err := e.store.CreateSubmitted(ctx, req); err != nil {
		t.Fatal(err)
	}
	e.publish(t, "tinman.requests.deploy", req.ID, `{"id":"`+req.ID+`","type":"deploy","params":`+string(req.Params)+`}`)
	for range 400 {
		rec, err := e.store.SubmittedJob(ctx, req.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rec.State == jobs.StateRejected {
			return rec.Error
		}
		if _, err := e.store.Job(ctx, req.ID); err == nil {
			t.Fatalf("deploy %s was accepted, want it rejected", req.ID)
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("deploy %s neither accepted nor rejected", req.ID)
	return nil
}

// recorded waits until job id is recorded.
func (e *env) recorded(t *testing.T, id string) {
	t.Helper()
	var err error
	for range 400 {
		if _, err = e.store.Job(context.Background(), id); err == nil {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("job %s: %v", id, err)
}

// A deploy holds its servers from its admission: a second deploy on any of
// them is refused, naming the first; a batch size past the bound and a
// selector that matches nothing are refused naming their field.
func TestDispatchAdmitsDeploys(t *testing.T) {
	t.Parallel()
	e := setup(t)
	img := jobs.Image{Name: "img", KernelURL: "u/vmlinuz", InitrdURL: "u/initrd.img", ISOURL: "u/installer.iso",
		ImageURL: "u/disk.img", SHA256: strings.Repeat("aa", 32)}
	if _, err := e.store.AddImage(context.Background(), img); err != nil {
		t.Fatal(err)
	}
	e.publish(t, "tinman.requests.deploy", "dep-1", `{"id":"dep-1","type":"deploy","params":{"image":"img","servers":["s1"]}}`)
	e.recorded(t, "dep-1")
	for _, tt := range []struct {
		id, params, field, want string
	}{
		{"dep-2", `{"image":"img","servers":["s1"]}`, "params.servers", "server s1 is held by deploy dep-1, which is queued"},
		{"dep-3", `{"image":"img","selector":{"id":"s1"}}`, "params.selector", "matches no enrolled server: id=s1"},
		{"dep-4", `{"image":"img","servers":["s2"],"batch_size":1001}`, "params.batch_size", "is 1001, more than this deployment's bound of 1000"},
	} {
		got := e.rejection(t, jobs.Request{ID: tt.id, Type: jobs.Deploy, Params: []byte(tt.params)})
		if got == nil || got.Field != tt.field || !strings.Contains(got.Message, tt.want) {
			t.Errorf("%s rejected with %+v, want field %s and %q", tt.id, got, tt.field, tt.want)
		}
	}
}
