package bmcsim

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

const (
	// shutdownGrace bounds how long Close waits for requests to drain before
	// closing connections forcibly.
	shutdownGrace = 5 * time.Second
	// relistenAttempts and relistenPause bound re-binding the port when a BMC
	// comes back online.
	relistenAttempts = 50
	relistenPause    = 20 * time.Millisecond
)

// shared is the immutable data a BMC needs that can be shared by a fleet.
type shared struct {
	cert    *certificate
	catalog *catalog
}

func newShared() (*shared, error) {
	cert, err := newCertificate(time.Now())
	if err != nil {
		return nil, err
	}
	cat, err := loadCatalog()
	if err != nil {
		return nil, err
	}
	return &shared{cert: cert, catalog: cat}, nil
}

// certificate is a self-signed ECDSA P-256 server certificate.
type certificate struct {
	tls  tls.Certificate
	pool *x509.CertPool
}

// newCertificate creates a certificate valid for loopback, generated in memory.
func newCertificate(now time.Time) (*certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("bmcsim: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("bmcsim: generate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "bmcsim", Organization: []string{"tinman bmcsim"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(5, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("bmcsim: create certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("bmcsim: parse certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &certificate{
		tls:  tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		pool: pool,
	}, nil
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves Redfish over HTTPS.
// A BMC can be started once.
func (b *BMC) Start(addr string) error {
	if b.initErr != nil {
		return b.initErr
	}
	b.lc.Lock()
	defer b.lc.Unlock()
	if b.closed {
		return ErrClosed
	}
	if b.addr != "" {
		return fmt.Errorf("bmcsim: already started on %s", b.addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("bmcsim: listen on %s: %w", addr, err)
	}
	bound := ln.Addr().String()
	b.addr = bound
	b.addrV.Store(&bound)
	if b.offline { // SetOffline(true) before Start: keep the port, stay dark
		return closeListener(ln)
	}
	b.serveLocked(ln)
	b.log.Debug().Str("bmc", b.addr).Msg("started")
	return nil
}

func closeListener(ln net.Listener) error {
	if err := ln.Close(); err != nil {
		return fmt.Errorf("bmcsim: close listener: %w", err)
	}
	return nil
}

// serveLocked serves HTTPS on ln with a fresh http.Server. Caller holds b.lc.
func (b *BMC) serveLocked(ln net.Listener) {
	srv := &http.Server{
		Handler:           b,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          log.New(errorLogWriter{b.log}, "", 0),
	}
	b.srv = srv
	tlsLn := tls.NewListener(ln, &tls.Config{
		Certificates: []tls.Certificate{b.shared.cert.tls},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
		// The key exchanges a BMC's TLS stack offers: X25519 and P-256, not
		// Go's post-quantum hybrid, which few BMCs speak yet (and which
		// would make the simulator's handshakes dearer than a real one's).
		CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256},
		VerifyConnection: func(cs tls.ConnectionState) error {
			if cs.DidResume {
				b.resumedTLS.Add(1)
			} else {
				b.fullTLS.Add(1)
			}
			return nil
		},
	})
	b.serving.Add(1)
	go func() {
		defer b.serving.Done()
		if err := srv.Serve(tlsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.log.Error().Err(err).Str("bmc", ln.Addr().String()).Msg("serve failed")
		}
	}()
}

// Addr returns "127.0.0.1:PORT" once started, "" before.
func (b *BMC) Addr() string {
	if p := b.addrV.Load(); p != nil {
		return *p
	}
	return ""
}

// Close stops listening, releases hung requests, waits for in-flight handlers
// and queued OnCommand calls, and returns. It is idempotent.
func (b *BMC) Close() error {
	b.lc.Lock()
	if b.closed {
		b.lc.Unlock()
		return nil
	}
	b.closed = true
	close(b.done)
	srv := b.srv
	b.srv = nil
	b.lc.Unlock()

	var err error
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		if shutErr := srv.Shutdown(ctx); shutErr != nil {
			err = fmt.Errorf("bmcsim: shutdown %s: %w", b.Addr(), shutErr)
			_ = srv.Close()
		}
		cancel()
	}
	b.gate.close()
	b.serving.Wait()
	b.hooks.wait()
	return err
}

// setOffline implements Faults.SetOffline.
func (b *BMC) setOffline(off bool) {
	b.lc.Lock()
	defer b.lc.Unlock()
	if b.closed || b.offline == off {
		return
	}
	b.offline = off
	if b.addr == "" { // not started yet: Start honours the flag
		return
	}
	if off {
		b.goDarkLocked()
		return
	}
	b.relistenLocked()
}

// goDarkLocked closes the listener and all connections. Caller holds b.lc.
func (b *BMC) goDarkLocked() {
	if b.srv == nil {
		return
	}
	if err := b.srv.Close(); err != nil {
		b.log.Warn().Err(err).Str("bmc", b.addr).Msg("closing server for offline fault")
	}
	b.srv = nil
	b.log.Info().Str("bmc", b.addr).Msg("offline")
}

// relistenLocked binds the same address again. Caller holds b.lc.
func (b *BMC) relistenLocked() {
	var lastErr error
	for range relistenAttempts {
		ln, err := net.Listen("tcp", b.addr)
		if err == nil {
			b.serveLocked(ln)
			b.log.Info().Str("bmc", b.addr).Msg("online")
			return
		}
		lastErr = err
		time.Sleep(relistenPause)
	}
	b.offline = true
	b.log.Error().Err(lastErr).Str("bmc", b.addr).Msg("cannot listen again; staying offline")
}

// errorLogWriter forwards net/http's internal log (TLS handshake errors from
// clients that hang up, ...) to zerolog at debug level.
type errorLogWriter struct{ log zerolog.Logger }

// Write logs one net/http log line.
func (w errorLogWriter) Write(p []byte) (int, error) {
	w.log.Debug().Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}
