package api

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"
)

// Serve answers on ln until ctx ends, then shuts down gracefully:
//  1. /readyz answers 503 at once (Health.Drain);
//  2. for Timeouts.DrainDelay the server keeps answering, so that load
//     balancers see the 503 and stop sending;
//  3. the listener closes (new connections are refused), event streams
//     end, and in-flight requests get Timeouts.Shutdown to finish;
//  4. what is still open after that is cut.
//
// The health checks run in the background for as long as Serve does.
func (a *API) Serve(ctx context.Context, ln net.Listener) error {
	srv := a.server()
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
	return a.shutdown(srv, errc)
}

// server is the hardened http.Server of the API.
func (a *API) server() *http.Server {
	t := a.cfg.Timeouts
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    t.MaxHeaderBytes,
		ErrorLog:          stdlog.New(httpErrorLog{a.log}, "", 0),
	}
	srv.RegisterOnShutdown(a.stopStreams)
	return srv
}

// shutdown drains, waits DrainDelay, then stops the server.
func (a *API) shutdown(srv *http.Server, errc <-chan error) error {
	a.health.Drain()
	a.log.Info().Dur("drain_delay", a.cfg.Timeouts.DrainDelay).Msg("shutting down: /readyz answers 503")
	time.Sleep(a.cfg.Timeouts.DrainDelay)
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.Timeouts.Shutdown)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		a.log.Warn().Err(err).Dur("timeout", a.cfg.Timeouts.Shutdown).Msg("in-flight requests outlasted the shutdown timeout: cut")
		_ = srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve HTTP: %w", err)
	}
	a.log.Info().Msg("HTTP API stopped")
	return nil
}

// httpErrorLog feeds net/http's own messages (TLS handshakes, bad
// requests, panics it recovers) to zerolog.
type httpErrorLog struct{ log zerolog.Logger }

func (l httpErrorLog) Write(p []byte) (int, error) {
	l.log.Warn().Str("component", "http").Msg(string(trimNewline(p)))
	return len(p), nil
}

func trimNewline(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}
