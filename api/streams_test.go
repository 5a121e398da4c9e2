package api

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tinmanhq/tinman/events"
)

// TestEventStreamsLeaveNoConsumer opens and closes 300 event streams: the
// consumers on TINMAN_EVENTS go back to none, and a stream still works.
func TestEventStreamsLeaveNoConsumer(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *Config) {
		c.Streams = StreamLimits{PerToken: 400, Total: 400}
		c.Watcher.(*events.Watcher).InactiveThreshold = time.Hour // only deletion empties the stream in time
	})
	e.publishEvent(t, events.JobQueued, "srv-1", "old")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := range 300 {
		query := "server=srv-1"
		if i%2 == 1 {
			query = "since=1h&type=job"
		}
		sctx, stop := context.WithCancel(ctx)
		s := e.stream(t, sctx, query)
		if f := s.next(t); f.comment != "stream open" { // the consumer exists
			t.Fatalf("stream %d: first frame %+v", i, f)
		}
		stop()
		s.resp.Body.Close()
	}
	e.waitConsumers(t, ctx, 0)
	s := e.stream(t, ctx, "server=srv-1")
	s.next(t)
	e.publishEvent(t, events.JobSucceeded, "srv-1", "new")
	if f := s.nextEvent(t); f.event != string(events.JobSucceeded) {
		t.Errorf("after 300 streams: %+v", f)
	}
}

// TestEventStreamCaps fills the per-token cap, then the total one: each
// answers 429 with Retry-After, and a closed stream frees its place.
func TestEventStreamCaps(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *Config) { c.Streams = StreamLimits{PerToken: 2, Total: 3, RetryAfter: 1500 * time.Millisecond} })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	first := e.openAs(t, ctx, RoleViewer)
	e.openAs(t, ctx, RoleViewer)
	a := e.tryStream(t, ctx, RoleViewer)
	if p := a.problem(t); a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") != "2" || p.Code != codeTooMany {
		t.Errorf("third stream of a token: %d Retry-After %q %+v, want 429, 2 s", a.status, a.header.Get("Retry-After"), p)
	}
	e.openAs(t, ctx, RoleOperator)
	a = e.tryStream(t, ctx, RoleAdmin)
	if p := a.problem(t); a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
		t.Errorf("a stream past the total: %d %+v, want 429 with Retry-After", a.status, p)
	}
	first.close()
	for a.status == http.StatusTooManyRequests && ctx.Err() == nil { // the API sees the client go
		time.Sleep(20 * time.Millisecond)
		if a = e.tryStream(t, ctx, RoleViewer); a.status == http.StatusOK {
			break
		}
	}
	if a.status != http.StatusOK {
		t.Errorf("after one stream closed: %d %s", a.status, a.body)
	}
}

// TestEventStreamJobFilterIsTheSubject replays a job among many others:
// the stream gives that job's events only, and its consumer reads the
// job's server's subject only.
func TestEventStreamJobFilterIsTheSubject(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.known(t, "job-x", "srv-x")
	for i := range 300 {
		e.publishEvent(t, events.JobQueued, "srv-"+strconv.Itoa(i%7), "other-"+strconv.Itoa(i))
		if i%100 == 50 {
			e.publishEvent(t, events.JobProgress, "srv-x", "job-x")
		}
	}
	e.publishEvent(t, events.JobSucceeded, "srv-x", "job-x")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := e.stream(t, ctx, "since=168h&job=job-x")
	var got []string
	for len(got) < 4 {
		f := s.nextEvent(t)
		got = append(got, f.event)
		if f.event == string(events.JobSucceeded) {
			break
		}
	}
	want := []string{string(events.JobProgress), string(events.JobProgress), string(events.JobProgress), string(events.JobSucceeded)}
	if !slices.Equal(got, want) {
		t.Errorf("job-x's stream: %v, want %v", got, want)
	}
	infos := e.consumers(t, ctx)
	if len(infos) != 1 || infos[0].Config.FilterSubject != "tinman.events.srv-x.>" || infos[0].Delivered.Consumer != 4 {
		for _, info := range infos {
			t.Logf("consumer %s: filter %q %v, delivered %d", info.Name, info.Config.FilterSubject, info.Config.FilterSubjects, info.Delivered.Consumer)
		}
		t.Errorf("%d consumers, want one on tinman.events.srv-x.> that delivered job-x's 4 events", len(infos))
	}
	// A job the API does not know has no history to replay; live, it may be watched.
	a := e.do(t, RoleViewer, "GET", "/v1/events?since=1h&job=nobody", "")
	if p := a.problem(t); a.status != http.StatusNotFound || p.Field != "job" {
		t.Errorf("history of an unknown job: %d %+v, want 404 naming job", a.status, p)
	}
	e.stream(t, ctx, "job=nobody").next(t)
}

// open is an event stream held open.
type open struct {
	*sse
	cancel context.CancelFunc
}

func (o open) close() { o.cancel(); o.resp.Body.Close() }

// openAs opens an event stream as role and reads its open comment.
func (e *env) openAs(t *testing.T, ctx context.Context, role Role) open {
	t.Helper()
	sctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	tokens := e.tokens
	e2 := *e
	e2.tokens = map[Role]string{RoleViewer: tokens[role]}
	s := e2.stream(t, sctx, "")
	if f := s.next(t); f.comment != "stream open" {
		t.Fatalf("first frame %+v", f)
	}
	return open{sse: s, cancel: cancel}
}

// tryStream asks for an event stream as role and, unless it opened, reads
// the answer; an open one is closed at once.
func (e *env) tryStream(t *testing.T, ctx context.Context, role Role) answer {
	t.Helper()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(sctx, http.MethodGet, e.srv.URL+"/v1/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.tokens[role])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return answer{status: resp.StatusCode, header: resp.Header}
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: body}
}

// consumers lists TINMAN_EVENTS's consumers.
func (e *env) consumers(t *testing.T, ctx context.Context) []*jetstream.ConsumerInfo {
	t.Helper()
	st, err := e.js.Stream(ctx, events.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.ConsumerInfo
	l := st.ListConsumers(ctx)
	for info := range l.Info() {
		out = append(out, info)
	}
	if err := l.Err(); err != nil {
		t.Fatalf("list consumers: %v", err)
	}
	return out
}

// waitConsumers waits, within ctx, until TINMAN_EVENTS has n consumers:
// the API deletes a stream's consumer once it sees its client go.
func (e *env) waitConsumers(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	for {
		st, err := e.js.Stream(ctx, events.EventsStream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Consumers == n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("TINMAN_EVENTS has %d consumers, want %d", info.State.Consumers, n)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
