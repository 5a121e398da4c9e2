package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tinmanhq/tinman/api"
	"github.com/tinmanhq/tinman/jobs"
)

// defaultAPIURL is where the operator commands look for the API when
// neither a flag, a variable nor a running `tinman dev` says otherwise.
const defaultAPIURL = "http://127.0.0.1:8080"

// maxAnswerSize bounds what the client reads of one answer.
const maxAnswerSize = 16 << 20

// operatorFlags adds what every operator command over the API shares: the
// client connection flags and the timeout of one API call.
func operatorFlags(cmd *cobra.Command) {
	clientFlags(cmd)
	cmd.Flags().Duration("api-timeout", 30*time.Second, "deadline for one call to the API")
}

// outputFlag adds -o/--output to a command that prints what the API answered.
func outputFlag(cmd *cobra.Command) {
	cmd.Flags().StringP("output", "o", "table", "output format: table, or json (the API's JSON as is)")
}

// outputJSON reports whether -o json was asked for; any format but table
// and json is a usage error.
func outputJSON(cmd *cobra.Command) (bool, error) {
	switch o := mustString(cmd, "output"); o {
	case "json":
		return true, nil
	case "table", "":
		return false, nil
	default:
		return false, usageErr("-o %q: must be table or json", o)
	}
}

// apiTarget is the API a command talks to, and the token it shows it.
type apiTarget struct {
	URL   string
	Token string
	// TokenFrom says where the token came from, for a 401's message.
	TokenFrom string
}

// resolveAPI picks the API's URL: the flag (or TINMAN_API_URL, which
// bindEnv put there), else the running `tinman dev` of the context file,
// else defaultAPIURL. The token is the flag's (or TINMAN_TOKEN), else the
// dev context's, but only when the URL is that dev's: a dev token is never
// sent to another API.
func resolveAPI(flagURL, flagToken, contextPath string) (apiTarget, error) {
	t := apiTarget{URL: flagURL, Token: flagToken, TokenFrom: "--token"}
	c, haveDev := readDevContext(contextPath)
	if t.URL == "" && haveDev && c.APIURL != "" {
		t.URL = c.APIURL
	}
	if t.URL == "" {
		t.URL = defaultAPIURL
	}
	t.URL = strings.TrimRight(t.URL, "/")
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return t, usageErr("--api-url %q: must be an http:// or https:// URL", flagURL)
	}
	if t.Token == "" && haveDev && c.Token != "" && strings.TrimRight(c.APIURL, "/") == t.URL {
		t.Token, t.TokenFrom = c.Token, "the `tinman dev` context file "+contextPath
	}
	if t.Token == "" {
		t.TokenFrom = ""
	}
	return t, nil
}

// restClient is a small typed client of Tinman's HTTP API. Every error it
// returns carries its exit code: a call that could not reach the API (or
// that the API could not serve: 5xx) is exit 3, an answer that refuses the
// input is exit 2. Commands may give a refusal another code (see apiErr).
type restClient struct {
	target apiTarget
	http   *http.Client
}

// newRESTClient builds the client from a command's flags.
// operatorCall reads what every operator command starts with: -o, and the
// API client.
func operatorCall(cmd *cobra.Command) (bool, *restClient, error) {
	asJSON, err := outputJSON(cmd)
	if err != nil {
		return false, nil, err
	}
	c, err := newRESTClient(cmd)
	return asJSON, c, err
}

func newRESTClient(cmd *cobra.Command) (*restClient, error) {
	target, err := resolveAPI(mustString(cmd, "api-url"), mustString(cmd, "token"), devContextPath())
	if err != nil {
		return nil, err
	}
	timeout, _ := cmd.Flags().GetDuration("api-timeout")
	if timeout <= 0 {
		return nil, usageErr("--api-timeout %s: must be positive", timeout)
	}
	return newRESTClientFor(target, timeout), nil
}

// newRESTClientFor returns a client of target whose calls each end within timeout.
func newRESTClientFor(target apiTarget, timeout time.Duration) *restClient {
	target.URL = strings.TrimRight(target.URL, "/")
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: min(timeout, 5*time.Second), KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = min(timeout, 5*time.Second)
	return &restClient{target: target, http: &http.Client{Transport: tr, Timeout: timeout}}
}

