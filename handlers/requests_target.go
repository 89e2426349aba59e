package handlers

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/blockkit"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers/views"
)

// maxListedTargets is how many people the "For" choice lists; more
// becomes a type-ahead.
const maxListedTargets = 99

// targetChoices fills the form's "For" choice: whom the actor may ask for
// under the tenant's on-behalf policy. The server checks the choice again
// when the request is prepared and created.
func (h *Requests) targetChoices(ctx context.Context, actor *bot.Actor, p accessbot.OnBehalf, f *views.RequestForm) error {
	users, err := h.st.ListUsers(ctx, actor.Tenant.ID)
	if err != nil {
		return fmt.Errorf("list users for the request form: %w", err)
	}
	anyone, ids := requests.Targets(p, &actor.User, users)
	switch {
	case anyone:
		f.TargetSearch = true
		f.TargetHint = "You can ask for yourself or anyone (your role or group allows it; I check when you submit)."
		return nil
	case p.ManagerReach() == accessbot.ReachReportingLine:
		f.TargetHint = "You can ask for yourself or anyone in your reporting line."
	}
	if len(ids) > maxListedTargets {
		f.TargetSearch = true
		return nil
	}
	byID := map[string]*accessbot.User{}
	for i := range users {
		byID[users[i].ID] = &users[i]
	}
	for _, id := range ids {
		f.Reports = append(f.Reports, views.Option{Value: id, Text: userName(byID[id])})
	}
	return nil
}

// suggestTargets answers the "For" type-ahead with the people the actor
// may ask for whose name or email contains the query; "Me" first.
func (h *Requests) suggestTargets(ctx context.Context, req *bot.Request) error {
	query := strings.ToLower(strings.TrimSpace(req.Interaction.Value))
	opts := []*slack.OptionBlockObject{}
	fail := func(err error) error {
		_ = req.SetAck(map[string]any{"options": []any{}})
		return err
	}
	p, err := h.requestPolicy(ctx, req.Actor.Tenant.ID)
	if err != nil {
		return fail(err)
	}
	users, err := h.st.ListUsers(ctx, req.Actor.Tenant.ID)
	if err != nil {
		return fail(fmt.Errorf("suggest people: %w", err))
	}
	anyone, ids := requests.Targets(p.OnBehalf, &req.Actor.User, users)
	if query == "" || strings.Contains("me", query) {
		opts = append(opts, slack.NewOptionBlockObject("me", slack.NewTextBlockObject(slack.PlainTextType, "Me", false, false), nil))
	}
	for i := range users {
		u := &users[i]
		if len(opts) >= 100 {
			break
		}
		if u.ID == req.Actor.User.ID || u.Status != accessbot.UserActive || (!anyone && !slices.Contains(ids, u.ID)) {
			continue
		}
		if query != "" && !strings.Contains(strings.ToLower(u.Name), query) && !strings.Contains(strings.ToLower(u.Email), query) {
			continue
		}
		opts = append(opts, slack.NewOptionBlockObject(u.ID, slack.NewTextBlockObject(slack.PlainTextType, blockkit.Truncate(userName(u), 75), false, false), nil))
	}
	return req.SetAck(map[string]any{"options": opts})
}
