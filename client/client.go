package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultTimeout bounds one call when Config.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// DefaultUserAgent is the User-Agent of a client whose Config names none.
const DefaultUserAgent = "tinman-go-client"

// maxAnswerSize bounds what the client reads of one answer.
const maxAnswerSize = 16 << 20

// Config configures a Client. URL is required; the rest have defaults.
type Config struct {
	// URL is the API's base URL, http:// or https://: "http://127.0.0.1:8080".
	URL string
	// Token is the bearer token sent with every call ("": none, and only
	// the routes that need no role answer).
	Token string
	// Timeout bounds each call, its answer read included (default
	// DefaultTimeout). A call also ends with its context.
	Timeout time.Duration
	// HTTPClient sends the calls (default: one whose dials and TLS
	// handshakes take at most 5 s, or Timeout when shorter).
	HTTPClient *http.Client
	// UserAgent names the program calling (default DefaultUserAgent).
	UserAgent string
}

// validate checks cfg and fills its defaults; an error names the field.
func (cfg *Config) validate() error {
	u, err := url.Parse(cfg.URL)
	switch {
	case cfg.URL == "":
		return fmt.Errorf("%w: URL is required", ErrInvalidConfig)
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("%w: URL %q must be an http:// or https:// URL with a host", ErrInvalidConfig, cfg.URL)
	case cfg.Timeout < 0:
		return fmt.Errorf("%w: Timeout %s is negative", ErrInvalidConfig, cfg.Timeout)
	case strings.ContainsAny(cfg.Token, "\r\n"):
		return fmt.Errorf("%w: Token holds a line break", ErrInvalidConfig)
	}
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = defaultHTTPClient(cfg.Timeout)
	}
	return nil
}

// defaultHTTPClient gives up on a dial or a TLS handshake after 5 s, or
// timeout when that is shorter.
func defaultHTTPClient(timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: min(timeout, 5*time.Second), KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = min(timeout, 5*time.Second)
	return &http.Client{Transport: tr}
}

// Client calls Tinman's HTTP API. It is safe for concurrent use.
type Client struct {
	cfg Config
}

// New returns a Client of cfg, or an error wrapping ErrInvalidConfig that
// names the field at fault.
func New(cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Client{cfg: cfg}, nil
}

// URL is the API's base URL, without a trailing slash.
func (c *Client) URL() string { return c.cfg.URL }

// Response is the API's success answer to a call: its status and its body
// as sent, for a caller that prints the API's own JSON.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// call sends one call and decodes its success answer into out (when not
// nil). in, when not nil, is sent as the JSON body.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, in, out any) (*Response, error) {
	resp, err := c.send(ctx, method, path, query, in)
	if err != nil {
		return nil, err
	}
	if out != nil {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			return resp, &CallError{Method: method, Path: path, URL: c.cfg.URL, Err: err, kind: ErrUnexpectedAnswer}
		}
	}
	return resp, nil
}

// send sends one call and returns its 2xx answer; any other is an *Error.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, in any) (*Response, error) {
	cctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := c.newRequest(cctx, method, path, query, in)
	if err != nil {
		return nil, err
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, c.noAnswer(ctx, method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerSize))
	if err != nil {
		return nil, c.noAnswer(ctx, method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, decodeProblem(method, path, resp.StatusCode, body)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// noAnswer is the error of a call that got no answer: the caller's context
// ended, or the API could not be reached in time.
func (c *Client) noAnswer(ctx context.Context, method, path string, err error) error {
	if ctx.Err() != nil {
		return &CallError{Method: method, Path: path, URL: c.cfg.URL, Err: ctx.Err()}
	}
	return &CallError{Method: method, Path: path, URL: c.cfg.URL, Err: err, kind: ErrUnreachable}
}

func (c *Client) newRequest(ctx context.Context, method, path string, query url.Values, in any) (*http.Request, error) {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(data)
	}
	u := c.cfg.URL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	req.Header.Set("Accept", "application/json, "+ProblemContentType)
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
		if method == http.MethodPatch {
			req.Header.Set("Content-Type", "application/merge-patch+json")
		}
	}
	if c.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	}
	return req, nil
}
