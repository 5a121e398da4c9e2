package client_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tinmanhq/tinman/client"
	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
	"github.com/tinmanhq/tinman/submit"
)

// followed follows a job of the test binary's Tinman to its end.
func followed(t *testing.T, id, server string) (jobs.State, error) {
	t.Helper()
	_, js := servicetest.JetStream(t, natsURL)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	return client.Follow(ctx, js, client.JobRef{ID: id, Server: server}, nil)
}

// eventsNATS is an embedded NATS of the test's own with Tinman's streams.
func eventsNATS(t *testing.T) jetstream.JetStream {
	t.Helper()
	_, js := servicetest.JetStream(t, servicetest.NATS(t))
	sc := events.DefaultStreamConfig()
	sc.Storage = jetstream.MemoryStorage
	if err := events.EnsureStreams(t.Context(), js, sc); err != nil {
		t.Fatal(err)
	}
	return js
}

// publishJob publishes the events of types for job, numbered from 1.
func publishJob(t *testing.T, js jetstream.JetStream, job jobs.Job, types ...events.Type) {
	t.Helper()
	for i, typ := range types {
		var ev events.Event
		var err error
		if typ == events.RequestRejected {
			ev, err = events.NewRejected("/tinman/dispatcher/test", job.ID, job.Server, []byte(`{}`), jobs.Invalid("params.action", "is required"))
		} else {
			ev, err = events.NewJobEvent("/tinman/worker/test", typ, job, int64(i+1), events.Detail{})
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := events.NewPublisher(js).Publish(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
}

// Follow ends at a job's end, whichever it is, after the events before it,
// in order, and reads no other job's events.
func TestFollowEndsWithTheJob(t *testing.T) {
	t.Parallel()
	js := eventsNATS(t)
	tests := []struct {
		job   jobs.Job
		types []events.Type
		want  jobs.State
	}{
		{jobs.Job{ID: "j-ok", Type: jobs.Power, Server: "srv-1"},
			[]events.Type{events.JobQueued, events.JobStarted, events.JobSucceeded}, jobs.StateSucceeded},
		{jobs.Job{ID: "j-failed", Type: jobs.Power, Server: "srv-1"},
			[]events.Type{events.JobQueued, events.JobStarted, events.JobRetrying, events.JobStarted, events.JobFailed}, jobs.StateFailed},
		{jobs.Job{ID: "j-canceled", Type: jobs.Provision, Server: "srv-2"},
			[]events.Type{events.JobQueued, events.JobCanceled}, jobs.StateCanceled},
		{jobs.Job{ID: "j-rejected", Type: jobs.Power, Server: "srv-2"}, []events.Type{events.RequestRejected}, jobs.StateRejected},
		{jobs.Job{ID: "d-1", Type: jobs.Deploy},
			[]events.Type{events.JobQueued, events.JobStarted, events.DeployBatchStarted, events.DeployHalted, events.JobFailed}, jobs.StateFailed},
	}
	for _, tt := range tests { // every job's events first: each is followed from its history
		publishJob(t, js, tt.job, tt.types...)
	}
	for _, tt := range tests {
		t.Run(tt.job.ID, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			var seen []events.Type
			end, err := client.Follow(ctx, js, client.JobRef{ID: tt.job.ID, Server: tt.job.Server},
				func(ev events.Event) { seen = append(seen, ev.Type) })
			if err != nil || end != tt.want || !slices.Equal(seen, tt.types) {
				t.Errorf("Follow = %q, %v after %v; want %q after %v", end, err, seen, tt.want, tt.types)
			}
		})
	}
}

// Follow waits for the end of a job that has not ended yet, reading from
// just before Since.
func TestFollowWaitsForTheEnd(t *testing.T) {
	t.Parallel()
	js := eventsNATS(t)
	job := jobs.Job{ID: "j-live", Type: jobs.Power, Server: "srv-1"}
	asked := time.Now()
	publishJob(t, js, job, events.JobQueued)
	done := make(chan jobs.State, 1)
	go func() {
		end, err := client.Follow(t.Context(), js, client.JobRef{ID: job.ID, Server: job.Server, Since: asked}, nil)
		if err != nil {
			t.Error(err)
		}
		done <- end
	}()
	select {
	case end := <-done:
		t.Fatalf("Follow ended %q before the job did", end)
	case <-time.After(300 * time.Millisecond):
	}
	publishJob(t, js, job, events.JobQueued, events.JobStarted, events.JobSucceeded) // seq 1 again: a duplicate, dropped
	select {
	case end := <-done:
		if end != jobs.StateSucceeded {
			t.Errorf("Follow ended %q, want succeeded", end)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Follow did not end with the job")
	}
}

// A job that does not end within the caller's context is the context's
// error; a job id is required.
func TestFollowEndsWithItsContext(t *testing.T) {
	t.Parallel()
	js := eventsNATS(t)
	publishJob(t, js, jobs.Job{ID: "j-slow", Type: jobs.Power, Server: "srv-1"}, events.JobQueued, events.JobStarted)
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	end, err := client.Follow(ctx, js, client.JobRef{ID: "j-slow", Server: "srv-1"}, nil)
	if end != "" || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Follow = %q, %v; want the context's deadline", end, err)
	}
	if _, err := client.Follow(t.Context(), js, client.JobRef{Server: "srv-1"}, nil); err == nil {
		t.Error("Follow with no job id did not fail")
	}
}

// Publish puts a request on TINMAN_REQUESTS under its id (a new one when it
// has none), once; a NATS that is gone is submit.ErrUnavailable.
func TestPublish(t *testing.T) {
	t.Parallel()
	nc, js := servicetest.JetStream(t, servicetest.NATS(t))
	if err := events.EnsureStreams(t.Context(), js, events.DefaultStreamConfig()); err != nil {
		t.Fatal(err)
	}
	req := powerRequest("", "srv-1", "on")
	pub, err := client.Publish(t.Context(), js, req)
	if err != nil || !jobs.ValidJobID(pub.JobID) || pub.Duplicate {
		t.Fatalf("Publish = %+v, %v; want a new job id", pub, err)
	}
	req.ID = pub.JobID
	if again, err := client.Publish(t.Context(), js, req); err != nil || again != (client.Published{JobID: pub.JobID, Duplicate: true}) {
		t.Errorf("Publish again = %+v, %v; want the same job, a duplicate", again, err)
	}
	stream, err := js.Stream(t.Context(), events.RequestsStream)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := stream.GetLastMsgForSubject(t.Context(), events.RequestSubject("power"))
	if err != nil || msg.Header.Get("Nats-Msg-Id") != pub.JobID || msg.Sequence != 1 {
		t.Errorf("stored request = %+v, %v; want one, its id %s", msg, err, pub.JobID)
	}
	nc.Close()
	if _, err := client.Publish(t.Context(), js, req); !errors.Is(err, submit.ErrUnavailable) {
		t.Errorf("Publish with NATS closed = %v, want submit.ErrUnavailable", err)
	}
}
