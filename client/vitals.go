package client

import (
	"context"
	"net/http"
)

// Vitals reads the health strip's figures (GET /v1/vitals, any role): the
// queues, the servers whose breaker is open and the outbox backlog. An API
// with no source of them answers 501.
func (c *Client) Vitals(ctx context.Context) (Vitals, *Response, error) {
	var v Vitals
	resp, err := c.call(ctx, http.MethodGet, "/v1/vitals", nil, nil, &v)
	return v, resp, err
}