// answer is a 2xx answer of the API, its body as sent.
type answer struct {
	Status int
	Body   []byte
}

// do sends one call and returns its 2xx answer. in, when not nil, is sent
// as the JSON body.
func (c *restClient) do(ctx context.Context, method, path string, query url.Values, in any) (answer, error) {
	req, err := c.newRequest(ctx, method, path, query, in)
	if err != nil {
		return answer{}, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, c.transportError(ctx, method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerSize))
	if err != nil {
		return answer{}, c.transportError(ctx, method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := decodeProblem(resp.StatusCode, body)
		e.Method, e.Path, e.Token = method, path, c.target
		return answer{}, &exitError{code: e.exitCode(), err: e}
	}
	return answer{Status: resp.StatusCode, Body: body}, nil
}

func (c *restClient) newRequest(ctx context.Context, method, path string, query url.Values, in any) (*http.Request, error) {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(data)
	}
	u := c.target.URL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, usageErr("%s %s: %v", method, u, err)
	}
	req.Header.Set("Accept", "application/json, "+api.ProblemContentType)
	req.Header.Set("User-Agent", "tinman-cli/"+version)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
		if method == http.MethodPatch {
			req.Header.Set("Content-Type", "application/merge-patch+json")
		}
	}
	if c.target.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.target.Token)
	}
	return req, nil
}

// transportError is a call that got no answer: exit 3, unless the user
// stopped the command.
func (c *restClient) transportError(ctx context.Context, method, path string, err error) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return failed(fmt.Errorf("%s %s: interrupted", method, path))
	}
	return unreachable(fmt.Errorf("reach the API at %s: %s %s: %w (is `tinman dev` or `tinman api` running? see --api-url)",
		c.target.URL, method, path, err))
}

// fetch sends one call and decodes its answer into a T.
func fetch[T any](ctx context.Context, c *restClient, method, path string, query url.Values, in any) (T, answer, error) {
	var v T
	a, err := c.do(ctx, method, path, query, in)
	if err != nil {
		return v, a, err
	}
	if err := json.Unmarshal(a.Body, &v); err != nil {
		return v, a, unreachable(fmt.Errorf("%s %s: the API's answer is not what this client expects (%v): is it a Tinman API of another version?", method, path, err))
	}
	return v, a, nil
}

// The API's routes, one method each.

func serverPath(id string) string { return "/v1/servers/" + url.PathEscape(id) }
func jobPath(id string) string    { return "/v1/jobs/" + url.PathEscape(id) }

// EnrolServer enrols a server: POST /v1/servers.
func (c *restClient) EnrolServer(ctx context.Context, e api.Enrolment) (serverView, answer, error) {
	return fetch[serverView](ctx, c, http.MethodPost, "/v1/servers", nil, e)
}

// Servers lists the servers whose labels match selector (k=v,...; "" for all).
func (c *restClient) Servers(ctx context.Context, selector string) (api.ServerList, answer, error) {
	var q url.Values
	if selector != "" {
		q = url.Values{"selector": {selector}}
	}
	return fetch[api.ServerList](ctx, c, http.MethodGet, "/v1/servers", q, nil)
}

// Server reads one server.
func (c *restClient) Server(ctx context.Context, id string) (serverView, answer, error) {
	return fetch[serverView](ctx, c, http.MethodGet, serverPath(id), nil, nil)
}

// PatchServer changes a server with a JSON merge patch.
func (c *restClient) PatchServer(ctx context.Context, id string, p api.ServerPatch) (serverView, answer, error) {
	return fetch[serverView](ctx, c, http.MethodPatch, serverPath(id), nil, p)
}

// RemoveServer removes a server from the registry.
func (c *restClient) RemoveServer(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodDelete, serverPath(id), nil, nil)
	return err
}

// SubmitJob submits a job request: POST /v1/jobs.
func (c *restClient) SubmitJob(ctx context.Context, req jobs.Request) (api.Submitted, answer, error) {
	return fetch[api.Submitted](ctx, c, http.MethodPost, "/v1/jobs", nil, req)
}

// Job reads one job.
func (c *restClient) Job(ctx context.Context, id string) (jobs.Job, answer, error) {
	return fetch[jobs.Job](ctx, c, http.MethodGet, jobPath(id), nil, nil)
}

