package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/events/eventstest"
	"github.com/tinmanhq/tinman/natsembed"
	"github.com/tinmanhq/tinman/servicetest"
)

// Events appended while NATS is down stay staged in Redis, and the sweep
// publishes them, in order, once and only once, when NATS is back on the
// same port and store. A client that buffers while it reconnects sends the
// head event again on reconnect, so JetStream's dedupe is part of the test;
// one that refuses to buffer fails each publish at once.
func TestOutboxSurvivesNATSOutage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		bufSize int           // the client's reconnect buffer; -1: none
		timeout time.Duration // of each Send while NATS is down
	}{
		{"client buffers while reconnecting", nats.DefaultReconnectBufSize, 1500 * time.Millisecond},
		{"client refuses while reconnecting", -1, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			srv := servicetest.EmbeddedNATS(t, dir)
			port := srv.Port() // known only while it runs
			js := reconnectingJetStream(t, srv.URL(), tt.bufSize)
			eventstest.Streams(t, js, jetstream.FileStorage)
			_, rdb := servicetest.Redis(t)
			ob := newOutbox(t, rdb, events.NewPublisher(js), OutboxConfig{})
			jobIDs := []string{"job-a", "job-b"}
			const before, total = 2, 4

			emit(t, ob, jobIDs, 1, before, false, 30*time.Second)
			srv.Shutdown()
			emit(t, ob, jobIDs, before+1, total, true, tt.timeout)
			if p, err := ob.Pending(eventstest.Context(t)); err != nil || p != int64(len(jobIDs)) {
				t.Fatalf("Pending() during the outage = %d, %v; want %d", p, err, len(jobIDs))
			}

			restarted, err := natsembed.Start(natsembed.Config{Port: port, StoreDir: dir, Name: "test"})
			if err != nil {
				t.Fatalf("restart NATS on port %d: %v", port, err)
			}
			t.Cleanup(restarted.Shutdown)
			sweepUntilDone(t, ob)

			got := eventstest.Stored(t, js)
			if len(got) != len(jobIDs)*total {
				t.Fatalf("stream holds %d events %v, want %d", len(got), eventstest.IDs(got), len(jobIDs)*total)
			}
			for _, job := range jobIDs {
				checkSeqs(t, ofJob(got, job), job, total)
			}
		})
	}
}

func reconnectingJetStream(t *testing.T, url string, bufSize int) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond), nats.ReconnectBufSize(bufSize))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// emit appends and sends seq from..to of every job, in turn. With NATS down
// each Send must leave its event staged and fail to publish.
func emit(t *testing.T, ob *Outbox, jobIDs []string, from, to int64, down bool, timeout time.Duration) {
	t.Helper()
	for seq := from; seq <= to; seq++ {
		for _, job := range jobIDs {
			staged := mustAppend(eventstest.Context(t), t, ob, job, seq)
			ctx, cancel := context.WithTimeout(t.Context(), timeout)
			err := ob.send(ctx, staged)
			cancel()
			switch {
			case down && (err == nil || !strings.HasPrefix(err.Error(), "publish event ")):
				t.Fatalf("Send %s.%d with NATS down = %v, want it staged and a publish error", job, seq, err)
			case !down && err != nil:
				t.Fatalf("Send %s.%d: %v", job, seq, err)
			}
		}
	}
}

// sweepUntilDone sweeps until nothing is pending, while the client reconnects.
func sweepUntilDone(t *testing.T, ob *Outbox) {
	t.Helper()
	ctx := eventstest.Context(t)
	var err error
	for ctx.Err() == nil {
		err = ob.Sweep(ctx)
		p, perr := ob.Pending(ctx)
		if err == nil && perr == nil && p == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("outbox still pending after a minute of sweeps: %v", err)
}

func ofJob(ds []events.Delivered, job string) []events.Delivered {
	var out []events.Delivered
	for _, d := range ds {
		if data, err := d.JobData(); err == nil && data.JobID == job {
			out = append(out, d)
		}
	}
	return out
}
