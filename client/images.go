package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/tinmanhq/tinman/jobs"
)

func imagePath(name string) string { return "/v1/images/" + url.PathEscape(name) }

// AddImage puts an image in the catalogue (POST /v1/images, admin role)
// and returns it as stored. A name in use is a 409 Error naming "name".
func (c *Client) AddImage(ctx context.Context, img NewImage) (jobs.Image, *Response, error) {
	return c.image(ctx, http.MethodPost, "/v1/images", img)
}

// Images lists the catalogue, by name (GET /v1/images).
func (c *Client) Images(ctx context.Context) (ImageList, *Response, error) {
	var l ImageList
	resp, err := c.call(ctx, http.MethodGet, "/v1/images", nil, nil, &l)
	return l, resp, err
}

// Image reads one catalogue entry (GET /v1/images/{name}).
func (c *Client) Image(ctx context.Context, name string) (jobs.Image, *Response, error) {
	return c.image(ctx, http.MethodGet, imagePath(name), nil)
}

// RemoveImage takes an image out of the catalogue (DELETE
// /v1/images/{name}, admin role).
func (c *Client) RemoveImage(ctx context.Context, name string) (*Response, error) {
	return c.call(ctx, http.MethodDelete, imagePath(name), nil, nil, nil)
}

// image sends a call that an image answers.
func (c *Client) image(ctx context.Context, method, path string, in any) (jobs.Image, *Response, error) {
	var img jobs.Image
	resp, err := c.call(ctx, method, path, nil, in, &img)
	return img, resp, err
}
