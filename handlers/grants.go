package handlers

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/flows/grants"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers/views"
)

var _ grants.Notifier = (*Notifier)(nil)

// ExpiryNotice DMs g's holder that it ends in about `before`, with Extend.
// Each (grant, end, before) goes out once: an extension's new end gets its
// own notices.
func (n *Notifier) ExpiryNotice(ctx context.Context, g *accessbot.Entitlement, before time.Duration) error {
	if g.ExpiresAt == nil {
		return nil
	}
	cl, team, err := n.tenantClient(ctx, g.TenantID)
	if err != nil {
		return err
	}
	line, err := grantLine(ctx, n.st, g)
	if err != nil {
		return err
	}
	text, blocks := views.ExpiryNotice(line, before)
	key := "grant:" + g.ID + ":expiry:" + g.ExpiresAt.UTC().Format(time.RFC3339) + ":" + before.String()
	if _, _, err := n.dmOnce(ctx, cl, team, g.TenantID, key, g.UserID, slackapi.Message{Text: text, Blocks: blocks}); err != nil {
		return fmt.Errorf("expiry notice of grant %s: %w", g.ID, err)
	}
	return nil
}

// grantReader resolves a grant's names.
type grantReader interface {
	GetApplication(ctx context.Context, tenantID, id string) (*accessbot.Application, error)
	GetConnection(ctx context.Context, tenantID, id string) (*accessbot.Connection, error)
}

func grantLine(ctx context.Context, st grantReader, g *accessbot.Entitlement) (views.GrantLine, error) {
	line := views.GrantLine{ID: g.ID, Until: g.ExpiresAt, Ending: g.Ending()}
	c, err := st.GetConnection(ctx, g.TenantID, g.ConnectionID)
	if err != nil {
		return line, fmt.Errorf("connection of grant %s: %w", g.ID, err)
	}
	line.Connection = c.Name
	a, err := st.GetApplication(ctx, g.TenantID, c.AppID)
	if err != nil {
		return line, fmt.Errorf("application of grant %s: %w", g.ID, err)
	}
	line.App = a.Name
	return line, nil
}

// myGrants are the actor's grants, soonest end first, permanent last.
func (h *Requests) myGrants(ctx context.Context, actor *bot.Actor) ([]views.GrantLine, error) {
	gs, err := h.st.ListEntitlements(ctx, actor.Tenant.ID, actor.User.ID)
	if err != nil {
		return nil, err
	}
	out := make([]views.GrantLine, 0, len(gs))
	for i := range gs {
		l, err := grantLine(ctx, h.st, &gs[i])
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	sortGrantLines(out)
	return out, nil
}

func sortGrantLines(ls []views.GrantLine) {
	key := func(l views.GrantLine) int64 {
		if l.Until == nil {
			return 1<<63 - 1
		}
		return l.Until.Unix()
	}
	for i := 1; i < len(ls); i++ { // a handful: insertion sort keeps ties in order
		for j := i; j > 0 && key(ls[j]) < key(ls[j-1]); j-- {
			ls[j], ls[j-1] = ls[j-1], ls[j]
		}
	}
}

// extendChoices are the durations the Extend modal offers: the request
// form's, within what the application still allows (max, when capped), or
// max itself (whole minutes) when none fits.
func extendChoices(max time.Duration, capped bool) []time.Duration {
	std := []time.Duration{time.Hour, 8 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}
	if !capped {
		return std
	}
	var out []time.Duration
	for _, d := range std {
		if d <= max {
			out = append(out, d)
		}
	}
	if len(out) == 0 && max >= time.Minute {
		out = append(out, max.Truncate(time.Minute))
	}
	return out
}

// openExtend answers an expiry notice's Extend: the grant, its holder and
// the application's cap are re-read here; beyond the cap it says so.
func (h *Requests) openExtend(ctx context.Context, req *bot.Request) error {
	actor := req.Actor
	g, err := h.st.GetEntitlement(ctx, actor.Tenant.ID, req.Action.Value)
	if errors.Is(err, accessbot.ErrNotFound) {
		return req.Respond(ctx, bot.Message{Text: "That access no longer exists: there is nothing to extend."})
	}
	if err != nil {
		return err
	}
	if g.UserID != actor.User.ID {
		return req.Respond(ctx, bot.Message{Text: "Only the person who holds this access can extend it."})
	}
	switch {
	case g.Ending():
		return req.Respond(ctx, bot.Message{Text: "This access is already being removed, so it cannot be extended. Ask for it again with `" + views.Command + " " + views.SubRequest + "`."})
	case g.ExpiresAt == nil:
		return req.Respond(ctx, bot.Message{Text: "This access is permanent: there is nothing to extend."})
	}
	line, err := grantLine(ctx, h.st, g)
	if err != nil {
		return err
	}
	c, err := h.st.GetConnection(ctx, g.TenantID, g.ConnectionID)
	if err != nil {
		return err
	}
	app, err := h.st.GetApplication(ctx, g.TenantID, c.AppID)
	if err != nil {
		return err
	}
	policy, err := h.st.GetRequestPolicy(ctx, g.TenantID)
	if err != nil && !errors.Is(err, accessbot.ErrNotFound) {
		return err
	}
	limit, high := requests.ExtensionLimit(policy, app, c.ID)
	allows := app.Name + " allows"
	if high {
		allows = "This is high-risk access:"
	}
	max, capped := requests.MaxExtension(limit, g, h.now())
	choices := extendChoices(max, capped)
	if len(choices) == 0 {
		return req.Respond(ctx, bot.Message{Text: fmt.Sprintf("%s access for at most %s from now, and yours already runs until %s, so it cannot be extended now. Ask again closer to the end.",
			allows, views.DurationWords(limit), views.SlackDate(*g.ExpiresAt))})
	}
	note := ""
	if capped {
		note = fmt.Sprintf("_%s access for at most %s from now._", allows, views.DurationWords(limit))
	}
	return openModal(ctx, req, views.ExtendModal(line, choices, note))
}

// submitExtend files the extension request through the grant's approval chain.
func (h *Requests) submitExtend(ctx context.Context, req *bot.Request) error {
	v := req.Interaction.View
	in := requests.Extension{TenantID: req.Actor.Tenant.ID, RequesterID: req.Actor.User.ID, EntitlementID: v.PrivateMetadata,
		Justification: textValue(req, views.BlockGrantExtendWhy, views.ActionGrantExtendWhy)}
	mins, err := strconv.Atoi(selectedValue(req, views.BlockGrantExtendFor, views.ActionGrantExtendFor))
	if err == nil && mins > 0 {
		in.Duration = time.Duration(mins) * time.Minute
	}
	r, err := h.flows.Create(ctx, in)
	if err != nil {
		errs, ok := prepareErrors(err, func(field string) string {
			if field == requests.FieldJustification {
				return views.BlockGrantExtendWhy
			}
			return views.BlockGrantExtendFor
		}, views.BlockGrantExtendFor, views.BlockGrantExtendFor)
		if !ok {
			return fmt.Errorf("create extension request: %w", err)
		}
		for k, v := range errs {
			errs[k] = strings.TrimSpace(v)
		}
		return viewErrors(req, errs)
	}
	card, err := h.cards.card(ctx, r, false)
	if err != nil {
		return err
	}
	req.Log.Info().Str("request", r.ID).Str("grant", in.EntitlementID).Msg("extension request created from Slack")
	return viewUpdate(req, views.RequestDone(card))
}
