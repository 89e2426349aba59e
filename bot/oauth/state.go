package oauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/accessbot/accessbot/internal/secrets"
)

// State errors: a state that was altered, is not ours, or is too old.
var (
	ErrStateInvalid = errors.New("oauth state is missing, malformed or tampered with")
	ErrStateExpired = errors.New("oauth state has expired")
)

// DefaultStateTTL matches the life of Slack's authorization code.
const DefaultStateTTL = 10 * time.Minute

const stateKeyLabel = "accessbot/oauth-state/v1"

// DeriveStateKey derives the state-signing key from the encryption key, so no
// extra secret has to be configured and the raw key is never used for two jobs.
func DeriveStateKey(encryptionKey []byte) []byte {
	m := hmac.New(sha256.New, encryptionKey)
	m.Write([]byte(stateKeyLabel))
	return m.Sum(nil)
}

// StateKeyFromConfig derives the state key from encryption.key as configured
// (base64 of 32 bytes).
func StateKeyFromConfig(encryptionKey secrets.Secret) ([]byte, error) {
	if !encryptionKey.IsSet() {
		return nil, errors.New("oauth install needs encryption.key: it signs the install state and encrypts bot tokens")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encryptionKey.Reveal()))
	if err != nil || len(raw) != secrets.KeySize {
		return nil, errors.New("encryption.key must be base64 of 32 random bytes")
	}
	return DeriveStateKey(raw), nil
}

// statePayload is what a state carries: whose install it is, a nonce so each
// state is unique, and when it stops being accepted.
type statePayload struct {
	Tenant  string `json:"t"`
	Nonce   string `json:"n"`
	Expires int64  `json:"e"` // unix seconds
}

// signState returns base64url(payload) "." base64url(HMAC-SHA256(key, payload)).
func signState(key []byte, tenantID string, expires time.Time) (string, error) {
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return "", fmt.Errorf("oauth state nonce: %w", err)
	}
	raw, err := json.Marshal(statePayload{
		Tenant:  tenantID,
		Nonce:   base64.RawURLEncoding.EncodeToString(nonce[:]),
		Expires: expires.Unix(),
	})
	if err != nil {
		return "", fmt.Errorf("oauth state: %w", err)
	}
	body := base64.RawURLEncoding.EncodeToString(raw)
	return body + "." + base64.RawURLEncoding.EncodeToString(mac(key, body)), nil
}

func mac(key []byte, body string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(body))
	return m.Sum(nil)
}

// verifyState checks the signature first (so nothing unsigned is trusted),
// then the expiry, and returns the tenant id.
func verifyState(key []byte, state string, now time.Time) (string, error) {
	body, sig, ok := strings.Cut(state, ".")
	if !ok || body == "" || sig == "" {
		return "", ErrStateInvalid
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(key, body)) {
		return "", ErrStateInvalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return "", ErrStateInvalid
	}
	var p statePayload
	if err := json.Unmarshal(raw, &p); err != nil || p.Tenant == "" || p.Nonce == "" {
		return "", ErrStateInvalid
	}
	if !now.Before(time.Unix(p.Expires, 0)) {
		return "", ErrStateExpired
	}
	return p.Tenant, nil
}
