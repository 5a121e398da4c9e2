package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/client"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
	"github.com/tinmanhq/tinman/submit"
)

// IdempotencyKeyHeader names the job id of a POST /v1/jobs whose body has none.
const IdempotencyKeyHeader = "Idempotency-Key"

// Submitted is the answer to POST /v1/jobs (the Go client's wire type).
type Submitted = client.Submitted

// JobList is the answer to GET /v1/jobs (the Go client's wire type).
type JobList = client.JobList

// submitJob validates a request, records it as submitted, publishes it and
// answers 202 once JetStream has acked it; 503 when it did not.
func (a *API) submitJob(w http.ResponseWriter, r *http.Request) {
	req, err := a.readRequest(r)
	if err != nil {
		a.metrics.submission("", outcomeInvalid)
		fail(w, r, err)
		return
	}
	if err := a.admit(r.Context(), req); err != nil {
		a.metrics.submission(string(req.Type), outcomeInvalid)
		fail(w, r, err)
		return
	}
	state, err := a.submit(r.Context(), req)
	if err != nil {
		a.metrics.submission(string(req.Type), outcomeUnavailable)
		fail(w, r, err)
		return
	}
	a.metrics.submission(string(req.Type), outcomeAccepted)
	w.Header().Set("Location", "/v1/jobs/"+url.PathEscape(req.ID))
	writeJSON(w, http.StatusAccepted, Submitted{JobID: req.ID, State: state})
}

// readRequest reads, validates and decodes the request of a POST, and
// gives it its id: the body's, else the Idempotency-Key, else a new ULID.
func (a *API) readRequest(r *http.Request) (jobs.Request, error) {
	if err := requireJSON(r); err != nil {
		return jobs.Request{}, err
	}
	key := r.Header.Get(IdempotencyKeyHeader)
	if n := len(r.Header.Values(IdempotencyKeyHeader)); n > 1 {
		return jobs.Request{}, jobs.Invalid(IdempotencyKeyHeader, fmt.Sprintf("is given %d times: give it once", n))
	}
	if key != "" && !jobs.ValidJobID(key) {
		return jobs.Request{}, jobs.Invalid(IdempotencyKeyHeader, "must be a job id: ^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return jobs.Request{}, fmt.Errorf("read request body: %w", err)
	}
	if len(body) > jobs.MaxRequestSize {
		return jobs.Request{}, &http.MaxBytesError{Limit: jobs.MaxRequestSize}
	}
	req, err := a.decodeRequest(body)
	if err != nil {
		return req, err
	}
	return withID(r.Context(), req, key)
}

// decodeRequest checks the body against the schema, then decodes it as the
// dispatcher will. Keys given twice and strings that are not text are
// refused first: the schema validator would read them otherwise than the
// decoder does.
func (a *API) decodeRequest(body []byte) (jobs.Request, error) {
	if err := jobs.CheckJSON(body); err != nil {
		return jobs.Request{}, err
	}
	if err := a.cfg.Validator.Request(body); err != nil {
		return jobs.Request{}, err
	}
	return jobs.DecodeRequest(body)
}

// withID gives req its id and, when it names no requester, the caller.
func withID(ctx context.Context, req jobs.Request, key string) (jobs.Request, error) {
	switch {
	case req.ID == "" && key != "":
		req.ID = key
	case req.ID == "":
		req.ID = jobs.NewID(time.Now())
	case key != "" && key != req.ID:
		return req, jobs.Invalid("id", fmt.Sprintf("is %q but the %s header is %q: they must be equal", req.ID, IdempotencyKeyHeader, key))
	}
	if req.RequestedBy == "" {
		req.RequestedBy = identityOf(ctx).Name
	}
	return req, nil
}

// requireJSON refuses a body declared as anything but JSON, or declared
// more than once (415).
func requireJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	switch {
	case len(r.Header.Values("Content-Type")) > 1:
		return errUnsupportedMedia
	case ct == "":
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || mt == "application/merge-patch+json") {
		return nil
	}
	return errUnsupportedMedia
}

// errUnsupportedMedia is a body that is not JSON.
var errUnsupportedMedia = errors.New("the body must be application/json, declared once")

// admit refuses early, by the rules the dispatcher applies (jobs.Admit,
// jobs.AdmitImage), what it would refuse for certain. The dispatcher
// checks again and claims the server: what it refuses later shows as state
// "rejected". An unknown server or image is a bad request here (400), as
// the contract says.
func (a *API) admit(ctx context.Context, req jobs.Request) error {
	err := a.admitServer(ctx, req)
	if err == nil {
		err = jobs.AdmitImageFrom(ctx, req, a.cfg.Store.Image)
	}
	if err == nil {
		err = a.admitDeploy(ctx, req)
	}
	if e := new(jobs.Error); errors.As(err, &e) && e.Code == jobs.CodeNotFound {
		return jobs.Invalid(e.Field, e.Message)
	}
	return err
}

