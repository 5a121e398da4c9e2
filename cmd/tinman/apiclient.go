package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tinmanhq/tinman/client"
	"github.com/tinmanhq/tinman/jobs"
)

// defaultAPIURL is where the operator commands look for the API when
// neither a flag, a variable nor a running `tinman dev` says otherwise.
const defaultAPIURL = "http://127.0.0.1:8080"

// operatorFlags adds what every operator command over the API shares: the
// API's URL, the token and the timeout of one API call.
func operatorFlags(cmd *cobra.Command) {
	cmd.Flags().String("api-url", "", "Tinman API URL (default: the running tinman dev, else http://127.0.0.1:8080)")
	cmd.Flags().String("token", "", "API bearer token")
	cmd.Flags().Duration("api-timeout", 30*time.Second, "deadline for one call to the API")
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

// restClient is the operator commands' client of the HTTP API: a
// client.Client whose errors carry the contract's exit codes (explain).
type restClient struct {
	api    *client.Client
	target apiTarget
}

// operatorCall reads what every operator command starts with: -o and
// --jq, and the API client.
func operatorCall(cmd *cobra.Command) (*output, *restClient, error) {
	out, err := newOutput(cmd)
	if err != nil {
		return nil, nil, err
	}
	c, err := newRESTClient(cmd)
	return out, c, err
}

// newRESTClient builds the client from a command's flags.
func newRESTClient(cmd *cobra.Command) (*restClient, error) {
	target, err := resolveAPI(mustString(cmd, "api-url"), mustString(cmd, "token"), devContextPath())
	if err != nil {
		return nil, err
	}
	timeout, _ := cmd.Flags().GetDuration("api-timeout")
	if timeout <= 0 {
		return nil, usageErr("--api-timeout %s: must be positive", timeout)
	}
	return newRESTClientFor(target, timeout)
}

// newRESTClientFor returns a client of target whose calls each end within timeout.
func newRESTClientFor(target apiTarget, timeout time.Duration) (*restClient, error) {
	c, err := client.New(client.Config{URL: target.URL, Token: target.Token, Timeout: timeout, UserAgent: "tinman-cli/" + version})
	if err != nil {
		return nil, usageErr("%v (see --api-url and --token)", err)
	}
	return &restClient{api: c, target: target}, nil
}

// The API's routes the commands call, each with its errors explained.

// EnrolServer enrols a server: POST /v1/servers.
func (c *restClient) EnrolServer(ctx context.Context, e client.Enrolment) (client.Server, *client.Response, error) {
	srv, resp, err := c.api.EnrolServer(ctx, e)
	return srv, resp, c.explain(err)
}

// Servers lists the servers whose labels match selector (k=v,...; "" for all).
func (c *restClient) Servers(ctx context.Context, selector string) (client.ServerList, *client.Response, error) {
	list, resp, err := c.api.Servers(ctx, selector)
	return list, resp, c.explain(err)
}

// Server reads one server.
func (c *restClient) Server(ctx context.Context, id string) (client.Server, *client.Response, error) {
	srv, resp, err := c.api.Server(ctx, id)
	return srv, resp, c.explain(err)
}

// PatchServer changes a server with a JSON merge patch.
func (c *restClient) PatchServer(ctx context.Context, id string, p client.ServerPatch) (client.Server, *client.Response, error) {
	srv, resp, err := c.api.PatchServer(ctx, id, p)
	return srv, resp, c.explain(err)
}

// RemoveServer removes a server from the registry.
func (c *restClient) RemoveServer(ctx context.Context, id string) error {
	_, err := c.api.RemoveServer(ctx, id)
	return c.explain(err)
}

// AddImage puts an image in the catalogue: POST /v1/images.
func (c *restClient) AddImage(ctx context.Context, img client.NewImage) (jobs.Image, *client.Response, error) {
	out, resp, err := c.api.AddImage(ctx, img)
	return out, resp, c.explain(err)
}

// Images lists the catalogue: GET /v1/images.
func (c *restClient) Images(ctx context.Context) (client.ImageList, *client.Response, error) {
	list, resp, err := c.api.Images(ctx)
	return list, resp, c.explain(err)
}

// Image reads one catalogue image: GET /v1/images/{name}.
func (c *restClient) Image(ctx context.Context, name string) (jobs.Image, *client.Response, error) {
	img, resp, err := c.api.Image(ctx, name)
	return img, resp, c.explain(err)
}

// RemoveImage takes an image out of the catalogue: DELETE /v1/images/{name}.
func (c *restClient) RemoveImage(ctx context.Context, name string) error {
	_, err := c.api.RemoveImage(ctx, name)
	return c.explain(err)
}

// SubmitJob submits a job request: POST /v1/jobs.
func (c *restClient) SubmitJob(ctx context.Context, req jobs.Request) (client.Submitted, *client.Response, error) {
	sub, resp, err := c.api.SubmitJob(ctx, req)
	return sub, resp, c.explain(err)
}

// Job reads one job.
func (c *restClient) Job(ctx context.Context, id string) (jobs.Job, *client.Response, error) {
	job, resp, err := c.api.Job(ctx, id)
	return job, resp, c.explain(err)
}

// Jobs lists the jobs q selects.
func (c *restClient) Jobs(ctx context.Context, q client.JobQuery) (client.JobList, *client.Response, error) {
	list, resp, err := c.api.Jobs(ctx, q)
	return list, resp, c.explain(err)
}

// CancelJob asks for a job to stop: 200 when it is canceled, 202 when it
// will stop at its next step.
func (c *restClient) CancelJob(ctx context.Context, id string) (jobs.Job, *client.Response, error) {
	job, resp, err := c.api.CancelJob(ctx, id)
	return job, resp, c.explain(err)
}

// explain gives an error of the client its exit code and the CLI's words:
// an answer that refuses the input or the token (4xx) is exit 2; an API that
// could not serve (5xx), could not be reached or answered what this client
// cannot read is exit 3; a call the user interrupted is exit 1. Commands
// may give a refusal another code (see asFailure).
func (c *restClient) explain(err error) error {
	var answer *client.Error
	var call *client.CallError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &answer):
		e := &apiError{answer: answer, target: c.target}
		return &exitError{code: e.exitCode(), err: e}
	case errors.As(err, &call) && errors.Is(err, context.Canceled):
		return failed(fmt.Errorf("%s %s: interrupted", call.Method, call.Path))
	case errors.Is(err, client.ErrUnreachable):
		return unreachable(fmt.Errorf("%w (is `tinman dev` or `tinman api` running? see --api-url)", err))
	}
	return unreachable(err)
}

