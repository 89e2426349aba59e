package handlers

import (
	"context"
	"fmt"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/handlers/views"
)

// StepUps begins step-up re-authentication; *stepup.Service is one.
type StepUps interface {
	Begin(ctx context.Context, tenantID, requestID string, level int, approverID string) (string, error)
	TTL() time.Duration
}

// WithStepUp lets approvers of high-risk requests re-authenticate through
// s before their approval counts.
func (h *Requests) WithStepUp(s StepUps) *Requests {
	h.stepUps = s
	return h
}

const msgNoStepUp = "This is high-risk access: your approval counts only after you sign in again, and step-up sign-in is not set up here (http.public_url and step_up: in the tenant file). Ask your accessbot admin; nothing was recorded."

// offerStepUp answers an Approve click on a step-up level with a
// single-use link (only the clicker sees it): the approval is recorded
// when the approver comes back from the tenant's OIDC provider. Decide has
// already checked that the clicker may approve at this level.
func (h *Requests) offerStepUp(ctx context.Context, req *bot.Request, r *accessbot.AccessRequest, level int) error {
	if h.stepUps == nil {
		return req.Respond(ctx, bot.Message{Text: msgNoStepUp})
	}
	url, err := h.stepUps.Begin(ctx, req.Actor.Tenant.ID, r.ID, level, req.Actor.User.ID)
	if err != nil {
		req.Log.Warn().Err(err).Str("request", r.ID).Msg("step-up could not begin")
		return req.Respond(ctx, bot.Message{Text: msgNoStepUp})
	}
	text := fmt.Sprintf("This is high-risk access: your approval of request %s counts only after you sign in again. The link works once, for %s; nothing is recorded until you finish.",
		r.ID, views.DurationWords(h.stepUps.TTL()))
	btn := slack.NewButtonBlockElement(views.ActionStepUp, r.ID, slack.NewTextBlockObject(slack.PlainTextType, "Sign in again to approve", false, false))
	btn.URL = url
	btn.Style = slack.StylePrimary
	return req.Respond(ctx, bot.Message{Text: text, Blocks: []slack.Block{
		slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil, slack.SectionBlockOptionBlockID(views.BlockStepUp)),
		slack.NewActionBlock(views.BlockStepUp+".link", btn),
	}})
}

// stepUpLinkClicked acknowledges the link button's click (Slack sends one
// even for a URL button); the browser does the rest.
func (h *Requests) stepUpLinkClicked(context.Context, *bot.Request) error { return nil }