// admitServer applies jobs.Admit to the request's server.
func (a *API) admitServer(ctx context.Context, req jobs.Request) error {
	if !req.Type.TargetsServer() {
		return nil
	}
	var found *jobs.Server
	srv, err := a.cfg.Store.Server(ctx, req.Server)
	switch {
	case err == nil:
		found = &srv
	case jobs.CodeOf(err) != jobs.CodeNotFound:
		return fmt.Errorf("read server %s: %w", req.Server, err)
	}
	if refused := jobs.Admit(req, found); refused != nil {
		return refused
	}
	return nil
}

// submit records req as submitted, publishes it and returns the job's
// state. If NATS does not ack, the record it made is removed again. A
// repeat of a known id must be the same request, and not one that was
// rejected: JetStream would drop it as a duplicate. A job that came
// another way (over NATS, or whose submitted record is gone) is known by
// its record, and is not submitted again.
func (a *API) submit(ctx context.Context, req jobs.Request) (jobs.State, error) {
	job, err := a.cfg.Store.Job(ctx, req.ID)
	switch e := jobs.AsError(err); {
	case err == nil:
		return a.repeat(job, req)
	case e == nil || e.Code != jobs.CodeNotFound:
		return "", fmt.Errorf("look up job %s: %w", req.ID, err)
	}
	state := jobs.StateSubmitted
	created, err := a.cfg.Submitter.Submit(ctx, req, func(created bool) (err error) {
		if !created {
			state, err = a.repeatSubmitted(ctx, req)
		}
		return err
	})
	if errors.Is(err, submit.ErrUnavailable) {
		return "", fmt.Errorf("%w: NATS did not acknowledge the request, so it was not accepted: retry with the same id: %w", ErrUnavailable, err)
	}
	if err != nil {
		return "", err
	}
	zerolog.Ctx(ctx).Info().Str("job_id", req.ID).Str("type", string(req.Type)).Str("server", req.Server).
		Bool("repeat", !created).Msg("job submitted")
	return state, nil
}

// repeatSubmitted checks a request whose id has a submitted record and
// returns its job's state.
func (a *API) repeatSubmitted(ctx context.Context, req jobs.Request) (jobs.State, error) {
	job, err := a.job(ctx, req.ID)
	if e := jobs.AsError(err); e != nil && e.Code == jobs.CodeNotFound {
		return jobs.StateSubmitted, nil // the record went meanwhile: the publish decides
	}
	if err != nil {
		return "", err
	}
	return a.repeat(job, req)
}

// repeat checks req against the known job of its id and returns the job's
// state: another request under the id, or one that was rejected, is a
// conflict.
func (a *API) repeat(job jobs.Job, req jobs.Request) (jobs.State, error) {
	switch {
	case !sameRequest(job.Request(), req):
		return "", &jobs.Error{Code: jobs.CodeConflict, Field: "id",
			Message: fmt.Sprintf("job %s exists with a different request: use another id", req.ID)}
	case job.State == jobs.StateRejected:
		return "", &jobs.Error{Code: jobs.CodeConflict, Field: "id",
			Message: fmt.Sprintf("job %s was rejected (%v): submit it again with a new id", req.ID, job.Error)}
	}
	return job.State, nil
}

// sameRequest reports whether two requests ask for the same work; who
// asked does not count.
func sameRequest(a, b jobs.Request) bool {
	return a.Type == b.Type && a.Server == b.Server && a.Priority.Queue() == b.Priority.Queue() &&
		compactJSON(a.Params) == compactJSON(b.Params)
}

func compactJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// job returns the job with id: its record, or while it has none the
// submitted record; else a not_found error.
func (a *API) job(ctx context.Context, id string) (jobs.Job, error) {
	job, err := a.cfg.Store.Job(ctx, id)
	if e := jobs.AsError(err); e == nil || e.Code != jobs.CodeNotFound {
		return job, err
	}
	rec, err := a.cfg.Store.SubmittedJob(ctx, id)
	if err != nil {
		return jobs.Job{}, err
	}
	return rec.Job(), nil
}

// jobID returns the route's job id; an id that cannot exist is 404.
func jobID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if !jobs.ValidJobID(id) {
		problem(w, r, http.StatusNotFound, string(jobs.CodeNotFound), "job "+id+" not found", "")
		return "", false
	}
	return id, true
}

// getJob answers GET /v1/jobs/{id}.
func (a *API) getJob(w http.ResponseWriter, r *http.Request) {
	id, ok := jobID(w, r)
	if !ok {
		return
	}
	job, err := a.job(r.Context(), id)
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, job)
}

