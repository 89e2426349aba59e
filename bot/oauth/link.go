package oauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Install links are how an admin hands out the right to bind a Slack
// workspace to a tenant: `accessbot install-link` signs a token naming the
// tenant, and GET /slack/install refuses any request without a valid one.
// Without this, anyone who knew a tenant slug could bind their own workspace
// to it first.

// Install link errors.
var (
	ErrLinkInvalid = errors.New("install link token is missing, malformed or tampered with")
	ErrLinkExpired = errors.New("install link has expired")
)

// Install link lifetimes: DefaultLinkTTL for `accessbot install-link`, at most MaxLinkTTL.
const (
	DefaultLinkTTL = 24 * time.Hour
	MaxLinkTTL     = 30 * 24 * time.Hour
)

const linkKeyLabel = "accessbot/install-link/v1"

// linkKey derives the link-signing key from the state key, so a state can
// never pass as a link token or a link token as a state.
func linkKey(stateKey []byte) []byte {
	m := hmac.New(sha256.New, stateKey)
	m.Write([]byte(linkKeyLabel))
	return m.Sum(nil)
}

// NewLinkToken signs an install token for tenantID that is accepted until expires.
func NewLinkToken(stateKey []byte, tenantID string, expires time.Time) (string, error) {
	if len(stateKey) < 32 {
		return "", errors.New("install link: a 32-byte state key is required (StateKeyFromConfig)")
	}
	if tenantID == "" {
		return "", errors.New("install link: no tenant")
	}
	tok, err := signState(linkKey(stateKey), tenantID, expires)
	if err != nil {
		return "", fmt.Errorf("install link: %w", err)
	}
	return tok, nil
}

// VerifyLinkToken returns the tenant id a valid, unexpired token names;
// errors are ErrLinkInvalid or ErrLinkExpired.
func VerifyLinkToken(stateKey []byte, token string, now time.Time) (string, error) {
	tenantID, err := verifyState(linkKey(stateKey), token, now)
	switch {
	case errors.Is(err, ErrStateExpired):
		return "", ErrLinkExpired
	case err != nil:
		return "", ErrLinkInvalid
	}
	return tenantID, nil
}

// InstallLinkURL is publicURL's InstallPath carrying token, e.g.
// https://accessbot.example.com/slack/install?token=….
func InstallLinkURL(publicURL, token string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(publicURL))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("install link: %q is not an absolute http(s) URL", publicURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + InstallPath
	u.RawPath = ""
	u.RawQuery = url.Values{"token": {token}}.Encode()
	u.Fragment = ""
	return u.String(), nil
}
