package dispatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/dispatch"
	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/schemas"
	"github.com/tinmanhq/tinman/servicetest"
	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/store/storetest"
)

type env struct {
	js    jetstream.JetStream
	rdb   *redis.Client
	store *store.Store
	insp  *asynq.Inspector
}

// setup runs a real dispatcher on real NATS and Redis until the test ends.
func setup(t *testing.T) *env {
	t.Helper()
	e, start := setupStopped(t, dispatch.DefaultConfig())
	start()
	return e
}

// setupStopped is setup with cfg, whose dispatcher runs once start is called.
func setupStopped(t *testing.T, cfg dispatch.Config) (*env, func()) {
	t.Helper()
	_, rdb := servicetest.Redis(t)
	_, js := servicetest.JetStream(t, servicetest.NATS(t))
	ctx, cancel := context.WithCancel(context.Background())
	if err := events.EnsureStreams(ctx, js, events.DefaultStreamConfig()); err != nil {
		t.Fatal(err)
	}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	st := storetest.Store(t, rdb, storetest.Outbox(t, rdb, events.NewPublisher(js), store.OutboxConfig{}), store.Config{Logger: log})
	srv := jobs.Server{ID: "s1", BMC: jobs.BMC{Address: "127.0.0.1:1", Provider: jobs.ProviderIPMI}}
	if err := st.PutServer(ctx, srv, jobs.Credentials{Username: "u", Password: "p"}); err != nil {
		t.Fatal(err)
	}
	v, err := schemas.New()
	if err != nil {
		t.Fatal(err)
	}
	q := asynq.NewClientFromRedisClient(rdb)
	cfg.Logger, cfg.NakDelay = log, 50*time.Millisecond
	d, err := dispatch.New(js, st, q, v, cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("dispatcher: %v", err)
			}
		default: // never started
		}
		_ = q.Close()
	})
	start := func() {
		go func() { done <- d.Run(ctx) }()
	}
	return &env{js: js, rdb: rdb, store: st, insp: asynq.NewInspectorFromRedisClient(rdb)}, start
}

// task waits for the job's task: the queued event is published before the
// enqueue, so that no watcher sees started before queued.
func (e *env) task(t *testing.T, id string) *asynq.TaskInfo {
	t.Helper()
	var err error
	for range 200 {
		var info *asynq.TaskInfo
		if info, err = e.insp.GetTaskInfo("default", id); err == nil {
			return info
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("task %s: %v", id, err)
	return nil
}

// end records job id's end, in state with its event of type typ, as a
// worker would, and takes its task off the queue.
func (e *env) end(t *testing.T, id string, state jobs.State, typ events.Type) {
	t.Helper()
	ctx := context.Background()
	job, err := e.store.Job(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	job.State = state
	if _, err := e.store.Record(ctx, &job, typ, events.Detail{}); err != nil {
		t.Fatal(err)
	}
	if err := e.insp.DeleteTask("default", id); err != nil {
		t.Fatal(err)
	}
}

func (e *env) publish(t *testing.T, subject, msgID, body string) {
	t.Helper()
	msg := &nats.Msg{Subject: subject, Data: []byte(body), Header: nats.Header{}}
	var opts []jetstream.PublishOpt
	if msgID != "" {
		opts = append(opts, jetstream.WithMsgID(msgID))
	}
	if _, err := e.js.PublishMsg(context.Background(), msg, opts...); err != nil {
		t.Fatal(err)
	}
}

// next returns the next event matching f.
func (e *env) next(t *testing.T, f events.Filter) events.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got events.Event
	f.Since = time.Hour
	err := events.NewWatcher(e.js).Watch(ctx, f, func(d events.Delivered) error {
		got = d.Event
		return events.ErrStopWatching
	})
	if err != nil {
		t.Fatalf("no event matching %+v: %v", f, err)
	}
	return got
}

func TestDispatchAssignsJobIDs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, msgID, body, wantID string
	}{
		{"id in body", "", `{"id":"body-id","type":"power","server":"s1","params":{"action":"on"}}`, "body-id"},
		{"id from Nats-Msg-Id", "header-id", `{"type":"power","server":"s1","params":{"action":"on"}}`, "header-id"},
		{"type from subject", "typeless", `{"server":"s1","params":{"action":"off"}}`, "typeless"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			e.publish(t, "tinman.requests.power", tt.msgID, tt.body)
			ev := e.next(t, events.Filter{Type: "job.queued"})
			d, _ := ev.JobData()
			if d.JobID != tt.wantID || d.Seq != 1 || d.JobType != jobs.Power {
				t.Errorf("queued %s, want job %s power seq 1", ev.Data, tt.wantID)
			}
			if info := e.task(t, tt.wantID); info.Type != "power" || info.Timeout != 5*time.Minute {
				t.Errorf("task %+v, want type power with a 5 min timeout", info)
			}
			if job, err := e.store.Job(context.Background(), tt.wantID); err != nil || job.MaxAttempts != 5 {
				t.Errorf("job %+v (%v), want 5 attempts", job, err)
			}
		})
	}
}

