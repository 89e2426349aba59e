package slackapi

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/internal/secrets"
)

// ErrNotInstalled means the team has no binding, or no usable bot token.
var ErrNotInstalled = errors.New("slack workspace is not installed or has no bot token")

// WorkspaceStore is what Clients reads: the binding and the encrypted token.
type WorkspaceStore interface {
	WorkspaceByTeam(ctx context.Context, teamID string) (*accessbot.Workspace, error)
	GetSecret(ctx context.Context, tenantID, name string) (*accessbot.Secret, error)
}

// Opener decrypts a stored secret; *secrets.Keyring implements it.
type Opener interface {
	Open(keyID string, ciphertext, aad []byte) ([]byte, error)
}

var _ Opener = (*secrets.Keyring)(nil)

// Clients hands out one cached Client per workspace. A workspace bound with
// no BotTokenSecret uses ConfigBotToken (single-workspace mode); otherwise its
// token is the secret stored by the OAuth install, decrypted on first use.
type Clients struct {
	store          WorkspaceStore
	keys           Opener
	configBotToken secrets.Secret
	opts           Options
	log            zerolog.Logger

	mu      sync.Mutex
	clients map[string]*Client
}

// NewClients builds the registry. configBotToken is slack.bot_token ("" in
// OAuth install mode); keys may be nil when no token is stored encrypted.
// opts applies to every client (Limiter shared; OnAuthError and TenantID are set per client).
func NewClients(st WorkspaceStore, keys Opener, configBotToken secrets.Secret, opts Options) *Clients {
	if opts.Limiter == nil {
		opts.Limiter = NewMemoryLimiter(nil)
	}
	return &Clients{
		store:          st,
		keys:           keys,
		configBotToken: configBotToken,
		opts:           opts,
		log:            opts.Log,
		clients:        map[string]*Client{},
	}
}

// For returns the team's client, building it on first use. Errors wrap
// ErrNotInstalled when the team is unknown or has no token.
func (c *Clients) For(ctx context.Context, teamID string) (*Client, error) {
	c.mu.Lock()
	cl, ok := c.clients[teamID]
	c.mu.Unlock()
	if ok {
		return cl, nil
	}
	cl, err := c.build(ctx, teamID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.clients[teamID]; ok {
		return prev, nil // another goroutine won; keep one client (and one pacing view)
	}
	c.clients[teamID] = cl
	return cl, nil
}

// Forget drops the team's cached client: call it on tokens_revoked,
// app_uninstalled, and after a reinstall stores a new token.
func (c *Clients) Forget(teamID string) {
	c.mu.Lock()
	_, had := c.clients[teamID]
	delete(c.clients, teamID)
	c.mu.Unlock()
	if had {
		c.log.Info().Str("team", teamID).Msg("slack client dropped")
	}
}

func (c *Clients) build(ctx context.Context, teamID string) (*Client, error) {
	ws, err := c.store.WorkspaceByTeam(ctx, teamID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return nil, fmt.Errorf("slack client for team %s: %w", teamID, ErrNotInstalled)
	}
	if err != nil {
		return nil, fmt.Errorf("slack client for team %s: read binding: %w", teamID, err)
	}
	token, err := c.token(ctx, ws)
	if err != nil {
		return nil, fmt.Errorf("slack client for team %s (tenant %s): %w", teamID, ws.TenantID, err)
	}
	o := c.opts
	o.TenantID = ws.TenantID
	o.OnAuthError = func(team string) {
		c.log.Warn().Str("team", team).Str("tenant", ws.TenantID).Msg("slack token rejected; client dropped")
		c.Forget(team)
	}
	return NewClient(teamID, token.Reveal(), o)
}

func (c *Clients) token(ctx context.Context, ws *accessbot.Workspace) (secrets.Secret, error) {
	if ws.BotTokenSecret == "" {
		if !c.configBotToken.IsSet() {
			return "", fmt.Errorf("binding has no stored token and slack.bot_token is not set: %w", ErrNotInstalled)
		}
		return c.configBotToken, nil
	}
	if c.keys == nil {
		return "", fmt.Errorf("token %q is stored encrypted but no encryption key is configured", ws.BotTokenSecret)
	}
	s, err := c.store.GetSecret(ctx, ws.TenantID, ws.BotTokenSecret)
	if errors.Is(err, accessbot.ErrNotFound) {
		return "", fmt.Errorf("token secret %q missing: %w", ws.BotTokenSecret, ErrNotInstalled)
	}
	if err != nil {
		return "", fmt.Errorf("read token secret %q: %w", ws.BotTokenSecret, err)
	}
	plain, err := c.keys.Open(s.KeyID, s.Ciphertext, secrets.AAD(ws.TenantID, ws.BotTokenSecret))
	if err != nil {
		return "", fmt.Errorf("decrypt token secret %q: %w", ws.BotTokenSecret, err)
	}
	return secrets.Secret(plain), nil
}

// UserByEmail calls users.lookupByEmail in the team's workspace
// (identity.SlackEmailLookup).
func (c *Clients) UserByEmail(ctx context.Context, teamID, email string) (*slack.User, error) {
	cl, err := c.For(ctx, teamID)
	if err != nil {
		return nil, err
	}
	return cl.GetUserByEmail(ctx, email)
}

// UserInfo calls users.info in the team's workspace (identity.SlackUsers).
func (c *Clients) UserInfo(ctx context.Context, teamID, userID string) (*slack.User, error) {
	cl, err := c.For(ctx, teamID)
	if err != nil {
		return nil, err
	}
	return cl.GetUserInfo(ctx, userID)
}
