package main

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tinmanhq/tinman/api"
	"github.com/tinmanhq/tinman/boot"
)

// bootSettings are the boot service's flags: where it listens, where
// machines reach it (boot.Config.BaseURL), and the folder it serves
// (boot.Config.FilesDir).
type bootSettings struct {
	*settings
	Addr, URL, ImagesDir string
}

// bootFlags adds the boot service's flags; addr is --boot-addr's default
// ("": the service is off).
func bootFlags(cmd *cobra.Command, addr string) *bootSettings {
	const bc = "boot.Config"
	s := &bootSettings{settings: newSettings(cmd.Flags()), Addr: addr}
	off := ""
	if addr == "" {
		off = " (empty: no boot service)"
	}
	s.fs.StringVar(&s.Addr, "boot-addr", addr, "address of the boot service, which machines being installed reach with no token"+off)
	s.stringVar(&s.URL, bc, "BaseURL", "boot-url", "the boot service's URL as machines reach it; every URL it hands out is built on it (default: the Host each machine asked with, else http://<boot-addr>)")
	s.stringVar(&s.ImagesDir, bc, "FilesDir", "images-dir", "folder the boot service serves under /boot/files/ (images registered with relative URLs)")
	return s
}

// listen opens the boot service's listener and says the URL processes of
// this host reach it at: --boot-url, else http:// and the address listened
// on (the loopback when it listens on every address). Without --boot-url,
// the service builds the URLs it hands a machine on the Host the machine
// asked with (boot.Config.ListenURL is only its fallback).
func (s bootSettings) listen() (net.Listener, string, error) {
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return nil, "", usageErr("--boot-addr %s: %v", s.Addr, err)
	}
	if s.URL != "" {
		return ln, strings.TrimRight(s.URL, "/"), nil
	}
	return ln, listenURL(ln), nil
}

// listenURL is http:// and ln's address; the loopback for an address that
// is every address.
func listenURL(ln net.Listener) string {
	addr := ln.Addr().(*net.TCPAddr)
	if addr.IP.IsUnspecified() {
		return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(addr.Port))
	}
	return "http://" + addr.String()
}

// listenIfOn is listen when the service has an address, after checking the
// settings (before the role waits for NATS or Redis); nil, "" when it is off.
func (s *bootSettings) listenIfOn() (net.Listener, string, error) {
	if s.Addr == "" {
		return nil, "", nil
	}
	ln, url, err := s.listen()
	if err != nil {
		return nil, "", err
	}
	if err := s.refused(boot.Config{BaseURL: s.URL, ListenURL: listenURL(ln), FilesDir: s.ImagesDir}.Validate()); err != nil {
		_ = ln.Close()
		return nil, "", err
	}
	return ln, url, nil
}

// service builds the boot service on b's store, its URLs on --boot-url or
// each request's Host, taking installer reports through callbacks; it
// returns what serves it on ln, and a refused setting as a usage error
// naming the flag.
func (s *bootSettings) service(b *backend, ln net.Listener, callbacks http.Handler) (func(context.Context) error, error) {
	svc, err := boot.New(boot.Config{BaseURL: s.URL, ListenURL: listenURL(ln), FilesDir: s.ImagesDir, Store: b.store, Callbacks: callbacks,
		Logger: b.log.With().Str("component", "boot").Logger()})
	if err != nil {
		return nil, s.refused(err)
	}
	return func(ctx context.Context) error {
		defer svc.Close()
		return serveListener(ctx, ln, svc.Handler(), api.NewHealth(time.Second))
	}, nil
}
