package api

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/jobs"
)

// gatedSubmitter holds every submission until released, to keep a request in flight.
type gatedSubmitter struct {
	Submitter
	entered chan struct{}
	release chan struct{}
}

func (g *gatedSubmitter) Submit(ctx context.Context, req jobs.Request, admit func(bool) error) (bool, error) {
	g.entered <- struct{}{}
	<-g.release
	return g.Submitter.Submit(ctx, req, admit)
}

// TestGracefulShutdown holds a request in flight and cancels Serve's
// context: /readyz turns 503 at once, new connections are refused once
// the drain delay is over, the request in flight completes 2xx, and Serve
// returns with no error.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	gate := &gatedSubmitter{entered: make(chan struct{}, 1), release: make(chan struct{})}
	e := setup(t, func(c *Config) {
		gate.Submitter = c.Submitter
		c.Submitter = gate
		c.Timeouts.DrainDelay = 300 * time.Millisecond
		c.Health = NewHealth(50 * time.Millisecond)
	})
	e.enrol(t, "srv-1", nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	e.srv.URL = "http://" + addr
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- e.api.Serve(ctx, ln) }()
	waitReady(t, e)

	inflight := make(chan answer, 1)
	go func() { inflight <- e.doQuiet(RoleOperator, "POST", "/v1/jobs", powerOn) }()
	<-gate.entered

	stop()
	start := time.Now()
	readyz := e.do(t, RoleNone, "GET", "/readyz", "")
	if readyz.status != http.StatusServiceUnavailable || !strings.Contains(string(readyz.body), "shutting down") {
		t.Fatalf("/readyz during drain: %d %s", readyz.status, readyz.body)
	}
	if took := time.Since(start); took > 200*time.Millisecond {
		t.Errorf("/readyz turned 503 after %v", took)
	}
	waitRefused(t, addr)
	close(gate.release)
	a := <-inflight
	if a.status != http.StatusAccepted {
		t.Errorf("the in-flight request ended %d: %s", a.status, a.body)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
}

// waitReady waits for the first health probe to pass.
func waitReady(t *testing.T, e *env) {
	t.Helper()
	for range 100 {
		if e.do(t, RoleNone, "GET", "/readyz", "").status == http.StatusOK {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("never ready")
}

// waitRefused waits until addr refuses connections.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	for range 200 {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("new connections are still accepted 2 s after shutdown began")
}

// doQuiet is do for other goroutines: it reports failures in the answer.
func (e *env) doQuiet(role Role, method, path, body string) answer {
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		return answer{body: []byte(err.Error())}
	}
	req.Header.Set("Authorization", "Bearer "+e.tokens[role])
	// A connection of its own, so that the shutdown cannot close it idle.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return answer{body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, io.EOF) {
		return answer{status: resp.StatusCode, body: []byte(err.Error())}
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: data}
}

// TestShutdownAnswersAcceptedConnections: a connection the server accepted
// before its listener closed, whose request arrives only once shutdown has
// begun, is answered (and then closed), not closed unanswered as
// http.Server.Shutdown alone does; a load balancer would see that as
// "upstream prematurely closed" and could not send a POST again.
func TestShutdownAnswersAcceptedConnections(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *Config) { c.Timeouts.DrainDelay = 100 * time.Millisecond })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	e.srv.URL = "http://" + addr
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- e.api.Serve(ctx, ln) }()

	early, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer early.Close()
	// One accept loop takes connections in order: once a later one is
	// answered, the early one has been accepted too.
	if a := e.doQuiet(RoleNone, "GET", "/healthz", ""); a.status != http.StatusOK {
		t.Fatalf("/healthz: %d %s", a.status, a.body)
	}
	stop()
	waitRefused(t, addr)
	if _, err := io.WriteString(early, "GET /healthz HTTP/1.1\r\nHost: tinman\r\n\r\n"); err != nil {
		t.Fatalf("write the request: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(early), nil)
	if err != nil {
		t.Fatalf("a request on a connection accepted before the listener closed got no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !resp.Close {
		t.Errorf("answer %d, close %v: want 200 and Connection: close", resp.StatusCode, resp.Close)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
}
