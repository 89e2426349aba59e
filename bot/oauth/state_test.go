package oauth

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot/internal/config"
	"github.com/accessbot/accessbot/internal/secrets"
)

func TestState(t *testing.T) {
	t.Parallel()
	key := DeriveStateKey(bytes.Repeat([]byte{3}, 32))
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	good, err := signState(key, "tenant-1", now.Add(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	again, _ := signState(key, "tenant-1", now.Add(10*time.Minute))
	if good == again {
		t.Error("two states for the same tenant are equal: the nonce is missing")
	}
	body, sig, _ := strings.Cut(good, ".")
	tests := []struct {
		name    string
		state   string
		key     []byte
		at      time.Time
		want    string
		wantErr error
	}{
		{name: "valid", state: good, key: key, at: now, want: "tenant-1"},
		{name: "valid until just before expiry", state: good, key: key, at: now.Add(10*time.Minute - time.Second), want: "tenant-1"},
		{name: "expired", state: good, key: key, at: now.Add(10 * time.Minute), wantErr: ErrStateExpired},
		{name: "other key", state: good, key: DeriveStateKey([]byte("another key")), at: now, wantErr: ErrStateInvalid},
		{name: "empty", state: "", key: key, at: now, wantErr: ErrStateInvalid},
		{name: "no signature", state: body, key: key, at: now, wantErr: ErrStateInvalid},
		{name: "signature swapped", state: body + "." + strings.Repeat("A", len(sig)), key: key, at: now, wantErr: ErrStateInvalid},
		{name: "payload swapped", state: "eyJ0IjoiZXZpbCJ9." + sig, key: key, at: now, wantErr: ErrStateInvalid},
		{name: "garbage", state: "%%%.$$$", key: key, at: now, wantErr: ErrStateInvalid},
	}
	for _, tt := range tests {
		got, err := verifyState(tt.key, tt.state, tt.at)
		if !errors.Is(err, tt.wantErr) || got != tt.want {
			t.Errorf("%s: got %q, %v; want %q, %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestStateKeyIsNotTheEncryptionKey(t *testing.T) {
	t.Parallel()
	enc := bytes.Repeat([]byte{5}, 32)
	if k := DeriveStateKey(enc); bytes.Equal(k, enc) || len(k) != 32 {
		t.Errorf("derived key %x", k)
	}
	if _, err := StateKeyFromConfig(""); err == nil {
		t.Error("no encryption key accepted")
	}
	if _, err := StateKeyFromConfig("not base64!"); err == nil {
		t.Error("bad encryption key accepted")
	}
}

func TestAuthorizeURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://slack.com/api/":          "https://slack.com/oauth/v2/authorize",
		"http://127.0.0.1:4567/api/":      "http://127.0.0.1:4567/oauth/v2/authorize",
		"https://proxy.example.com/slack": "https://proxy.example.com/oauth/v2/authorize",
	} {
		if got, err := AuthorizeURL(in); err != nil || got != want {
			t.Errorf("AuthorizeURL(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	if _, err := AuthorizeURL("not a url"); err == nil {
		t.Error("relative api url accepted")
	}
}

func TestConfigFrom(t *testing.T) {
	t.Parallel()
	cfg, err := ConfigFrom(config.Slack{ClientID: "1.2", ClientSecret: "s", RedirectURL: "https://a.example/slack/oauth/callback",
		APIURL: "https://slack.com/api/"}, config.Encryption{Key: secrets.Secret(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{4}, 32)))})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientID != "1.2" || cfg.RedirectURL == "" || !bytes.Equal(cfg.StateKey, DeriveStateKey(bytes.Repeat([]byte{4}, 32))) {
		t.Errorf("config = %+v", cfg)
	}
	if _, err := ConfigFrom(config.Slack{ClientID: "1.2"}, config.Encryption{}); err == nil {
		t.Error("no encryption key accepted")
	}
}
