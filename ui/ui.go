// Package ui is Tinman's web console: plain HTML, CSS and JavaScript
// modules, with no framework and no build step, embedded in the binary and
// served by the API under /ui/.
//
// The pages hold no data and need no token; they call the API (/v1/...)
// with the bearer token the browser keeps in its session storage. The
// token arrives in the URL's fragment (/ui/#token=...), which a browser
// never sends to a server, so it reaches no request line and no log; the
// page moves it to session storage and takes it off the address at once.
// Event streams are read with fetch, which can send the token in a header,
// rather than EventSource, which cannot.
//
// Every answer carries a Content-Security-Policy that allows only this
// origin's scripts, styles and connections: no inline script, no eval, no
// third-party host.
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed assets
var assets embed.FS

// Prefix is the path the console is served under.
const Prefix = "/ui/"

// ContentSecurityPolicy is sent with every answer of the console.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// asset is one embedded file, ready to serve.
type asset struct {
	data        []byte
	contentType string
	etag        string
}

// Console serves the console's files under Prefix.
type Console struct {
	files map[string]asset
}

// New returns the console with its embedded files.
func New() (*Console, error) {
	c := &Console{files: map[string]asset{}}
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		c.files[strings.TrimPrefix(p, "assets/")] = asset{data: data, contentType: contentType(p),
			etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the console's files: %w", err)
	}
	return c, nil
}

func contentType(name string) string {
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// ServeHTTP answers GET and HEAD of Prefix (index.html) and of the files
// below it; anything else is 404. Files are revalidated on every load
// (ETag), so that a new binary's console is never mixed with an old one.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	name, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if name == "" {
		name = "index.html"
	}
	f, found := c.files[name]
	if !ok || !found {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", f.etag)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.data))
}
