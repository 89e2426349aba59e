package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/store"
)

// ClientForgetter drops a workspace's cached Web API client;
// *slackapi.Clients implements it.
type ClientForgetter interface {
	Forget(teamID string)
}

var _ ClientForgetter = (*slackapi.Clients)(nil)

// LifecycleStore is what the app lifecycle handlers need from store.Store.
type LifecycleStore interface {
	WorkspaceByTeam(ctx context.Context, teamID string) (*accessbot.Workspace, error)
	InTx(ctx context.Context, fn func(q store.Queries) error) error
}

// Lifecycle handles the app's own lifecycle events: tokens_revoked and
// app_uninstalled. (user_change, which invalidates the identity cache, is in
// handlers.go.)
type Lifecycle struct {
	store   LifecycleStore
	clients ClientForgetter
	now     func() time.Time
}

// NewLifecycle builds the lifecycle handlers; now defaults to time.Now.
func NewLifecycle(st LifecycleStore, clients ClientForgetter, now func() time.Time) (*Lifecycle, error) {
	if st == nil || clients == nil {
		return nil, errors.New("lifecycle handlers: store and clients are required")
	}
	if now == nil {
		now = time.Now
	}
	return &Lifecycle{store: st, clients: clients, now: now}, nil
}

func (l *Lifecycle) register(r *bot.Router) {
	r.Event("app_uninstalled", bot.NoActor, l.appUninstalled)
	r.Event("tokens_revoked", bot.NoActor, l.tokensRevoked)
}

// Audit actions written by the lifecycle handlers.
const (
	AuditSlackUninstalled  = "slack.uninstalled"
	AuditSlackTokensRevoke = "slack.tokens_revoked"
)

// appUninstalled unbinds the workspace and deletes its stored bot token in
// one transaction, with an audit entry. Payloads from the workspace are then
// answered "not linked" and a reinstall starts from a clean slate. A
// redelivery, or an already unbound workspace, changes nothing.
func (l *Lifecycle) appUninstalled(ctx context.Context, req *bot.Request) error {
	team := req.TeamID
	if team == "" {
		req.Log.Warn().Msg("app_uninstalled without a team id ignored")
		return nil
	}
	// Drop the client whatever happens below: its token is dead. Deferred
	// too, so a client rebuilt meanwhile from the old binding goes as well.
	l.clients.Forget(team)
	defer l.clients.Forget(team)

	var ws *accessbot.Workspace
	err := l.store.InTx(ctx, func(q store.Queries) error {
		var err error
		ws, err = q.WorkspaceByTeam(ctx, team)
		if err != nil {
			return err
		}
		if err := q.UnbindWorkspace(ctx, ws.TenantID); err != nil {
			return fmt.Errorf("unbind: %w", err)
		}
		if ws.BotTokenSecret != "" {
			if err := q.DeleteSecret(ctx, ws.TenantID, ws.BotTokenSecret); err != nil && !errors.Is(err, accessbot.ErrNotFound) {
				return fmt.Errorf("delete bot token secret: %w", err)
			}
		}
		before, _ := json.Marshal(map[string]string{
			"team_id": ws.TeamID, "team_name": ws.TeamName, "bot_user_id": ws.BotUserID,
			"bot_token_secret": ws.BotTokenSecret,
		})
		if err := q.AppendAudit(ctx, &accessbot.AuditEntry{
			TenantID: ws.TenantID, At: l.now(), ActorID: "system", Action: AuditSlackUninstalled,
			ObjectType: "workspace", ObjectID: team, Before: before,
		}); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		return nil
	})
	if errors.Is(err, accessbot.ErrNotFound) {
		req.Log.Info().Msg("app_uninstalled for a workspace that is not linked; nothing to unbind")
		return nil
	}
	if err != nil {
		return fmt.Errorf("app_uninstalled: unbind workspace %s: %w", team, err)
	}
	req.Log.Warn().Str("tenant", ws.TenantID).Str("team_name", ws.TeamName).
		Msg("slack app uninstalled: workspace unbound and its bot token deleted; reinstall to link it again")
	return nil
}

// tokensRevoked drops the workspace's cached client, so the next call reads
// the binding again (a reinstall's token, or a clear "not installed") rather
// than retrying a dead token, and records the revocation.
func (l *Lifecycle) tokensRevoked(ctx context.Context, req *bot.Request) error {
	team := req.TeamID
	if team == "" {
		req.Log.Warn().Msg("tokens_revoked without a team id ignored")
		return nil
	}
	l.clients.Forget(team)
	var ev struct {
		Tokens struct {
			OAuth []string `json:"oauth"`
			Bot   []string `json:"bot"`
		} `json:"tokens"`
	}
	if err := req.Event.Decode(&ev); err != nil {
		return err
	}
	ws, err := l.store.WorkspaceByTeam(ctx, team)
	if errors.Is(err, accessbot.ErrNotFound) {
		req.Log.Info().Msg("tokens_revoked for a workspace that is not linked")
		return nil
	}
	if err != nil {
		return fmt.Errorf("tokens_revoked: read binding of %s: %w", team, err)
	}
	after, _ := json.Marshal(map[string][]string{"bot": ev.Tokens.Bot, "oauth": ev.Tokens.OAuth})
	err = l.store.InTx(ctx, func(q store.Queries) error {
		return q.AppendAudit(ctx, &accessbot.AuditEntry{
			TenantID: ws.TenantID, At: l.now(), ActorID: "system", Action: AuditSlackTokensRevoke,
			ObjectType: "workspace", ObjectID: team, After: after,
		})
	})
	if err != nil {
		return fmt.Errorf("tokens_revoked: audit for %s: %w", team, err)
	}
	e := req.Log.Info()
	if len(ev.Tokens.Bot) > 0 {
		e = req.Log.Warn()
	}
	e.Str("tenant", ws.TenantID).Strs("bot_users", ev.Tokens.Bot).Int("user_tokens", len(ev.Tokens.OAuth)).
		Msg("slack tokens revoked: cached client dropped; if the bot token was revoked, reinstall the app")
	return nil
}
