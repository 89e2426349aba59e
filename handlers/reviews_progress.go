package handlers

import (
	"context"
	"errors"
	"fmt"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/flows/evidence"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/store"
)

// progressView maps a campaign's evidence.Progress to its view.
func progressView(p *evidence.Progress) *views.Progress {
	v := &views.Progress{Name: p.Campaign.Name, DueAt: p.Campaign.DueAt, CompletedAt: p.Campaign.CompletedAt, Decided: p.Decided,
		Pending: p.Pending, Kept: p.Kept, Revoked: p.Revoked, OverdueReviewers: p.OverdueReviewers, Escalated: p.Escalated,
		Revocations: p.Revocations}
	for _, r := range p.ByReviewer {
		v.ByReviewer = append(v.ByReviewer, views.ReviewerProgress{Level: r.Level, Reviewer: r.Reviewer, Decided: r.Decided, Pending: r.Pending, Escalated: r.Escalated})
	}
	v.OpenRevocations = p.Revocations[evidence.OutcomeInProgress] + p.Revocations[evidence.OutcomeOwner] + p.Revocations[evidence.OutcomeFailed]
	return v
}

// queries is the store the evidence reads; NewReviews is given the whole store.
func (h *Reviews) queries() (store.Queries, error) {
	q, ok := h.st.(store.Queries)
	if !ok {
		return nil, fmt.Errorf("campaign progress needs the whole store, not %T", h.st)
	}
	return q, nil
}

// status answers "/access review status NAME": admins see any campaign,
// the admin who launched one sees theirs.
func (h *Reviews) status(ctx context.Context, req *bot.Request, name string) error {
	if name == "" {
		return h.say(ctx, req, fmt.Sprintf("Name the campaign: `%s %s %s NAME`.", views.Command, views.SubReview, views.ReviewStatusArg))
	}
	q, err := h.queries()
	if err != nil {
		return err
	}
	c, err := evidence.FindCampaign(ctx, q, req.Actor.Tenant.ID, name)
	if errors.Is(err, evidence.ErrNoCampaign) {
		return h.say(ctx, req, fmt.Sprintf("There is no campaign named %q.", name))
	}
	if err != nil {
		return err
	}
	if !req.Actor.IsAdmin() && c.CreatedBy != req.Actor.User.ID {
		return h.say(ctx, req, "Only accessbot admins and the campaign's owner can see its progress.")
	}
	p, err := evidence.CampaignProgress(ctx, q, req.Actor.Tenant.ID, c, h.clock())
	if err != nil {
		return err
	}
	text, blocks := views.ReviewProgress(progressView(p))
	return req.Respond(ctx, bot.Message{Text: text, Blocks: blocks})
}

// HomeBlocks are the admins' Home tab progress of active campaigns; nil
// for everyone else.
func (h *Reviews) HomeBlocks(ctx context.Context, actor *bot.Actor) ([]slack.Block, error) {
	if !actor.IsAdmin() {
		return nil, nil
	}
	q, err := h.queries()
	if err != nil {
		return nil, err
	}
	cs, err := q.ListCampaigns(ctx, actor.Tenant.ID, accessbot.CampaignActive)
	if err != nil {
		return nil, err
	}
	var ps []*views.Progress
	for i := range cs {
		p, err := evidence.CampaignProgress(ctx, q, actor.Tenant.ID, &cs[i], h.clock())
		if err != nil {
			return nil, err
		}
		ps = append(ps, progressView(p))
	}
	return views.HomeCampaigns(ps), nil
}
