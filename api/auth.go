package api

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// Role is what a bearer token may do. Roles are ordered: each may do what
// the ones below it may.
type Role int

// The roles of the contract, lowest first. RoleNone marks routes that need
// no token (health, OpenAPI) and callers that presented none.
const (
	RoleNone Role = iota
	// RoleViewer reads: jobs, servers, events, metrics, the queue monitor.
	RoleViewer
	// RoleOperator also submits and cancels jobs and sets or clears a
	// server's maintenance.
	RoleOperator
	// RoleAdmin also enrols, changes and removes servers and their credentials.
	RoleAdmin
)

// String returns the role's name as written in token configuration.
func (r Role) String() string {
	switch r {
	case RoleViewer:
		return "viewer"
	case RoleOperator:
		return "operator"
	case RoleAdmin:
		return "admin"
	}
	return "none"
}

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	for _, r := range []Role{RoleViewer, RoleOperator, RoleAdmin} {
		if r.String() == s {
			return r, nil
		}
	}
	return RoleNone, fmt.Errorf("%w: role %q: must be viewer, operator or admin", ErrInvalidTokens, s)
}

// ErrInvalidTokens is wrapped by every token configuration error.
var ErrInvalidTokens = errors.New("invalid token configuration")

// Tokens are the bearer tokens the API accepts, each kept only as its
// SHA-256 hash with a role. The zero value accepts no token.
type Tokens struct {
	entries []tokenEntry
}

type tokenEntry struct {
	hash [sha256.Size]byte
	role Role
}

// Len is the number of tokens configured.
func (t *Tokens) Len() int {
	if t == nil {
		return 0
	}
	return len(t.entries)
}

// Add accepts one more token, given by the SHA-256 of its text.
func (t *Tokens) Add(role Role, hash [sha256.Size]byte) {
	t.entries = append(t.entries, tokenEntry{hash: hash, role: role})
}

// AddPlain accepts one more token given in clear: only its hash is kept.
func (t *Tokens) AddPlain(role Role, token string) {
	t.Add(role, sha256.Sum256([]byte(token)))
}

// HashToken returns the configuration form of token: "sha256:HEX".
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ParseTokens parses "ROLE:sha256:HEX,ROLE:sha256:HEX" (spaces and empty
// items are ignored). Tokens given here are hashes only, so that no secret
// sits in a flag or an environment variable: plain tokens belong in a
// file (LoadTokenFile).
func ParseTokens(spec string) (*Tokens, error) {
	t := &Tokens{}
	for item := range strings.SplitSeq(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		role, hash, err := parseHashed(item)
		if err != nil {
			return nil, err
		}
		t.Add(role, hash)
	}
	return t, nil
}

// parseHashed parses "ROLE:sha256:HEX".
func parseHashed(item string) (Role, [sha256.Size]byte, error) {
	var hash [sha256.Size]byte
	name, rest, ok := strings.Cut(item, ":")
	if !ok {
		return RoleNone, hash, fmt.Errorf("%w: %q: want ROLE:sha256:HEX", ErrInvalidTokens, redact(item))
	}
	role, err := ParseRole(name)
	if err != nil {
		return RoleNone, hash, err
	}
	hexText, ok := strings.CutPrefix(rest, "sha256:")
	if !ok {
		return RoleNone, hash, fmt.Errorf("%w: the %s token is not a hash: want %s:sha256:HEX (put plain tokens in a token file)", ErrInvalidTokens, name, name)
	}
	raw, err := hex.DecodeString(hexText)
	if err != nil || len(raw) != sha256.Size {
		return RoleNone, hash, fmt.Errorf("%w: the %s token hash must be 64 hex digits", ErrInvalidTokens, name)
	}
	copy(hash[:], raw)
	return role, hash, nil
}

// redact keeps only the role part of a token item, for error messages.
func redact(item string) string {
	name, _, _ := strings.Cut(item, ":")
	return name + ":..."
}

// LoadTokenFile reads tokens from a file, one "ROLE:sha256:HEX" or
// "ROLE:TOKEN" (a plain token, hashed at load) per line; blank lines and
// lines starting with # are ignored.
func LoadTokenFile(path string) (*Tokens, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: read token file: %w", ErrInvalidTokens, err)
	}
	return parseTokenLines(data, path)
}

