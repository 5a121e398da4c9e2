package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/events/eventstest"
	"github.com/tinmanhq/tinman/servicetest"
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

// TestPublishAll publishes events together: each is stored once, in order,
// and each gets its own answer (one on a subject outside the stream fails
// alone).
func TestPublishAll(t *testing.T) {
	t.Parallel()
	e := setup(t)
	var raws []events.Raw
	for seq := int64(1); seq <= 5; seq++ {
		ev := eventstest.JobEvent(t, events.JobProgress, "job-1", "srv-1", seq)
		data, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, events.Raw{Subject: ev.NATSSubject(), ID: ev.ID, Data: data})
	}
	bad := events.Raw{Subject: "tinman.requests.power", ID: "x-1", Data: []byte(`{}`)}
	batch := []events.Raw{raws[0], raws[1], bad, raws[2], raws[0]}
	errs := e.pub.PublishAll(eventstest.Context(t), batch)
	for i, err := range errs {
		if (err != nil) != (i == 2) {
			t.Errorf("event %d (%s): %v", i, batch[i].ID, err)
		}
	}
	if errs := e.pub.PublishAll(eventstest.Context(t), raws[3:]); errs[0] != nil || errs[1] != nil {
		t.Fatalf("second batch: %v", errs)
	}
	got := eventstest.IDs(eventstest.Stored(t, e.js))
	var want []string
	for _, r := range raws {
		want = append(want, r.ID)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("stream holds %v, want %v", got, want)
	}
}

// BenchmarkPublish is the CPU of an event's publish, NATS's included (it
// runs in this process): one at a time, each ack awaited before the next;
// from 64 goroutines, each awaiting its own ack (how a worker's jobs send
// their events: the client writes what they publish together); and 16 at
// once, their acks awaited together (how the dispatcher sends the queued
// events of a batch).
func BenchmarkPublish(b *testing.B) {
	for _, c := range []struct {
		name       string
		n          int
		concurrent bool
	}{{"alone", 1, false}, {"64-goroutines-each-alone", 1, true}, {"together-16", 16, false}} {
		n, concurrent := c.n, c.concurrent
		b.Run(c.name, func(b *testing.B) {
			_, js := servicetest.JetStream(b, servicetest.NATS(b))
			eventstest.Streams(b, js, jetstream.FileStorage)
			pub := events.NewPublisher(js)
			ev := eventstest.JobEvent(b, events.JobStarted, "job-1", "srv-1", 2)
			data, err := json.Marshal(ev)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			batch := make([]events.Raw, n)
			var ru0 syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			b.ResetTimer()
			if n == 1 && concurrent {
				var next atomic.Int64
				b.SetParallelism(32) // 64 goroutines on 2 cores, as a worker's jobs
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := pub.PublishRaw(ctx, ev.NATSSubject(), fmt.Sprintf("ev-%d", next.Add(1)), data); err != nil {
							b.Error(err)
						}
					}
				})
			}
			for i := 0; i < b.N && !concurrent; i += n {
				for j := range batch {
					batch[j] = events.Raw{Subject: ev.NATSSubject(), ID: fmt.Sprintf("ev-%d", i+j), Data: data}
				}
				if n == 1 {
					err = pub.PublishRaw(ctx, batch[0].Subject, batch[0].ID, data)
				} else {
					err = errors.Join(pub.PublishAll(ctx, batch)...)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			var ru syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
			cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/event")
		})
	}
}