// Jobs lists jobs; q holds server, state, type and limit.
func (c *restClient) Jobs(ctx context.Context, q url.Values) (api.JobList, answer, error) {
	return fetch[api.JobList](ctx, c, http.MethodGet, "/v1/jobs", q, nil)
}

// CancelJob asks for a job to stop: 200 when it is canceled, 202 when it
// will stop at its next step.
func (c *restClient) CancelJob(ctx context.Context, id string) (jobs.Job, answer, error) {
	return fetch[jobs.Job](ctx, c, http.MethodPost, jobPath(id)+"/cancel", nil, nil)
}

// apiError is an error answer of the API: its RFC 9457 problem, with the
// call that got it.
type apiError struct {
	Method, Path string
	Status       int
	Title        string
	Detail       string
	Code         string
	// Field is the request field at fault, as the API names it; Flag is
	// the command-line flag that set it, when the command knows it.
	Field, Flag string
	// Token is the API called and where its token came from, for the
	// message of a 401 or 403.
	Token apiTarget
}

// decodeProblem reads an error answer: a problem+json body, or whatever
// else a proxy in between may have answered.
func decodeProblem(status int, body []byte) *apiError {
	var p api.Problem
	e := &apiError{Status: status, Title: http.StatusText(status)}
	if json.Unmarshal(body, &p) == nil && (p.Title != "" || p.Detail != "") {
		e.Detail, e.Code, e.Field = p.Detail, p.Code, p.Field
		if p.Title != "" {
			e.Title = p.Title
		}
		return e
	}
	e.Detail = strings.TrimSpace(string(body))
	if len(e.Detail) > 200 {
		e.Detail = e.Detail[:200] + "..."
	}
	return e
}

// Error says what the API refused, naming the field (and its flag), and
// for 401 and 403 what to do about the token.
func (e *apiError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.Path, e.Status, e.Title)
	switch {
	case e.Field != "" && e.Flag != "":
		fmt.Fprintf(&b, ": %s (%s)", e.Field, e.Flag)
	case e.Field != "":
		fmt.Fprintf(&b, ": %s", e.Field)
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, ": %s", e.Detail)
	}
	b.WriteString(e.hint())
	return b.String()
}

// hint says what to do about a refused token.
func (e *apiError) hint() string {
	switch {
	case e.Status == http.StatusUnauthorized && e.Token.Token == "":
		return " (no token was sent: give one with --token or TINMAN_TOKEN)"
	case e.Status == http.StatusUnauthorized:
		return fmt.Sprintf(" (the token from %s was refused by %s: check --token or TINMAN_TOKEN)", e.Token.TokenFrom, e.Token.URL)
	case e.Status == http.StatusForbidden:
		return " (the token's role may not do this: use a token with the role named, via --token or TINMAN_TOKEN)"
	}
	return ""
}

// exitCode is the contract's exit code for the answer: the API could not
// serve (5xx) is 3; the input or the token was refused (4xx) is 2.
func (e *apiError) exitCode() int {
	switch {
	case e.Status >= 500:
		return exitUnreachable
	case e.Status >= 400:
		return exitUsage
	}
	return exitFailed
}

// apiErr returns the API's error answer within err, or nil.
func apiErr(err error) *apiError {
	var e *apiError
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// withFlags names the flag that set the field an error answer is about:
// flags maps the API's field names ("bmc.address") to flags ("--bmc-address").
func withFlags(err error, flags map[string]string) error {
	if e := apiErr(err); e != nil && e.Field != "" {
		e.Flag = flags[e.Field]
		if e.Flag == "" {
			if i := strings.IndexByte(e.Field, '.'); i > 0 {
				e.Flag = flags[e.Field[:i]] // labels.rack: --label
			}
		}
	}
	return err
}

// asFailure gives an error answer of one of statuses exit code 1: the
// operation was refused for the state it found, not for its input.
func asFailure(err error, statuses ...int) error {
	e := apiErr(err)
	if e == nil {
		return err
	}
	for _, s := range statuses {
		if e.Status == s {
			return failed(e)
		}
	}
	return err
}

// printJSON prints an answer's JSON as the API sent it, indented.
func printJSON(w io.Writer, body []byte) error {
	var b bytes.Buffer
	if err := json.Indent(&b, bytes.TrimSpace(body), "", "  "); err != nil {
		return fmt.Errorf("the API's answer is not JSON: %w", err)
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}
