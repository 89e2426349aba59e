package handlers

import (
	"context"
	"errors"
	"strings"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers/views"
)

const msgWhyNotYours = "Sorry, only the requester, the person it is for, its approvers and accessbot admins can see why this request's approvers were asked."

// whyApprovers answers "Why these approvers?" with what `accessbot explain
// request` prints for the stored request: in a modal pushed over Details,
// or an ephemeral message under a card (the approval copies, the
// requester's and target's DMs, the audit). The button is the same on every
// copy, so who may see the answer is decided here, per click, by
// requests.ExplainRequest from the store: admins, the requester, the target
// and the request's approvers; anyone else (a member of an approvers'
// channel who is no approver) is refused.
func (h *Requests) whyApprovers(ctx context.Context, req *bot.Request) error {
	r, _, ok, err := h.clickTarget(ctx, req) // unknown ids: "I can't find that request"
	if !ok {
		return err
	}
	ex, err := h.flows.ExplainRequest(ctx, req.Actor.Tenant.ID, req.Actor.User.ID, r.ID)
	switch {
	case errors.Is(err, requests.ErrForbidden):
		return req.Respond(ctx, bot.Message{Text: msgWhyNotYours})
	case errors.Is(err, requests.ErrNotExplainable):
		return req.Respond(ctx, bot.Message{Text: "I can't explain request " + r.ID + ": " + requests.ErrNotExplainable.Error() + "."})
	case errors.Is(err, accessbot.ErrNotFound), errors.Is(err, requests.ErrNoChain), errors.Is(err, requests.ErrNoApprovers):
		// Its application, chain or people changed since it was made.
		return req.Respond(ctx, bot.Message{Text: "I can't explain request " + r.ID + " as things stand now: " + err.Error()})
	case err != nil:
		return err
	}
	var b strings.Builder
	if err := ex.Write(&b); err != nil {
		return err
	}
	if req.Interaction != nil && req.Interaction.View.ID != "" {
		return openModal(ctx, req, views.WhyModal(r.ID, b.String()))
	}
	text, blocks := views.WhyMessage(r.ID, b.String())
	return req.Respond(ctx, bot.Message{Text: text, Blocks: blocks})
}
