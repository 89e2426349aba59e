package slackapi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/internal/secrets"
)

// memWorkspaces is the two-method slice of the store Clients reads.
type memWorkspaces struct {
	byTeam  map[string]accessbot.Workspace
	secrets map[string]accessbot.Secret // tenant/name
}

func (m memWorkspaces) WorkspaceByTeam(_ context.Context, teamID string) (*accessbot.Workspace, error) {
	w, ok := m.byTeam[teamID]
	if !ok {
		return nil, fmt.Errorf("workspace %s: %w", teamID, accessbot.ErrNotFound)
	}
	return &w, nil
}

func (m memWorkspaces) GetSecret(_ context.Context, tenantID, name string) (*accessbot.Secret, error) {
	s, ok := m.secrets[tenantID+"/"+name]
	if !ok {
		return nil, fmt.Errorf("secret %s: %w", name, accessbot.ErrNotFound)
	}
	return &s, nil
}

func testKeyring(t *testing.T) *secrets.Keyring {
	t.Helper()
	k, err := secrets.NewKeyring(secrets.Key{ID: "k1", Key: bytes.Repeat([]byte{7}, secrets.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestClients(t *testing.T) {
	t.Parallel()
	fake := slackfake.New()
	t.Cleanup(fake.Close)
	configTeam := fake.AddTeam(slackfake.Team{ID: "TCONFIG"})
	oauthTeam := fake.AddTeam(slackfake.Team{ID: "TOAUTH"})
	keys := testKeyring(t)
	const secretName = "slack.bot_token"
	keyID, ct, err := keys.Seal([]byte(oauthTeam.BotToken), secrets.AAD("tenant-b", secretName))
	if err != nil {
		t.Fatal(err)
	}
	st := memWorkspaces{
		byTeam: map[string]accessbot.Workspace{
			"TCONFIG": {TenantID: "tenant-a", TeamID: "TCONFIG"},
			"TOAUTH":  {TenantID: "tenant-b", TeamID: "TOAUTH", BotTokenSecret: secretName},
			"TLOST":   {TenantID: "tenant-c", TeamID: "TLOST", BotTokenSecret: secretName},
		},
		secrets: map[string]accessbot.Secret{
			"tenant-b/" + secretName: {TenantID: "tenant-b", Name: secretName, KeyID: keyID, Ciphertext: ct},
		},
	}
	var logs syncBuffer
	clients := slackapi.NewClients(st, keys, secrets.Secret(configTeam.BotToken), slackapi.Options{
		APIURL: fake.URL(), Guard: slackapi.Strict{}, Log: zerolog.New(&logs).Level(zerolog.DebugLevel),
	})
	ctx := context.Background()

	tests := []struct {
		team    string
		wantErr error
	}{
		{team: "TCONFIG"}, // single-workspace mode: slack.bot_token
		{team: "TOAUTH"},  // OAuth install: the stored, encrypted token
		{team: "TNONE", wantErr: slackapi.ErrNotInstalled}, // no binding
		{team: "TLOST", wantErr: slackapi.ErrNotInstalled}, // binding names a secret that is gone
	}
	for _, tt := range tests {
		c, err := clients.For(ctx, tt.team)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("For(%s): err = %v, want %v", tt.team, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("For(%s): %v", tt.team, err)
		}
		r, err := c.AuthTest(ctx)
		if err != nil {
			t.Fatalf("auth.test for %s: %v", tt.team, err)
		}
		if r.TeamID != tt.team {
			t.Errorf("client for %s authenticates as %s", tt.team, r.TeamID)
		}
		again, _ := clients.For(ctx, tt.team)
		if again != c {
			t.Errorf("For(%s) built a second client instead of reusing the cached one", tt.team)
		}
	}

	// A revoked token drops the cached client, so the next For rebuilds it.
	before, _ := clients.For(ctx, "TOAUTH")
	fake.RevokeToken(oauthTeam.BotToken)
	if _, err := before.AuthTest(ctx); slackapi.SlackErrorCode(err) != "token_revoked" {
		t.Fatalf("auth.test with a revoked token: err = %v", err)
	}
	after, err := clients.For(ctx, "TOAUTH")
	if err != nil {
		t.Fatal(err)
	}
	if after == before {
		t.Error("client with a revoked token is still cached")
	}

	// Forget (app_uninstalled) drops it too.
	cfg, _ := clients.For(ctx, "TCONFIG")
	clients.Forget("TCONFIG")
	if again, _ := clients.For(ctx, "TCONFIG"); again == cfg {
		t.Error("Forget kept the cached client")
	}

	for _, tok := range []string{configTeam.BotToken, oauthTeam.BotToken} {
		if bytes.Contains([]byte(logs.String()), []byte(tok)) {
			t.Errorf("logs contain a bot token")
		}
	}
}
