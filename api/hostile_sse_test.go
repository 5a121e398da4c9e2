package api

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/tinmanhq/tinman/hostiletest"
)

// TestHostileSSE walks the catalogue of hostile event stream requests
// (testdata/hostile, edge "sse"): each is refused before a stream opens,
// naming its parameter or header, and leaves no consumer on TINMAN_EVENTS
// and nothing changed; a good stream opens at the end.
func TestHostileSSE(t *testing.T) {
	t.Parallel()
	h := setupHostile(t)
	h.walk(t, "sse", h.openStream)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if f := h.stream(t, ctx, "type=job.failed&server=srv-1").next(t); f.comment != "stream open" {
		t.Errorf("first frame of a good stream: %+v", f)
	}
}

// openStream sends c; a stream that opens is an answer without a body,
// closed at once.
func (h *hostile) openStream(t *testing.T, c hostiletest.Case) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := h.client.Do(h.request(t, c).WithContext(ctx))
	if err != nil {
		t.Fatalf("%s %s: %v", c.Method, c.Path, err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode != http.StatusOK {
		if a.body, err = io.ReadAll(resp.Body); err != nil {
			t.Fatalf("read %s %s: %v", c.Method, c.Path, err)
		}
	}
	return a
}