func TestDispatchDerivesAnIDForAnonymousRequests(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.publish(t, "tinman.requests.power", "", `{"server":"s1","params":{"action":"on"}}`)
	d, _ := e.next(t, events.Filter{Type: "job.queued"}).JobData()
	if !jobs.ValidJobID(d.JobID) || len(d.JobID) != 26 {
		t.Errorf("derived id %q, want a ULID", d.JobID)
	}
	if _, err := e.store.Job(context.Background(), d.JobID); err != nil {
		t.Errorf("job record of %s: %v", d.JobID, err)
	}
}

func TestDispatchRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, subject, msgID, body, field string
	}{
		{"bad action", "tinman.requests.power", "", `{"type":"power","server":"s1","params":{"action":"explode"}}`, "params.action"},
		{"action given twice", "tinman.requests.power", "", `{"type":"power","server":"s1","params":{"action":"status","action":"off"}}`, "params.action"},
		{"type differs from subject", "tinman.requests.inspect", "", `{"type":"power","server":"s1","params":{"action":"on"}}`, "type"},
		{"id differs from Nats-Msg-Id", "tinman.requests.power", "other", `{"id":"mine","type":"power","server":"s1","params":{"action":"on"}}`, "id"},
		{"not JSON", "tinman.requests.power", "", `power on s1 please`, ""},
		{"unknown type", "tinman.requests.reboot", "", `{"server":"s1"}`, "type"},
		{"server not enrolled", "tinman.requests.power", "", `{"type":"power","server":"s9","params":{"action":"on"}}`, "server"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			e.publish(t, tt.subject, tt.msgID, tt.body)
			ev := e.next(t, events.Filter{Type: "request.rejected"})
			var d events.RejectedData
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				t.Fatal(err)
			}
			if d.Error == nil || d.Error.Field != tt.field || d.Error.Retryable {
				t.Errorf("rejection %s, want field %q", ev.Data, tt.field)
			}
			if d.Request == nil && !strings.Contains(d.RequestText, "please") {
				t.Errorf("rejection lost the original request: %s", ev.Data)
			}
			queues, _ := e.insp.Queues()
			for _, q := range queues {
				if info, _ := e.insp.GetQueueInfo(q); info != nil && info.Size > 0 {
					t.Errorf("queue %s holds %d tasks after a rejection", q, info.Size)
				}
			}
			waitTerminated(t, e.js)
		})
	}
}

