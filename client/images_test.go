package client_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/client"
)

// The image calls, against the real API: add (twice: a conflict naming
// name), list, read, remove.
func TestImageCalls(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := newClient(t, apiURL, 10*time.Second)
	n := client.NewImage{Name: "rest-image", KernelURL: "rest/vmlinuz", InitrdURL: "rest/initrd.img",
		ImageURL: "https://images.example.com/rest.img", SHA256: strings.Repeat("ab", 32)}
	img, resp, err := c.AddImage(ctx, n)
	if err != nil || img.Name != n.Name || img.CreatedAt.IsZero() || resp.Status != http.StatusCreated {
		t.Fatalf("AddImage = %+v, %+v, %v", img, resp, err)
	}
	var e *client.Error
	if _, _, err := c.AddImage(ctx, n); !errors.As(err, &e) || e.Status != http.StatusConflict || e.Field != "name" {
		t.Errorf("AddImage again = %v, want 409 naming name", err)
	}
	list, _, err := c.Images(ctx)
	if err != nil || !containsImage(list, n.Name) {
		t.Fatalf("Images = %+v, %v", list, err)
	}
	if img, _, err = c.Image(ctx, n.Name); err != nil || img.KernelURL != n.KernelURL {
		t.Fatalf("Image = %+v, %v", img, err)
	}
	if resp, err := c.RemoveImage(ctx, n.Name); err != nil || resp.Status != http.StatusNoContent {
		t.Fatalf("RemoveImage = %+v, %v", resp, err)
	}
	if _, _, err := c.Image(ctx, n.Name); !errors.As(err, &e) || e.Status != http.StatusNotFound {
		t.Errorf("Image after RemoveImage = %v, want 404", err)
	}
}

func containsImage(l client.ImageList, name string) bool {
	for _, img := range l.Images {
		if img.Name == name {
			return true
		}
	}
	return false
}
