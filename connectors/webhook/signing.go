package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/accessbot/accessbot/internal/secrets"
)

// Standard Webhooks (standardwebhooks.com) header names.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix marks a Standard Webhooks symmetric secret.
const SecretPrefix = "whsec_"

// DefaultTolerance is how far a timestamp may be from now, either way.
const DefaultTolerance = 5 * time.Minute

var (
	// ErrBadSecret means a signing secret is not "whsec_" + base64 of at least one byte.
	ErrBadSecret = errors.New("webhook signing secret must be whsec_ followed by base64")
	// ErrMissingHeaders means webhook-id, webhook-timestamp or webhook-signature is absent.
	ErrMissingHeaders = errors.New("missing webhook-id, webhook-timestamp or webhook-signature header")
	// ErrTimestamp means the timestamp is unparsable or too far from now.
	ErrTimestamp = errors.New("webhook timestamp is invalid or outside the tolerance")
	// ErrSignature means no v1 signature matched any key.
	ErrSignature = errors.New("no matching webhook signature")
)

// decodeSecret returns the HMAC key of a "whsec_<base64>" secret. The error
// never includes the secret.
func decodeSecret(s secrets.Secret) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s.Reveal(), SecretPrefix))
	if err != nil || len(key) == 0 {
		return nil, ErrBadSecret
	}
	return key, nil
}

func decodeSecrets(ss []secrets.Secret) ([][]byte, error) {
	if len(ss) == 0 {
		return nil, errors.New("no webhook signing secret given")
	}
	keys := make([][]byte, 0, len(ss))
	for i, s := range ss {
		k, err := decodeSecret(s)
		if err != nil {
			return nil, fmt.Errorf("signing secret %d: %w", i+1, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func sign(key []byte, id string, ts int64, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Signer signs with one or more keys: during a rotation both the new and the
// old secret sign, and the header carries both signatures.
type Signer struct {
	keys [][]byte
}

// NewSigner takes the current secret first, then any still being rotated out.
func NewSigner(ss ...secrets.Secret) (*Signer, error) {
	keys, err := decodeSecrets(ss)
	if err != nil {
		return nil, err
	}
	return &Signer{keys: keys}, nil
}

// Sign returns the webhook-signature value: "v1,<base64>" per key, space separated.
func (s *Signer) Sign(id string, ts time.Time, body []byte) string {
	parts := make([]string, len(s.keys))
	for i, k := range s.keys {
		parts[i] = "v1," + base64.StdEncoding.EncodeToString(sign(k, id, ts.Unix(), body))
	}
	return strings.Join(parts, " ")
}

// Verifier checks Standard Webhooks signatures; receivers (and tests) use it.
type Verifier struct {
	keys      [][]byte
	Tolerance time.Duration
	Now       func() time.Time
}

// NewVerifier accepts a signature made with any of the given secrets.
func NewVerifier(ss ...secrets.Secret) (*Verifier, error) {
	keys, err := decodeSecrets(ss)
	if err != nil {
		return nil, err
	}
	return &Verifier{keys: keys, Tolerance: DefaultTolerance, Now: time.Now}, nil
}

// Verify checks the headers against body. Unknown signature versions are
// skipped, so a v1a (asymmetric) signature beside ours does no harm.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	id, tsRaw, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || tsRaw == "" || sigs == "" {
		return ErrMissingHeaders
	}
	ts, err := strconv.ParseInt(tsRaw, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrTimestamp, tsRaw)
	}
	if d := v.Now().Sub(time.Unix(ts, 0)); d > v.Tolerance || d < -v.Tolerance {
		return fmt.Errorf("%w: %s off", ErrTimestamp, d.Round(time.Second))
	}
	for _, sig := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			continue
		}
		for _, k := range v.keys {
			if hmac.Equal(got, sign(k, id, ts, body)) {
				return nil
			}
		}
	}
	return ErrSignature
}

// MessageID derives a webhook-id from what identifies the event (say, the
// action flow and the step), so every retry of it, from any process, sends
// the same id and the receiver can drop duplicates.
func MessageID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return "msg_" + hex.EncodeToString(h.Sum(nil)[:16])
}
