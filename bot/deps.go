package bot

import (
	"context"
	"errors"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
)

// Actor is the tenant user a Slack user resolved to.
type Actor struct {
	TeamID      string
	SlackUserID string
	Email       string
	Tenant      accessbot.Tenant
	User        accessbot.User
}

// Resolver maps a Slack user to a tenant user (bot/identity implements it
// through an adapter). Its errors should carry plain words for the user: see
// PlainWords.
type Resolver interface {
	Resolve(ctx context.Context, teamID, slackUserID string) (Actor, error)
	Invalidate(ctx context.Context, teamID, slackUserID string) error
}

// WebAPI is the part of a per-workspace Slack client the router and handlers
// use. *slack.Client satisfies it; so does the paced wrapper in bot/slackapi.
type WebAPI interface {
	PostMessageContext(ctx context.Context, channelID string, options ...slack.MsgOption) (string, string, error)
	PostEphemeralContext(ctx context.Context, channelID, userID string, options ...slack.MsgOption) (string, error)
	PublishViewContext(ctx context.Context, req slack.PublishViewContextRequest) (*slack.ViewResponse, error)
	OpenViewContext(ctx context.Context, triggerID string, view slack.ModalViewRequest) (*slack.ViewResponse, error)
}

// Clients hands out the Web API client of one workspace.
type Clients interface {
	For(ctx context.Context, teamID string) (WebAPI, error)
}

// ClientsFunc adapts a function to Clients.
type ClientsFunc func(ctx context.Context, teamID string) (WebAPI, error)

func (f ClientsFunc) For(ctx context.Context, teamID string) (WebAPI, error) { return f(ctx, teamID) }

// PlainWorder is implemented by errors that carry a sentence fit for the user.
type PlainWorder interface {
	error
	PlainWords() string
}

// GenericTrouble is said when an error has no plain words of its own.
const GenericTrouble = "Sorry, I could not work out who you are in accessbot right now. Please try again in a minute."

// PlainWords returns the user-facing sentence carried by err (anywhere in its
// chain), or GenericTrouble.
func PlainWords(err error) string {
	if pw, ok := errors.AsType[PlainWorder](err); ok {
		if s := pw.PlainWords(); s != "" {
			return s
		}
	}
	return GenericTrouble
}
