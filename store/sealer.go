package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the size of the secret key that seals BMC credentials: AES-256.
const KeySize = 32

// ErrBadKey says a secret key is not KeySize bytes.
var ErrBadKey = fmt.Errorf("secret key must be %d bytes", KeySize)

// errSealed says sealed credentials do not open with the secret key.
var errSealed = errors.New("sealed credentials do not open with this secret key")

// sealer encrypts credentials at rest with AES-256-GCM. The server id is the
// additional data, so a sealed secret moved to another record does not open.
type sealer struct {
	aead cipher.AEAD
}

func newSealer(key []byte) (*sealer, error) {
	if len(key) != KeySize {
		return nil, ErrBadKey
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return &sealer{aead: aead}, nil
}

// ParseKey reads a secret key: KeySize bytes, written in base64 (standard
// or URL alphabet, padded or not) or as hex.
func ParseKey(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	for _, dec := range []func(string) ([]byte, error){
		base64.StdEncoding.DecodeString, base64.RawStdEncoding.DecodeString,
		base64.URLEncoding.DecodeString, base64.RawURLEncoding.DecodeString, hex.DecodeString,
	} {
		if key, err := dec(text); err == nil && len(key) == KeySize {
			return key, nil
		}
	}
	return nil, fmt.Errorf("%w, written in base64 or hex (make one with: head -c 32 /dev/urandom | base64)", ErrBadKey)
}

// NewKey returns a random secret key.
func NewKey() []byte {
	key := make([]byte, KeySize)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (Go 1.24+)
	return key
}

func (s *sealer) seal(plain []byte, id string) string {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return base64.StdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(id)))
}

func (s *sealer) open(sealed, id string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return nil, errors.New("sealed credentials are malformed")
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(id))
	if err != nil {
		return nil, errSealed
	}
	return plain, nil
}
