package callback_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/callback"
	"github.com/tinmanhq/tinman/events"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/servicetest"
	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/store/storetest"
)

// waker records the tasks it was asked to run.
type waker struct {
	mu  sync.Mutex
	ran []string
}

func (w *waker) RunTask(queue, id string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ran = append(w.ran, queue+"/"+id)
	return nil
}

type env struct {
	js   jetstream.JetStream
	st   *store.Store
	recv *callback.Receiver
	wake *waker
	mux  *http.ServeMux
}

func setup(t *testing.T) *env {
	t.Helper()
	_, rdb := servicetest.Redis(t)
	_, js := servicetest.JetStream(t, servicetest.NATS(t))
	ctx := context.Background()
	if err := events.EnsureStreams(ctx, js, events.DefaultStreamConfig()); err != nil {
		t.Fatal(err)
	}
	st := storetest.Store(t, rdb, storetest.Outbox(t, rdb, events.NewPublisher(js), store.OutboxConfig{}), store.Config{})
	req := jobs.Request{ID: "prov-1", Type: jobs.Provision, Server: "srv-1", Params: []byte(`{"image":"x"}`)}
	if _, _, err := st.Accept(ctx, jobs.NewJob(req, 3, time.Now())); err != nil {
		t.Fatal(err)
	}
	if err := st.SetBootConfig(ctx, store.BootConfig{Server: "srv-1", JobID: "prov-1", Purpose: "install",
		Token: "s3cret-token", Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	w := &waker{}
	r := callback.NewReceiver(st, w, zerolog.Nop())
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/servers/{id}/callbacks", r.ServeCallback)
	return &env{js: js, st: st, recv: r, wake: w, mux: mux}
}

func (e *env) post(server, body string) int {
	code, _ := e.postField(server, body)
	return code
}

// postField posts a report; it returns the status and the field a
// problem names.
func (e *env) postField(server, body string) (int, string) {
	rec := httptest.NewRecorder()
	e.mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/servers/"+server+"/callbacks", bytes.NewBufferString(body)))
	var p struct {
		Field string `json:"field"`
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &p)
	return rec.Code, p.Field
}

func TestCallbackHTTP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, server, body string
		want               int
		recorded           bool
	}{
		{"right token", "srv-1", `{"job_id":"prov-1","token":"s3cret-token","event":"installed"}`, 204, true},
		{"wrong token", "srv-1", `{"job_id":"prov-1","token":"guess","event":"installed"}`, 401, false},
		{"another job", "srv-1", `{"job_id":"prov-9","token":"s3cret-token","event":"installed"}`, 401, false},
		{"another server", "srv-2", `{"job_id":"prov-1","token":"s3cret-token","event":"installed"}`, 401, false},
		{"event of a wipe", "srv-1", `{"job_id":"prov-1","token":"s3cret-token","event":"wiped"}`, 400, false},
		{"no token", "srv-1", `{"job_id":"prov-1","event":"installed"}`, 400, false},
		{"not JSON", "srv-1", `installed!`, 400, false},
		{"event given twice", "srv-1", `{"job_id":"prov-1","token":"s3cret-token","event":"wiped","event":"installed"}`, 400, false},
		{"key in capitals", "srv-1", `{"Job_ID":"prov-1","token":"s3cret-token","event":"installed"}`, 400, false},
		{"unknown key", "srv-1", `{"job_id":"prov-1","token":"s3cret-token","event":"installed","colour":"red"}`, 400, false},
		{"token not a string", "srv-1", `{"job_id":"prov-1","token":7,"event":"installed"}`, 400, false},
		{"booted before installed", "srv-1", `{"job_id":"prov-1","token":"s3cret-token","event":"booted"}`, 409, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t)
			if got := e.post(tt.server, tt.body); got != tt.want {
				t.Errorf("status %d, want %d", got, tt.want)
			}
			got, err := e.st.CallbackReceived(context.Background(), "prov-1", store.CallbackInstalled)
			if err != nil || got != tt.recorded {
				t.Errorf("installed recorded = %v (%v), want %v", got, err, tt.recorded)
			}
			e.wake.mu.Lock()
			defer e.wake.mu.Unlock()
			if woke := len(e.wake.ran) == 1 && e.wake.ran[0] == "default/prov-1"; woke != tt.recorded {
				t.Errorf("woken tasks %v, want the job woken only when recorded", e.wake.ran)
			}
		})
	}
}

func TestCallbackOverNATS(t *testing.T) {
	t.Parallel()
	e := setup(t)
	js := e.js
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.recv.Run(ctx, js) }()
	t.Cleanup(func() { cancel(); <-done })
	publish := func(body string) {
		if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: events.CallbackPrefix + "srv-1", Data: []byte(body)}); err != nil {
			t.Fatal(err)
		}
	}
	publish(`{"job_id":"prov-1","token":"forged","event":"booted"}`)
	publish(`{"job_id":"prov-1","token":"s3cret-token","event":"installed"}`)
	for range 100 {
		if ok, _ := e.st.CallbackReceived(ctx, "prov-1", store.CallbackInstalled); ok {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ok, _ := e.st.CallbackReceived(ctx, "prov-1", store.CallbackInstalled); !ok {
		t.Fatal("the signed callback was not recorded within 5 s")
	}
	if ok, _ := e.st.CallbackReceived(ctx, "prov-1", store.CallbackBooted); ok {
		t.Error("a forged callback was recorded")
	}
	// Handled reports leave the stream: their tokens do not stay for its retention.
	stream, err := js.Stream(ctx, events.RequestsStream)
	if err != nil {
		t.Fatal(err)
	}
	var left uint64
	for range 100 {
		info, err := stream.Info(ctx, jetstream.WithSubjectFilter(events.CallbackPrefix+">"))
		if err != nil {
			t.Fatal(err)
		}
		if left = info.State.Msgs; left == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if left != 0 {
		t.Errorf("%d handled callbacks still in %s", left, events.RequestsStream)
	}
}
