package api

// Health: /healthz answers from memory, /readyz from a background check, so
// that a flood of probes makes no flood of I/O, and readiness drops the
// moment shutdown begins.

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Check is one dependency probe, such as "nats" or "redis".
type Check struct {
	Name  string
	Probe func(ctx context.Context) error
	// Advisory: a failure shows in /readyz's checks but leaves the process
	// ready (it is about the system, not about this process serving).
	Advisory bool
}

// Health keeps the last result of every check.
type Health struct {
	checks   []Check
	interval time.Duration
	draining atomic.Bool
	mu       sync.RWMutex
	results  map[string]string // name -> "ok" or the error
	ready    bool
}

// NewHealth returns a Health that runs checks every interval (default 1 s).
func NewHealth(interval time.Duration, checks ...Check) *Health {
	if interval <= 0 {
		interval = time.Second
	}
	return &Health{checks: checks, interval: interval, results: map[string]string{}}
}

// Run probes every interval until ctx ends.
func (h *Health) Run(ctx context.Context) {
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		h.probe(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (h *Health) probe(ctx context.Context) {
	results, ready := make(map[string]string, len(h.checks)), true
	for _, c := range h.checks {
		pctx, cancel := context.WithTimeout(ctx, h.interval)
		err := c.Probe(pctx)
		cancel()
		results[c.Name] = "ok"
		if err != nil {
			results[c.Name] = err.Error()
			ready = ready && c.Advisory
		}
	}
	h.mu.Lock()
	h.results, h.ready = results, ready
	h.mu.Unlock()
}

// Drain marks the process as shutting down: /readyz answers 503 from now on.
func (h *Health) Drain() { h.draining.Store(true) }

// Healthz answers liveness with no I/O.
func (h *Health) Healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// Readyz answers readiness from the last background check.
func (h *Health) Readyz(w http.ResponseWriter, _ *http.Request) {
	h.mu.RLock()
	body := map[string]any{"checks": h.results}
	ready := h.ready
	h.mu.RUnlock()
	status, code := "ready", http.StatusOK
	switch {
	case h.draining.Load():
		status, code = "shutting down", http.StatusServiceUnavailable
	case !ready:
		status, code = "not ready", http.StatusServiceUnavailable
	}
	body["status"] = status
	writeJSON(w, code, body)
}
