package oauth_test

import (
	"bytes"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/accessbot/accessbot/bot/oauth"
)

func TestLinkToken(t *testing.T) {
	t.Parallel()
	key := oauth.DeriveStateKey(bytes.Repeat([]byte{5}, 32))
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	tok, err := oauth.NewLinkToken(key, "tenant-1", now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		key     []byte
		token   string
		at      time.Time
		want    string
		wantErr error
	}{
		{name: "valid", key: key, token: tok, at: now, want: "tenant-1"},
		{name: "expired", key: key, token: tok, at: now.Add(time.Hour), wantErr: oauth.ErrLinkExpired},
		{name: "other key", key: oauth.DeriveStateKey([]byte("other")), token: tok, at: now, wantErr: oauth.ErrLinkInvalid},
		{name: "empty", key: key, token: "", at: now, wantErr: oauth.ErrLinkInvalid},
		{name: "state signed with the same key", key: key, token: oauth.SignStateForTest(key, "tenant-1", now.Add(time.Hour)), at: now, wantErr: oauth.ErrLinkInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := oauth.VerifyLinkToken(tt.key, tt.token, tt.at)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Fatalf("VerifyLinkToken = %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
	if _, err := oauth.NewLinkToken([]byte("short"), "tenant-1", now); err == nil {
		t.Error("NewLinkToken accepted a short key")
	}
	if _, err := oauth.NewLinkToken(key, "", now); err == nil {
		t.Error("NewLinkToken accepted an empty tenant")
	}
}

func TestInstallLinkURL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ public, want string }{
		{"https://bot.example.com", "https://bot.example.com/slack/install?token=a.b"},
		{"https://bot.example.com/", "https://bot.example.com/slack/install?token=a.b"},
		{"https://example.com/accessbot/", "https://example.com/accessbot/slack/install?token=a.b"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/slack/install?token=a.b"},
	} {
		got, err := oauth.InstallLinkURL(tt.public, "a.b")
		if err != nil || got != tt.want {
			t.Errorf("InstallLinkURL(%q) = %q, %v; want %q", tt.public, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "/relative", "ftp://x.example", "bot.example.com"} {
		if got, err := oauth.InstallLinkURL(bad, "a.b"); err == nil {
			t.Errorf("InstallLinkURL(%q) = %q, want an error", bad, got)
		}
	}
	// The token survives the query encoding.
	tok := "eyJ0Ijo.x-_y"
	u, _ := oauth.InstallLinkURL("https://bot.example.com", tok)
	if p, _ := url.Parse(u); p.Query().Get("token") != tok {
		t.Errorf("token in %s did not round-trip", u)
	}
}
