package events_test

import (
	"testing"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/events/eventstest"
)

func TestPublisherDedupe(t *testing.T) {
	t.Parallel()
	e := setup(t)
	first := eventstest.JobEvent(t, events.JobQueued, "job-1", "srv-1", 1)
	eventstest.Publish(t, e.pub, first, first)
	again := first
	again.Source = "/tinman/elsewhere" // a re-publish after a crash is the same id
	eventstest.Publish(t, e.pub, again)
	second := eventstest.JobEvent(t, events.JobStarted, "job-1", "srv-1", 2)
	eventstest.Publish(t, e.pub, second)
	got := eventstest.Stored(t, e.js)
	if len(got) != 2 || got[0].ID != first.ID || got[1].ID != second.ID || got[0].Source != source {
		t.Fatalf("stream holds %v, want [%s %s] once each", eventstest.IDs(got), first.ID, second.ID)
	}
	msg, err := eventstest.Stream(t, e.js).GetMsg(eventstest.Context(t), got[0].StreamSeq)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "tinman.events.srv-1.job.queued" || msg.Header.Get("Content-Type") != "application/cloudevents+json" ||
		msg.Header.Get("Nats-Msg-Id") != first.ID {
		t.Errorf("message subject %q headers %v", msg.Subject, msg.Header)
	}
}

func TestPublisherRefusesSubjectOutsideStream(t *testing.T) {
	t.Parallel()
	e := setup(t)
	err := e.pub.PublishRaw(eventstest.Context(t), "tinman.requests.power", "x-1", []byte(`{}`))
	if err == nil {
		t.Fatal("PublishRaw on a request subject = nil, want an error: events go to TINMAN_EVENTS only")
	}
	if n := len(eventstest.Stored(t, e.js)); n != 0 {
		t.Errorf("events stream holds %d messages", n)
	}
}
