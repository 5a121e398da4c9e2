// Package boot is the boot service: the HTTP listener that machines being
// installed talk to. They carry no bearer token, so it serves only what a
// machine needs, keyed by what the machine can know:
//
//	GET  /boot/chain.ipxe         a fixed iPXE script that chains to /boot/ipxe with the NIC's MAC
//	GET  /boot/ipxe?mac=MAC       the install (or wipe) script of the server with that boot MAC and
//	                              a pending boot; "exit" (boot the local disk) for any other
//	GET  /boot/meta/TOKEN         the installer's metadata, known by its job's token only
//	POST /boot/callbacks/SERVER   the installer's reports (package callback's handler)
//	GET  /boot/files/PATH         files of a local folder (--images-dir), with Range
//
// Every URL it hands out is built on its public base URL (BaseURL) when it
// has one; else on the Host each request came with, so that a VM under
// QEMU user networking (which reaches the host as 10.0.2.2) and a process
// on the host (127.0.0.1) each get URLs they can reach. It writes nothing: the workflows of package workers
// put the boot configurations in the store, and end them.
package boot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/rs/zerolog"

	"github.com/tinmanhq/tinman/internal/confcheck"
	"github.com/tinmanhq/tinman/jobs"
	"github.com/tinmanhq/tinman/store"
)

// Store is what the boot service reads (implemented by *store.Store).
type Store interface {
	ServerByMAC(ctx context.Context, mac string) (jobs.Server, error)
	BootConfig(ctx context.Context, server string) (store.BootConfig, error)
	BootConfigByToken(ctx context.Context, token string) (store.BootConfig, error)
	CallbackReceived(ctx context.Context, jobID, kind string) (bool, error)
	Failure(ctx context.Context, jobID string) (*store.InstallerFailure, error)
}

// Config configures a Service. Store is required, and BaseURL or
// ListenURL.
type Config struct {
	// BaseURL is where machines reach the service: http:// or https://, a
	// host, an optional path prefix, no query. When set, every URL handed
	// out is built on it; when empty, on the scheme and Host of the request
	// that asks (host[:port] only).
	BaseURL string
	// ListenURL is http:// and the address the service listens on: the
	// base of the URLs handed out when BaseURL is empty and a request's
	// Host is not host[:port].
	ListenURL string
	// FilesDir is served under /boot/files/ ("": nothing is).
	FilesDir string
	// Store holds the servers and their boot configurations.
	Store Store
	// Callbacks serves POST /boot/callbacks/{id} (nil: 501): the same
	// handler as the API's POST /v1/servers/{id}/callbacks.
	Callbacks http.Handler
	// Logger receives a line per script, metadata and callback served,
	// never a token.
	Logger zerolog.Logger
}

// Service is the boot service. It is safe for concurrent use.
type Service struct {
	cfg    Config
	base   string // BaseURL without a trailing slash; "" when URLs follow Host
	listen string // ListenURL without a trailing slash
	root   *os.Root
	mux    *http.ServeMux
}

// Validate names every setting of c that cannot be used: a base or listen
// URL that is not http(s) with a host (or has a query or credentials), no
// listen URL when there is no base URL, a files folder that cannot be
// opened. It does not look at Store.
func (c Config) Validate() error {
	v := confcheck.For("boot.Config")
	const rule = "must be an http:// or https:// URL with a host, no query and no credentials"
	v.Require(c.BaseURL == "" || validBaseURL(c.BaseURL), "BaseURL", c.BaseURL, rule)
	v.Require(validBaseURL(c.ListenURL) || c.BaseURL != "" && c.ListenURL == "", "ListenURL", c.ListenURL, rule+" (required without BaseURL)")
	if c.FilesDir != "" {
		st, err := os.Stat(c.FilesDir)
		v.Require(err == nil && st.IsDir(), "FilesDir", c.FilesDir, "must be a folder that can be read")
	}
	return v.Err()
}

// New returns the Service of cfg, or an error naming the setting it cannot
// use. Close it to release the files folder.
func New(cfg Config) (*Service, error) {
	v := confcheck.For("boot.Config")
	v.Present("Store", cfg.Store)
	if err := errors.Join(v.Err(), cfg.Validate()); err != nil {
		return nil, fmt.Errorf("boot service: %w", err)
	}
	var root *os.Root
	if cfg.FilesDir != "" {
		var err error
		if root, err = os.OpenRoot(cfg.FilesDir); err != nil {
			return nil, fmt.Errorf("boot service: %w", &confcheck.FieldError{Config: "boot.Config", Field: "FilesDir", Value: cfg.FilesDir, Rule: err.Error()})
		}
	}
	s := &Service{cfg: cfg, base: strings.TrimRight(cfg.BaseURL, "/"), listen: strings.TrimRight(cfg.ListenURL, "/"),
		root: root, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /boot/chain.ipxe", s.serveChain)
	s.mux.HandleFunc("GET /boot/ipxe", s.serveScript)
	s.mux.HandleFunc("GET /boot/meta/{token}", s.serveMeta)
	s.mux.HandleFunc("POST /boot/callbacks/{id}", s.serveCallback)
	s.mux.HandleFunc("GET /boot/files/{path...}", s.serveFile)
	return s, nil
}

func validBaseURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.User == nil && u.RawQuery == "" && u.Fragment == ""
}

