package client

import (
	"context"
	"net/http"
	"net/url"
)

func serverPath(id string) string { return "/v1/servers/" + url.PathEscape(id) }

// EnrolServer enrols a server (POST /v1/servers, admin role) and returns it
// as stored: enrolled, its power unknown.
func (c *Client) EnrolServer(ctx context.Context, e Enrolment) (Server, *Response, error) {
	return c.server(ctx, http.MethodPost, "/v1/servers", e)
}

// Servers lists the servers whose labels match selector, "k=v,k2=v2" ("":
// every server) (GET /v1/servers).
func (c *Client) Servers(ctx context.Context, selector string) (ServerList, *Response, error) {
	var q url.Values
	if selector != "" {
		q = url.Values{"selector": {selector}}
	}
	var l ServerList
	resp, err := c.call(ctx, http.MethodGet, "/v1/servers", q, nil, &l)
	return l, resp, err
}

// Server reads one server (GET /v1/servers/{id}).
func (c *Client) Server(ctx context.Context, id string) (Server, *Response, error) {
	return c.server(ctx, http.MethodGet, serverPath(id), nil)
}

// PatchServer changes a server with a JSON merge patch (PATCH
// /v1/servers/{id}) and returns it as changed.
func (c *Client) PatchServer(ctx context.Context, id string, p ServerPatch) (Server, *Response, error) {
	return c.server(ctx, http.MethodPatch, serverPath(id), p)
}

// RemoveServer removes a server and its credentials (DELETE
// /v1/servers/{id}, admin role). While a job holds the server, or it is in
// a transitional state, the API refuses with a 409 Error.
func (c *Client) RemoveServer(ctx context.Context, id string) (*Response, error) {
	return c.call(ctx, http.MethodDelete, serverPath(id), nil, nil, nil)
}

// server sends a call that a server answers.
func (c *Client) server(ctx context.Context, method, path string, in any) (Server, *Response, error) {
	var s Server
	resp, err := c.call(ctx, method, path, nil, in, &s)
	return s, resp, err
}
