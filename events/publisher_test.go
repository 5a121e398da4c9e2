package events_test

import (
	"testing"

	"github.com/tinmanhq/tinman/events"
)

func TestPublisherDedupe(t *testing.T) {
	t.Parallel()
	e := setup(t)
	first := jobEvent(t, events.JobQueued, "job-1", "srv-1", 1)
	publish(t, e.pub, first, first)
	again := first
	again.Source = "/tinman/elsewhere" // a re-publish after a crash is the same id
	publish(t, e.pub, again)
	second := jobEvent(t, events.JobStarted, "job-1", "srv-1", 2)
	publish(t, e.pub, second)
	got := stored(t, e.js)
	if len(got) != 2 || got[0].ID != first.ID || got[1].ID != second.ID || got[0].Source != source {
		t.Fatalf("stream holds %v, want [%s %s] once each", ids(got), first.ID, second.ID)
	}
	msg, err := mustStream(t, e).GetMsg(testContext(t), got[0].StreamSeq)
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
	err := e.pub.PublishRaw(testContext(t), "tinman.requests.power", "x-1", []byte(`{}`))
	if err == nil {
		t.Fatal("PublishRaw on a request subject = nil, want an error: events go to TINMAN_EVENTS only")
	}
	if n := len(stored(t, e.js)); n != 0 {
		t.Errorf("events stream holds %d messages", n)
	}
}
