package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/tinmanhq/tinman/jobs"
)

func jobPath(id string) string { return "/v1/jobs/" + url.PathEscape(id) }

// SubmitJob submits a job request (POST /v1/jobs, operator role) and
// returns once NATS has stored it. Give req an ID to make it safe to send
// again: the same id is one job, whatever the number of calls.
func (c *Client) SubmitJob(ctx context.Context, req jobs.Request) (Submitted, *Response, error) {
	var s Submitted
	resp, err := c.call(ctx, http.MethodPost, "/v1/jobs", nil, req, &s)
	return s, resp, err
}

// Job reads one job (GET /v1/jobs/{id}): submitted and rejected requests
// too, before a dispatcher has made them jobs.
func (c *Client) Job(ctx context.Context, id string) (jobs.Job, *Response, error) {
	var j jobs.Job
	resp, err := c.call(ctx, http.MethodGet, jobPath(id), nil, nil, &j)
	return j, resp, err
}

// Jobs lists the jobs q selects, newest first (GET /v1/jobs).
func (c *Client) Jobs(ctx context.Context, q JobQuery) (JobList, *Response, error) {
	var l JobList
	resp, err := c.call(ctx, http.MethodGet, "/v1/jobs", q.values(), nil, &l)
	return l, resp, err
}

func (q JobQuery) values() url.Values {
	v := url.Values{}
	for name, value := range map[string]string{"server": q.Server, "state": string(q.State), "type": string(q.Type), "after": q.After} {
		if value != "" {
			v.Set(name, value)
		}
	}
	if q.Limit != 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
}

// CancelJob asks for a job to stop (POST /v1/jobs/{id}/cancel, operator
// role): a job that waits is canceled at once (Response.Status 200), a
// running one stops at its next step (202). A job that ended is a 409 Error.
func (c *Client) CancelJob(ctx context.Context, id string) (jobs.Job, *Response, error) {
	var j jobs.Job
	resp, err := c.call(ctx, http.MethodPost, jobPath(id)+"/cancel", nil, nil, &j)
	return j, resp, err
}