// listJobs answers GET /v1/jobs?server=&state=&type=&limit=.
func (a *API) listJobs(w http.ResponseWriter, r *http.Request) {
	f, err := jobFilter(r.URL.Query())
	if err != nil {
		fail(w, r, err)
		return
	}
	list, err := a.cfg.Store.ListJobs(r.Context(), f)
	if err != nil {
		fail(w, r, err)
		return
	}
	page := JobList{Jobs: list}
	if n := len(list); n > 0 && n == pageLimit(f.Limit) {
		page.Next = list[n-1].ID
	}
	writeJSON(w, http.StatusOK, page)
}

// pageLimit is the page size the store applies to a filter's Limit.
func pageLimit(limit int) int {
	if limit <= 0 {
		return 100
	}
	return min(limit, 1000)
}

// jobStates are the states a job list may be filtered by.
var jobStates = []jobs.State{jobs.StateQueued, jobs.StateRunning, jobs.StateRetrying,
	jobs.StateSucceeded, jobs.StateFailed, jobs.StateCanceled}

// jobFilter reads the query of GET /v1/jobs; an unknown parameter is an
// error, so that a typo does not list everything.
func jobFilter(q url.Values) (store.JobFilter, error) {
	var f store.JobFilter
	if err := onlyParams(q, "server", "state", "type", "limit", "after"); err != nil {
		return f, err
	}
	f.After = q.Get("after")
	if f.After != "" && !jobs.ValidJobID(f.After) {
		return f, jobs.Invalid("after", "must be a job id, the next of the previous page")
	}
	f.Server = q.Get("server")
	if f.Server != "" && !jobs.ValidServerID(f.Server) {
		return f, jobs.Invalid("server", "must match ^[a-z0-9][a-z0-9-]{0,62}$")
	}
	f.State = jobs.State(q.Get("state"))
	if f.State != "" && !slices.Contains(jobStates, f.State) {
		return f, jobs.Invalid("state", "must be one of queued, running, retrying, succeeded, failed, canceled")
	}
	if t := q.Get("type"); t != "" {
		typ, err := jobs.ParseType(t)
		if err != nil {
			return f, err
		}
		f.Type = typ
	}
	return f, parseLimit(q.Get("limit"), &f.Limit)
}

func parseLimit(s string, limit *int) error {
	if s == "" {
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1000 {
		return jobs.Invalid("limit", "must be a whole number from 1 to 1000")
	}
	*limit = n
	return nil
}

// onlyParams refuses query parameters other than names.
func onlyParams(q url.Values, names ...string) error {
	for key, values := range q {
		switch {
		case !slices.Contains(names, key):
			return jobs.Invalid(key, "is not a parameter of this route")
		case len(values) > 1: // which one would count is a guess: refuse it
			return jobs.Invalid(key, fmt.Sprintf("is given %d times: give it once", len(values)))
		}
	}
	return nil
}

// cancelJob answers POST /v1/jobs/{id}/cancel: 200 with the canceled job
// when it was waiting, 202 when it runs and will stop at its next step,
// 409 when it already ended or is not queued yet.
func (a *API) cancelJob(w http.ResponseWriter, r *http.Request) {
	id, ok := jobID(w, r)
	if !ok {
		return
	}
	if err := a.cancelable(r.Context(), id); err != nil {
		fail(w, r, err)
		return
	}
	job, err := a.cfg.Store.CancelJob(r.Context(), id, identityOf(r.Context()).Name)
	if err != nil {
		fail(w, r, err)
		return
	}
	status := http.StatusOK
	if !job.State.Terminal() {
		status = http.StatusAccepted
	}
	writeJSON(w, status, job)
}

// cancelable checks that job id has a record to cancel. A job that is
// only submitted is a conflict: asking the store to cancel it would leave a
// cancel flag behind for a job the caller was told could not be canceled.
func (a *API) cancelable(ctx context.Context, id string) error {
	_, err := a.cfg.Store.Job(ctx, id)
	if e := jobs.AsError(err); e == nil || e.Code != jobs.CodeNotFound {
		return err
	}
	rec, err := a.cfg.Store.SubmittedJob(ctx, id)
	switch {
	case err != nil:
		return err
	case rec.State == jobs.StateRejected:
		return jobs.Errorf(jobs.CodeConflict, false, "job %s was rejected: there is nothing to cancel", id)
	}
	return jobs.Errorf(jobs.CodeConflict, false, "job %s is submitted and not queued yet: try again in a moment", id)
}

// knownType reports whether s names a job type.
func knownType(s string) bool {
	_, err := jobs.ParseType(s)
	return err == nil
}
