package submit_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/natsembed"
	"github.com/tinmanhq/tinman/servicetest"
	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/store/storetest"
	"github.com/tinmanhq/tinman/submit"
)

type env struct {
	nats  *natsembed.Server
	js    jetstream.JetStream
	rdb   redis.UniversalClient
	store *store.Store
	sub   *submit.Submitter
}

// setup is a Submitter on a private JetStream with the Tinman streams,
// recording in a Redis database of the test's own.
func setup(t *testing.T) env {
	t.Helper()
	srv := servicetest.EmbeddedNATS(t, t.TempDir())
	_, js := servicetest.JetStream(t, srv.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sc := events.DefaultStreamConfig()
	sc.Storage = jetstream.MemoryStorage
	if err := events.EnsureStreams(ctx, js, sc); err != nil {
		t.Fatal(err)
	}
	_, rdb := servicetest.Redis(t)
	st := storetest.Store(t, rdb, nil, store.Config{})
	sub, err := submit.New(js, submit.Config{Timeout: 2 * time.Second, Recorder: st})
	if err != nil {
		t.Fatal(err)
	}
	return env{nats: srv, js: js, rdb: rdb, store: st, sub: sub}
}

var powerOn = jobs.Request{ID: "sub-1", Type: jobs.Power, Server: "srv-1", Params: []byte(`{"action":"on"}`)}

// requests returns the ids of the requests stored, in order.
func requests(t *testing.T, js jetstream.JetStream) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, events.RequestsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		msg, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, msg.Header.Get(jetstream.MsgIDHeader))
	}
	return ids
}

// Submit records the request, then publishes it once with its id as
// Nats-Msg-Id; a second submission finds the record and is a duplicate.
func TestSubmit(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	for i, want := range []bool{true, false} {
		created, err := e.sub.Submit(ctx, powerOn, nil)
		if err != nil || created != want {
			t.Fatalf("Submit #%d = %v, %v; want created %v", i+1, created, err, want)
		}
	}
	if got := requests(t, e.js); len(got) != 1 || got[0] != "sub-1" {
		t.Errorf("stored requests %v, want sub-1 once", got)
	}
	if rec, err := e.store.SubmittedJob(ctx, "sub-1"); err != nil || rec.State != jobs.StateSubmitted {
		t.Errorf("submitted record %+v, %v; want submitted", rec, err)
	}
}

// A refusal by admit publishes nothing and leaves no record this call made.
func TestSubmitAdmitRefuses(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	refused := errors.New("not this one")
	if _, err := e.sub.Submit(ctx, powerOn, func(bool) error { return refused }); !errors.Is(err, refused) {
		t.Fatalf("Submit = %v, want admit's refusal", err)
	}
	if got := requests(t, e.js); len(got) != 0 {
		t.Errorf("stored requests %v, want none", got)
	}
	if _, err := e.store.SubmittedJob(ctx, "sub-1"); jobs.CodeOf(err) != jobs.CodeNotFound {
		t.Errorf("submitted record after a refusal: %v, want none", err)
	}
}

// With NATS down nothing is accepted: the error wraps ErrUnavailable, and
// the record made for the request is removed again.
func TestSubmitNATSDown(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.nats.Shutdown()
	ctx := context.Background()
	if _, err := e.sub.Submit(ctx, powerOn, nil); !errors.Is(err, submit.ErrUnavailable) {
		t.Fatalf("Submit with NATS down = %v, want ErrUnavailable", err)
	}
	if _, err := e.store.SubmittedJob(ctx, "sub-1"); jobs.CodeOf(err) != jobs.CodeNotFound {
		t.Errorf("submitted record after a failed publish: %v, want none", err)
	}
}

// Publish alone (a client with no Redis) reports JetStream's duplicates.
func TestPublishReportsDuplicates(t *testing.T) {
	t.Parallel()
	e := setup(t)
	pub, err := submit.New(e.js, submit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{false, true} {
		dup, err := pub.Publish(context.Background(), powerOn)
		if err != nil || dup != want {
			t.Errorf("Publish #%d = duplicate %v, %v; want %v", i+1, dup, err, want)
		}
	}
}

func TestNewRefusesNonsense(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for name, tc := range map[string]struct {
		js  jetstream.JetStream
		cfg submit.Config
	}{
		"no JetStream":     {nil, submit.Config{}},
		"negative timeout": {e.js, submit.Config{Timeout: -time.Second}},
	} {
		if _, err := submit.New(tc.js, tc.cfg); !errors.Is(err, submit.ErrInvalidConfig) {
			t.Errorf("%s: New = %v, want ErrInvalidConfig", name, err)
		}
	}
}

// SubmitAll records and publishes many requests at once: each is stored
// once (one already submitted is a duplicate, not an error), and each has
// its record, also when Redis had lost its scripts.
func TestSubmitAll(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	if _, err := e.sub.Submit(ctx, powerOn, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	reqs := []jobs.Request{powerOn}
	for i := range 300 {
		req := powerOn
		req.ID = fmt.Sprintf("sub-all-%03d", i)
		reqs = append(reqs, req)
	}
	for i, err := range e.sub.SubmitAll(ctx, reqs) {
		if err != nil {
			t.Errorf("request %s: %v", reqs[i].ID, err)
		}
	}
	if got := requests(t, e.js); len(got) != len(reqs) || !slices.Equal(slices.Sorted(slices.Values(got)), ids(reqs)) {
		t.Errorf("stored %d requests, want each of the %d once", len(got), len(reqs))
	}
	for _, req := range reqs {
		if rec, err := e.store.SubmittedJob(ctx, req.ID); err != nil || rec.State != jobs.StateSubmitted {
			t.Fatalf("submitted record of %s: %+v, %v", req.ID, rec, err)
		}
	}
}

// With NATS down SubmitAll accepts nothing: every error wraps
// ErrUnavailable, and no record it made is left.
func TestSubmitAllNATSDown(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.nats.Shutdown()
	ctx := context.Background()
	reqs := []jobs.Request{powerOn, {ID: "sub-2", Type: jobs.Power, Server: "srv-2", Params: []byte(`{"action":"on"}`)}}
	for i, err := range e.sub.SubmitAll(ctx, reqs) {
		if !errors.Is(err, submit.ErrUnavailable) {
			t.Errorf("request %s with NATS down: %v, want ErrUnavailable", reqs[i].ID, err)
		}
		if _, err := e.store.SubmittedJob(ctx, reqs[i].ID); jobs.CodeOf(err) != jobs.CodeNotFound {
			t.Errorf("submitted record of %s after a failed publish: %v, want none", reqs[i].ID, err)
		}
	}
}

func ids(reqs []jobs.Request) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.ID
	}
	slices.Sort(out)
	return out
}