// apiError is an error answer of the API as the CLI tells it: with the flag
// that set the field at fault, and for 401 and 403 what to do about the
// token.
type apiError struct {
	answer *client.Error
	// flag is the command-line flag that set answer.Field, when the
	// command knows it (withFlags).
	flag string
	// target is the API called and where its token came from.
	target apiTarget
}

// Error says what the API refused, naming the field (and its flag), and
// for 401 and 403 what to do about the token.
func (e *apiError) Error() string {
	a := *e.answer
	if a.Field != "" && e.flag != "" {
		a.Field += " (" + e.flag + ")"
	}
	return a.Error() + e.hint()
}

// Unwrap returns the client's error.
func (e *apiError) Unwrap() error { return e.answer }

// hint says what to do about a refused token.
func (e *apiError) hint() string {
	switch {
	case e.answer.Status == http.StatusUnauthorized && e.target.Token == "":
		return " (no token was sent: give one with --token or TINMAN_TOKEN)"
	case e.answer.Status == http.StatusUnauthorized:
		return fmt.Sprintf(" (the token from %s was refused by %s: check --token or TINMAN_TOKEN)", e.target.TokenFrom, e.target.URL)
	case e.answer.Status == http.StatusForbidden:
		return " (the token's role may not do this: use a token with the role named, via --token or TINMAN_TOKEN)"
	}
	return ""
}

// exitCode is the contract's exit code for the answer: the API could not
// serve (5xx) is 3; the input or the token was refused (4xx) is 2.
func (e *apiError) exitCode() int {
	switch {
	case e.answer.Status >= 500:
		return exitUnreachable
	case e.answer.Status >= 400:
		return exitUsage
	}
	return exitFailed
}

// apiErr returns the API's error answer within err, or nil.
func apiErr(err error) *client.Error {
	var e *client.Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// withFlags names the flag that set the field an error answer is about:
// flags maps the API's field names ("bmc.address") to flags ("--bmc-address").
func withFlags(err error, flags map[string]string) error {
	var e *apiError
	if errors.As(err, &e) && e.answer.Field != "" {
		field := e.answer.Field
		e.flag = flags[field]
		if i := strings.IndexByte(field, '.'); e.flag == "" && i > 0 {
			e.flag = flags[field[:i]] // labels.rack: --label
		}
	}
	return err
}

// asFailure gives an error answer of one of statuses exit code 1: the
// operation was refused for the state it found, not for its input.
func asFailure(err error, statuses ...int) error {
	var e *apiError
	if !errors.As(err, &e) {
		return err
	}
	for _, s := range statuses {
		if e.answer.Status == s {
			return failed(e)
		}
	}
	return err
}
