package api

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Serve answers on ln until ctx ends, then shuts down gracefully:
//  1. /readyz answers 503 at once (Health.Drain);
//  2. for Timeouts.DrainDelay the server keeps answering, so that load
//     balancers see the 503 and stop sending;
//  3. the listener closes (new connections are refused), event streams
//     end, and every connection already accepted has its request
//     answered, each connection closing after its answer; all of this
//     within Timeouts.Shutdown;
//  4. what is still open after that is cut.
//
// The health checks run in the background for as long as Serve does.
func (a *API) Serve(ctx context.Context, ln net.Listener) error {
	conns := &connCount{}
	srv := a.server(conns)
	hctx, stopHealth := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHealth()
	go a.health.Run(hctx)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.log.Info().Str("addr", ln.Addr().String()).Msg("HTTP API listening")
	select {
	case err := <-errc:
		return fmt.Errorf("serve HTTP on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	return a.shutdown(srv, ln, conns, errc)
}

// server is the hardened http.Server of the API; conns counts its connections.
func (a *API) server(conns *connCount) *http.Server {
	t := a.cfg.Timeouts
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    t.MaxHeaderBytes,
		ErrorLog:          stdlog.New(httpErrorLog{a.cfg.Logger.With().Str("component", "http").Logger()}, "", 0),
		ConnState:         conns.track,
	}
	srv.RegisterOnShutdown(a.stopStreams)
	return srv
}

// shutdown drains, waits DrainDelay, then stops the server.
//
// It does not leave the in-flight requests to http.Server.Shutdown alone:
// once Shutdown has begun, net/http closes without an answer every
// connection whose request it reads from then on, even the first request
// of a connection it accepted just before the listener closed. A load
// balancer sees the connection close with no answer ("upstream prematurely
// closed") and may not send a POST again. So the listener is closed first,
// with keep-alives off, while the server still answers what it accepted;
// Shutdown comes once those connections have closed, or at the timeout.
func (a *API) shutdown(srv *http.Server, ln net.Listener, conns *connCount, errc <-chan error) error {
	a.health.Drain()
	a.log.Info().Dur("drain_delay_ms", a.cfg.Timeouts.DrainDelay).Msg("shutting down: /readyz answers 503")
	time.Sleep(a.cfg.Timeouts.DrainDelay)
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.Timeouts.Shutdown)
	defer cancel()
	srv.SetKeepAlivesEnabled(false) // every answer from now on closes its connection
	if err := ln.Close(); err != nil {
		return fmt.Errorf("close listener %s: %w", ln.Addr(), err)
	}
	if err := <-errc; !errors.Is(err, net.ErrClosed) && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve HTTP: %w", err)
	}
	a.stopStreams()
	if err := conns.wait(ctx); err != nil {
		a.log.Warn().Err(err).Dur("timeout_ms", a.cfg.Timeouts.Shutdown).Msg("in-flight requests outlasted the shutdown timeout: cut")
	}
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
	}
	a.log.Info().Msg("HTTP API stopped")
	return nil
}

// connCount counts the server's open connections (http.Server.ConnState).
type connCount struct {
	mu   sync.Mutex
	open int
	zero chan struct{} // closed, then replaced, each time open falls to 0
}

func (c *connCount) track(_ net.Conn, state http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch state {
	case http.StateNew:
		c.open++
	case http.StateClosed, http.StateHijacked:
		c.open--
		if c.open == 0 && c.zero != nil {
			close(c.zero)
			c.zero = nil
		}
	}
}

// wait returns once no connection is open, or with ctx's error.
func (c *connCount) wait(ctx context.Context) error {
	c.mu.Lock()
	if c.open == 0 {
		c.mu.Unlock()
		return nil
	}
	if c.zero == nil {
		c.zero = make(chan struct{})
	}
	zero := c.zero
	c.mu.Unlock()
	select {
	case <-zero:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for %d open connections: %w", c.count(), ctx.Err())
	}
}

func (c *connCount) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open
}

// httpErrorLog feeds net/http's own messages (TLS handshakes, bad
// requests, panics it recovers) to zerolog.
type httpErrorLog struct{ log zerolog.Logger }

func (l httpErrorLog) Write(p []byte) (int, error) {
	l.log.Warn().Msg(string(trimNewline(p)))
	return len(p), nil
}

func trimNewline(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}
