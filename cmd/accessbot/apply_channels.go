package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/flows/tenantfile"
	"github.com/accessbot/accessbot/internal/config"
	"github.com/accessbot/accessbot/store"
)

// slackChannels checks approvers' channels with conversations.info and the
// configured bot token (slack.bot_token), for `apply`.
type slackChannels struct {
	cl interface {
		ConversationInfo(ctx context.Context, channelID string) (*slack.Channel, error)
	}
}

var _ tenantfile.ChannelChecker = slackChannels{}

func (s slackChannels) CheckChannel(ctx context.Context, id string) (string, error) {
	ch, err := s.cl.ConversationInfo(ctx, id)
	var se slack.SlackErrorResponse
	switch {
	case errors.As(err, &se) && se.Err == "channel_not_found":
		return "", fmt.Errorf("channel %s not found in the Slack workspace: it does not exist, or it is private and accessbot is not in it (invite it there with /invite @accessbot)", id)
	case err != nil:
		return "", fmt.Errorf("check channel %s in Slack: %w", id, err)
	case ch.IsArchived:
		return "", fmt.Errorf("channel %s (#%s) is archived", id, ch.Name)
	case !ch.IsMember && ch.IsPrivate:
		return "", fmt.Errorf("channel %s (#%s) is private and accessbot is not in it (invite it there with /invite @accessbot)", id, ch.Name)
	case !ch.IsMember:
		return fmt.Sprintf("approvers' channel %s (#%s): accessbot is not a member; invite it so it can post there", id, ch.Name), nil
	}
	return "", nil
}

// applyChannels is the checker apply uses: Slack with the configured bot
// token (slack.bot_token), else with the token an OAuth install stored for
// the tenant's workspace (the file's slack.team_id, or the workspace the
// tenant is bound to), else nil: apply then notes each channel as not
// checked, as when it runs where Slack is not set up.
func applyChannels(ctx context.Context, cfg config.Slack, st store.Store, keys slackapi.Opener, f *tenantfile.File) (tenantfile.ChannelChecker, error) {
	team := ""
	if f.Slack != nil {
		team = f.Slack.TeamID
	}
	opts := slackapi.Options{APIURL: cfg.APIURL, Guard: slackapi.BlockKit{}}
	if cfg.BotToken.IsSet() {
		cl, err := slackapi.NewClient(team, cfg.BotToken.Reveal(), opts)
		if err != nil {
			return nil, fmt.Errorf("slack client to check approvers' channels: %w", err)
		}
		return slackChannels{cl: cl}, nil
	}
	if keys == nil {
		return nil, nil // an installed token is stored sealed: nothing to open it with
	}
	var ws *accessbot.Workspace
	var err error
	switch {
	case team != "":
		ws, err = st.WorkspaceByTeam(ctx, team)
	case f.Tenant.Slug != "":
		var t *accessbot.Tenant
		if t, err = st.GetTenantBySlug(ctx, f.Tenant.Slug); err == nil {
			ws, err = st.WorkspaceByTenant(ctx, t.ID)
		}
	default:
		return nil, nil
	}
	if errors.Is(err, accessbot.ErrNotFound) || (err == nil && ws.BotTokenSecret == "") {
		return nil, nil // not installed yet
	}
	if err != nil {
		return nil, fmt.Errorf("find the Slack workspace to check approvers' channels: %w", err)
	}
	// The stored token is opened when a channel is checked, not before: a
	// file without channels needs no key.
	return installedChannels{clients: slackapi.NewClients(st, keys, "", opts), team: ws.TeamID}, nil
}

// installedChannels checks channels with the token an OAuth install stored.
type installedChannels struct {
	clients *slackapi.Clients
	team    string
}

func (c installedChannels) CheckChannel(ctx context.Context, id string) (string, error) {
	cl, err := c.clients.For(ctx, c.team)
	if err != nil {
		return "", fmt.Errorf("check channel %s in Slack with workspace %s's installed token: %w", id, c.team, err)
	}
	return slackChannels{cl: cl}.CheckChannel(ctx, id)
}
