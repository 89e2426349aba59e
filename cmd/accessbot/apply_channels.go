package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/flows/tenantfile"
	"github.com/accessbot/accessbot/internal/config"
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

// applyChannels is the checker apply uses: Slack when a bot token is
// configured, else nil (apply then notes each channel as not checked).
func applyChannels(cfg config.Slack, teamID string) (tenantfile.ChannelChecker, error) {
	if !cfg.BotToken.IsSet() {
		return nil, nil
	}
	cl, err := slackapi.NewClient(teamID, cfg.BotToken.Reveal(), slackapi.Options{APIURL: cfg.APIURL, Guard: slackapi.BlockKit{}})
	if err != nil {
		return nil, fmt.Errorf("slack client to check approvers' channels: %w", err)
	}
	return slackChannels{cl: cl}, nil
}
