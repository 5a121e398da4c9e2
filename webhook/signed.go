package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode"
)

// Signature headers: "sha256=" and the hex HMAC-SHA256 of the raw body.
const (
	GitHubSignatureHeader  = "X-Hub-Signature-256"
	GenericSignatureHeader = "X-Tinman-Signature"
)

// readSigned reads the body of r, at most h.maxBody bytes, and checks its
// signature in header against secret. Nothing of the body is parsed before.
func (h *Handler) readSigned(w http.ResponseWriter, r *http.Request, secret []byte, header string) ([]byte, error) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, newProblem(http.StatusMethodNotAllowed, "use POST")
	}
	body, err := h.readBody(w, r)
	if err != nil {
		return nil, err
	}
	if err := verify(secret, body, header, r.Header.Get(header)); err != nil {
		return nil, err
	}
	return body, nil
}

func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	tooLarge := newProblem(http.StatusRequestEntityTooLarge, "the body is larger than %d bytes", h.maxBody)
	if r.ContentLength > h.maxBody {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	var maxErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxErr):
		return nil, tooLarge
	case err != nil:
		return nil, newProblem(http.StatusBadRequest, "read the body: %v", err)
	}
	return body, nil
}

// verify checks signature ("sha256=<hex>") against the HMAC-SHA256 of body
// under secret, in constant time.
func verify(secret, body []byte, header, signature string) error {
	bad := func(detail string) error {
		p := newProblem(http.StatusUnauthorized, "%s %s", header, detail)
		p.Header = header
		return p
	}
	if signature == "" {
		return bad("is missing")
	}
	digest, found := strings.CutPrefix(signature, "sha256=")
	got, err := hex.DecodeString(digest)
	if !found || err != nil {
		return bad(`must be "sha256=" and the hex HMAC-SHA256 of the body`)
	}
	if !hmac.Equal(got, sign(secret, body)) {
		return bad("does not match the body")
	}
	return nil
}

func sign(secret, body []byte) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return mac.Sum(nil)
}

// maxDeliveryID is the longest delivery id taken, in bytes.
const maxDeliveryID = 200

// validDeliveryID reports whether id is 1 to 200 bytes of printable
// characters with no space.
func validDeliveryID(id string) bool {
	if id == "" || len(id) > maxDeliveryID {
		return false
	}
	return !strings.ContainsFunc(id, func(r rune) bool {
		return unicode.IsSpace(r) || !unicode.IsPrint(r) || r == unicode.ReplacementChar
	})
}

// disabled answers a route whose secret is not configured.
func disabled(route string) error {
	return newProblem(http.StatusNotFound, "%s webhooks are not enabled on this server (no secret is configured)", route)
}
