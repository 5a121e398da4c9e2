package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/client"
)

func TestNewValidatesConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cfg   client.Config
		field string // "" when the config is good
	}{
		{"good", client.Config{URL: "http://127.0.0.1:8080/", Token: "t"}, ""},
		{"https", client.Config{URL: "https://tinman.example.com", Timeout: time.Second}, ""},
		{"no URL", client.Config{Token: "t"}, "URL"},
		{"no scheme", client.Config{URL: "127.0.0.1:8080"}, "URL"},
		{"other scheme", client.Config{URL: "ftp://h"}, "URL"},
		{"no host", client.Config{URL: "http://"}, "URL"},
		{"negative timeout", client.Config{URL: "http://h", Timeout: -time.Second}, "Timeout"},
		{"token over two lines", client.Config{URL: "http://h", Token: "t\r\nX-Evil: 1"}, "Token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := client.New(tt.cfg)
			switch {
			case tt.field == "" && err != nil:
				t.Fatalf("New(%+v) = %v", tt.cfg, err)
			case tt.field == "":
				if got := c.URL(); strings.HasSuffix(got, "/") {
					t.Errorf("URL() = %q, want no trailing slash", got)
				}
			case !errors.Is(err, client.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field):
				t.Errorf("New(%+v) = %v, want ErrInvalidConfig naming %s", tt.cfg, err, tt.field)
			}
		})
	}
}

// newClient is a client of url with the test's admin token.
func newClient(t *testing.T, url string, timeout time.Duration) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{URL: url, Token: token, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// answering is an HTTP server that answers every call with status and body.
func answering(t *testing.T, status int, contentType, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// The API's refusals, read from the real API's problems: status, code and
// field, and the call they answer.
func TestErrorIsTheAPIsProblem(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := newClient(t, apiURL, 10*time.Second)
	anonymous, err := client.New(client.Config{URL: apiURL})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		call   func() error
		want   client.Error
		saying string
	}{
		{"bad param", func() error {
			_, _, err := c.SubmitJob(ctx, powerRequest("", "sim-02", "explode"))
			return err
		}, client.Error{Method: "POST", Path: "/v1/jobs", Status: 400, Code: "invalid_request", Field: "params.action"},
			"POST /v1/jobs: 400 Bad Request: params.action: must be one of"},
		{"unknown job", func() error {
			_, _, err := c.Job(ctx, "no-such-job")
			return err
		}, client.Error{Method: "GET", Path: "/v1/jobs/no-such-job", Status: 404, Code: "not_found"}, "404 Not Found: job no-such-job"},
		{"bad selector", func() error {
			_, _, err := c.Servers(ctx, "rack")
			return err
		}, client.Error{Method: "GET", Path: "/v1/servers", Status: 400, Code: "invalid_request", Field: "selector"}, "selector: must be"},
		{"no token", func() error {
			_, _, err := anonymous.Jobs(ctx, client.JobQuery{})
			return err
		}, client.Error{Method: "GET", Path: "/v1/jobs", Status: 401, Code: "unauthorized"}, "401 Unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.call()
			var e *client.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is no *client.Error", err, err)
			}
			if e.Method != tt.want.Method || e.Path != tt.want.Path || e.Status != tt.want.Status ||
				e.Code != tt.want.Code || e.Field != tt.want.Field || e.Instance == "" {
				t.Errorf("error = %+v, want %+v with the request id", *e, tt.want)
			}
			if !strings.Contains(err.Error(), tt.saying) || errors.Is(err, client.ErrUnreachable) {
				t.Errorf("error %q does not say %q, or says unreachable", err, tt.saying)
			}
		})
	}
}

// An error answer that is no problem (a proxy's page) is an Error too.
func TestErrorOfAnAnswerThatIsNoProblem(t *testing.T) {
	t.Parallel()
	page := "<html>" + strings.Repeat("bad gateway ", 40) + "</html>"
	_, _, err := newClient(t, answering(t, 502, "text/html", page), time.Second).Job(t.Context(), "x")
	var e *client.Error
	if !errors.As(err, &e) || e.Status != 502 || e.Code != "" || e.Title != "Bad Gateway" ||
		!strings.HasPrefix(e.Detail, "<html>bad gateway") || len(e.Detail) != 203 {
		t.Errorf("error %+v, want a 502 with the page's first 200 bytes", e)
	}
}

// A call that gets no answer, or one this client cannot read, or that its
// caller gave up on, is a CallError saying which.
func TestCallErrors(t *testing.T) {
	t.Parallel()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(slow.Close)
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name string
		url  string
		ctx  context.Context
		want error // the kind, or the context's error
	}{
		{"closed port", "http://127.0.0.1:1", t.Context(), client.ErrUnreachable},
		{"answer too slow", slow.URL, t.Context(), client.ErrUnreachable},
		{"answer of another shape", answering(t, 200, "application/json", `["not", "a", "job"]`), t.Context(), client.ErrUnexpectedAnswer},
		{"caller gave up", slow.URL, canceled, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := newClient(t, tt.url, 300*time.Millisecond).Job(tt.ctx, "j-1")
			var ce *client.CallError
			if !errors.As(err, &ce) || !errors.Is(err, tt.want) || ce.Method != "GET" || ce.Path != "/v1/jobs/j-1" || ce.URL != tt.url {
				t.Fatalf("error %v (%T), want a CallError of GET /v1/jobs/j-1 wrapping %v", err, err, tt.want)
			}
			for _, kind := range []error{client.ErrUnreachable, client.ErrUnexpectedAnswer, context.Canceled} {
				if kind != tt.want && errors.Is(err, kind) {
					t.Errorf("error %v is also %v", err, kind)
				}
			}
		})
	}
}
