package client_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/client"
)

// Vitals against the real API of this package's tests, which has no source
// of vitals: a 501 Error (cmd/tinman's status test reads them from tinman dev).
func TestVitalsOfAnAPIWithoutThem(t *testing.T) {
	t.Parallel()
	c := newClient(t, apiURL, 10*time.Second)
	var e *client.Error
	if _, _, err := c.Vitals(t.Context()); !errors.As(err, &e) || e.Status != http.StatusNotImplemented {
		t.Errorf("Vitals = %v, want a 501 Error", err)
	}
}