// Handler returns the service as one http.Handler.
func (s *Service) Handler() http.Handler { return s.mux }

// BaseURL is the public base URL, without a trailing slash; "" when the
// URLs handed out follow each request's Host.
func (s *Service) BaseURL() string { return s.base }

// Close releases the files folder.
func (s *Service) Close() error {
	if s.root == nil {
		return nil
	}
	return s.root.Close()
}

// serveChain answers the fixed script a DHCP server or QEMU can name as the
// boot file: it sends iPXE on to the script of its own MAC.
func (s *Service) serveChain(w http.ResponseWriter, r *http.Request) {
	writeScript(w, "#!ipxe\nchain "+s.baseFor(r)+"/boot/ipxe?mac=${net0/mac}\n")
}

// exitScript hands the machine back to its firmware, which boots the disk.
const exitScript = "#!ipxe\nexit\n"

func writeScript(w http.ResponseWriter, script string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(script))
}

// Metadata is what GET /boot/meta/{token} answers: what the installer
// does, and how it reports.
type Metadata struct {
	JobID       string `json:"job_id"`
	Server      string `json:"server"`
	Purpose     string `json:"purpose"`
	Image       string `json:"image"`
	ImageURL    string `json:"image_url"`
	SHA256      string `json:"sha256"`
	CallbackURL string `json:"callback_url"`
	Token       string `json:"token"`
}

// metadata is cfg as its installer reads it, every URL absolute on base.
func metadata(base string, cfg store.BootConfig) Metadata {
	return Metadata{JobID: cfg.JobID, Server: cfg.Server, Purpose: cfg.Purpose, Image: cfg.Image,
		ImageURL: jobs.ResolveURL(base, cfg.Disk), SHA256: cfg.SHA256,
		CallbackURL: base + "/boot/callbacks/" + url.PathEscape(cfg.Server), Token: cfg.Token}
}

// serveMeta answers the installer's metadata for its token, as JSON or,
// with ?format=sh, as shell assignments; 404 for an unknown token and for
// one whose job has ended.
func (s *Service) serveMeta(w http.ResponseWriter, r *http.Request) {
	format := r.URL.Query().Get("format")
	if format != "" && format != "json" && format != "sh" {
		http.Error(w, "format must be json or sh", http.StatusBadRequest)
		return
	}
	cfg, err := s.cfg.Store.BootConfigByToken(r.Context(), r.PathValue("token"))
	switch {
	case jobs.CodeOf(err) == jobs.CodeNotFound:
		http.Error(w, "no pending boot has this token", http.StatusNotFound)
		return
	case err != nil:
		s.cfg.Logger.Warn().Err(err).Msg("boot metadata not read")
		http.Error(w, "the boot service cannot read its records: try again", http.StatusServiceUnavailable)
		return
	}
	meta := metadata(s.baseFor(r), cfg)
	s.cfg.Logger.Info().Str("server", meta.Server).Str("job_id", meta.JobID).Str("purpose", meta.Purpose).Msg("boot metadata served")
	w.Header().Set("Cache-Control", "no-store")
	if format == "sh" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(meta.shell()))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(meta)
}

// shell writes m as KEY='value' lines a POSIX shell can source: each value
// in single quotes, a single quote in it closed, escaped and opened again.
func (m Metadata) shell() string {
	var b strings.Builder
	for _, kv := range [][2]string{{"JOB_ID", m.JobID}, {"SERVER", m.Server}, {"PURPOSE", m.Purpose}, {"IMAGE", m.Image},
		{"IMAGE_URL", m.ImageURL}, {"SHA256", m.SHA256}, {"CALLBACK_URL", m.CallbackURL}, {"TOKEN", m.Token}} {
		b.WriteString(kv[0] + "='" + strings.ReplaceAll(kv[1], "'", `'\''`) + "'\n")
	}
	return b.String()
}

// serveCallback hands an installer's report to the callbacks handler.
func (s *Service) serveCallback(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Callbacks == nil {
		http.Error(w, "installer callbacks are not configured", http.StatusNotImplemented)
		return
	}
	s.cfg.Callbacks.ServeHTTP(w, r)
}

// serveFile serves one file of FilesDir: no listing, nothing outside it
// (os.Root refuses "..", absolute paths and links that leave it), Range
// and conditional requests through http.ServeContent.
func (s *Service) serveFile(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("path")
	if s.root == nil || !fs.ValidPath(name) || name == "." {
		http.NotFound(w, r)
		return
	}
	f, err := s.root.Open(name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	http.ServeContent(w, r, st.Name(), st.ModTime(), f)
}