// waitTerminated waits until the dispatcher consumer has nothing pending:
// the rejected request was terminated, not left for redelivery.
func waitTerminated(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	for range 100 {
		c, err := js.Consumer(context.Background(), events.RequestsStream, "tinman-dispatcher")
		if err == nil {
			if info, err := c.Info(context.Background()); err == nil && info.NumAckPending == 0 && info.NumPending == 0 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Error("the rejected request is still pending on the consumer")
}

func TestDispatchDuplicateAfterTheJobRan(t *testing.T) {
	t.Parallel()
	e := setup(t)
	body := `{"id":"ran","type":"power","server":"s1","params":{"action":"on"}}`
	e.publish(t, "tinman.requests.power", "", body)
	e.next(t, events.Filter{Job: "ran", Type: "job.queued"})
	e.task(t, "ran")
	// The job ran to its end; its task is gone from the queue.
	e.end(t, "ran", jobs.StateSucceeded, events.JobSucceeded)
	e.publish(t, "tinman.requests.power", "", body)
	waitTerminated(t, e.js)
	if _, err := e.insp.GetTaskInfo("default", "ran"); !errors.Is(err, asynq.ErrTaskNotFound) {
		t.Errorf("a duplicate of a finished job was enqueued again: %v", err)
	}
}

// A request submitted through the API (or any submitter that writes a
// submitted record) and refused by the dispatcher is marked rejected on its
// record by the dispatcher itself, with the cause, before the rejection
// event goes out: a reader never sees it submitted for ever.
func TestDispatchMarksSubmittedRecordRejected(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	req := jobs.Request{ID: "sub-refused", Type: jobs.Power, Server: "s9", Params: []byte(`{"action":"on"}`)}
	if _, err := e.store.CreateSubmitted(ctx, req); err != nil {
		t.Fatal(err)
	}
	e.publish(t, "tinman.requests.power", "sub-refused", `{"id":"sub-refused","type":"power","server":"s9","params":{"action":"on"}}`)
	e.next(t, events.Filter{Type: "request.rejected"})
	rec, err := e.store.SubmittedJob(ctx, "sub-refused")
	if err != nil || rec.State != jobs.StateRejected || rec.Error == nil || rec.Error.Field != "server" {
		t.Fatalf("submitted record after the rejection: %+v, %v; want rejected naming server", rec, err)
	}
}

// TestDispatchBatchEndsEachRequestOnItsOwn hands the dispatcher requests
// waiting together, so that they are handled in one batch: each valid one
// is queued, each refused one rejected naming its own field, and a job id
// given twice queued once.
func TestDispatchBatchEndsEachRequestOnItsOwn(t *testing.T) {
	t.Parallel()
	cfg := dispatch.DefaultConfig()
	cfg.BatchSize = 32
	e, start := setupStopped(t, cfg)
	var valid []string
	for i := range 10 {
		id := fmt.Sprintf("b-%d", i)
		valid = append(valid, id)
		e.publish(t, "tinman.requests.power", "", `{"id":"`+id+`","type":"power","server":"s1","params":{"action":"status"}}`)
		if i == 4 {
			e.publish(t, "tinman.requests.power", "", `{"id":"b-unknown","type":"power","server":"s9","params":{"action":"on"}}`)
			e.publish(t, "tinman.requests.power", "b-bad", `{"id":"b-bad","type":"power","server":"s1","params":{"action":"explode"}}`)
			e.publish(t, "tinman.requests.power", "", `{"id":"b-twice","type":"power","server":"s1","params":{"action":"on"}}`)
			e.publish(t, "tinman.requests.power", "", `{"id":"b-twice","type":"power","server":"s1","params":{"action":"on"}}`)
		}
	}
	start()
	waitTerminated(t, e.js)
	for _, id := range append(valid, "b-twice") {
		e.task(t, id)
		if job, err := e.store.Job(context.Background(), id); err != nil || job.Seq != 1 || job.State != jobs.StateQueued {
			t.Errorf("job %s: %+v (%v), want queued at seq 1", id, job, err)
		}
	}
	for id, field := range map[string]string{"b-unknown": "server", "b-bad": "params.action"} {
		ev := e.next(t, events.Filter{Job: id, Type: "request.rejected"})
		var d events.RejectedData
		if err := json.Unmarshal(ev.Data, &d); err != nil || d.Error == nil || d.Error.Field != field {
			t.Errorf("rejection of %s: %s (%v), want field %s", id, ev.Data, err, field)
		}
		if _, err := e.insp.GetTaskInfo("default", id); !errors.Is(err, asynq.ErrTaskNotFound) {
			t.Errorf("refused request %s has a task: %v", id, err)
		}
	}
	queued := 0
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := events.NewWatcher(e.js).Watch(ctx, events.Filter{Type: "job.queued", Since: time.Hour}, func(d events.Delivered) error {
		if queued++; queued == len(valid)+1 {
			return events.ErrStopWatching
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%d queued events, want %d: %v", queued, len(valid)+1, err)
	}
}