func parseTokenLines(data []byte, path string) (*Tokens, error) {
	t := &Tokens{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := t.addLine(line); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: read %s: %w", ErrInvalidTokens, path, err)
	}
	return t, nil
}

func (t *Tokens) addLine(line string) error {
	name, rest, ok := strings.Cut(line, ":")
	if !ok || rest == "" {
		return fmt.Errorf("%w: want ROLE:TOKEN or ROLE:sha256:HEX", ErrInvalidTokens)
	}
	if strings.HasPrefix(rest, "sha256:") {
		role, hash, err := parseHashed(line)
		if err == nil {
			t.Add(role, hash)
		}
		return err
	}
	role, err := ParseRole(name)
	if err != nil {
		return err
	}
	if len(rest) < 16 {
		return fmt.Errorf("%w: the %s token is shorter than 16 characters", ErrInvalidTokens, name)
	}
	t.AddPlain(role, rest)
	return nil
}

// Merge returns the tokens of t and u together.
func (t *Tokens) Merge(u *Tokens) *Tokens {
	out := &Tokens{}
	for _, src := range []*Tokens{t, u} {
		if src != nil {
			out.entries = append(out.entries, src.entries...)
		}
	}
	return out
}

// Identity is who a request acts as: a token's role, and a name for logs
// and audit fields that never reveals the token (role and hash prefix).
type Identity struct {
	Role Role
	Name string
}

// Authenticate returns the identity of token. It hashes the token and
// compares the hash with every configured one in constant time, without
// stopping at a match, so that timing tells nothing about which matched.
func (t *Tokens) Authenticate(token string) (Identity, bool) {
	sum := sha256.Sum256([]byte(token))
	best, found := RoleNone, 0
	for _, e := range t.entries {
		if subtle.ConstantTimeCompare(sum[:], e.hash[:]) == 1 {
			found = 1
			best = max(best, e.role)
		}
	}
	if found == 0 {
		return Identity{}, false
	}
	return Identity{Role: best, Name: best.String() + ":" + hex.EncodeToString(sum[:4])}, true
}

// bearer returns the token of an "Authorization: Bearer TOKEN" header,
// or, where basic is allowed, of "Authorization: Basic" whose password is
// the token (any user name): a browser can send only that to the queue
// monitor's pages. Elsewhere Basic is refused: a browser replays cached
// Basic credentials on its own, which would let another page act with them.
func bearer(r *http.Request, basic bool) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	switch {
	case !ok:
		return "", false
	case strings.EqualFold(scheme, "Basic") && basic:
		_, token, ok = r.BasicAuth()
	case !strings.EqualFold(scheme, "Bearer"):
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, ok && token != ""
}

// authorize lets a request through when its token's role reaches the
// route's: 401 with WWW-Authenticate without a valid token, 403 with one
// whose role is too low. Routes that browsers open also challenge for
// Basic auth, so that a browser asks for the token (as the password). In
// insecure mode every request acts as an admin.
func (a *API) authorize(rt routeSpec) http.Handler {
	need, next := rt.role, rt.handler
	if need == RoleNone {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := a.identify(r, rt.browser())
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tinman"`)
			if rt.browser() {
				w.Header().Add("WWW-Authenticate", `Basic realm="tinman", charset="UTF-8"`)
			}
			problem(w, r, http.StatusUnauthorized, codeUnauthorized, "a valid bearer token is required (Authorization: Bearer TOKEN)", "")
			return
		}
		if info := infoOf(r.Context()); info != nil {
			info.identity = id.Name
		}
		if id.Role < need {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tinman", error="insufficient_scope"`)
			problem(w, r, http.StatusForbidden, codeForbidden, fmt.Sprintf("this needs the %s role; the token is %s", need, id.Role), "")
			return
		}
		next.ServeHTTP(w, r.WithContext(withIdentity(r.Context(), id)))
	})
}

// identify returns the caller's identity; basic allows a Basic password.
func (a *API) identify(r *http.Request, basic bool) (Identity, bool) {
	if a.cfg.InsecureNoAuth {
		return Identity{Role: RoleAdmin, Name: "insecure"}, true
	}
	token, ok := bearer(r, basic)
	if !ok || a.cfg.Tokens == nil {
		return Identity{}, false
	}
	return a.cfg.Tokens.Authenticate(token)
}
