package handlers

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/blockkit"
	"github.com/accessbot/accessbot/handlers/views"
)

// maxPeopleOptions is Slack's cap on options in one suggestion answer.
const maxPeopleOptions = 100

// suggestAuditPeople answers the picker's type-ahead: the tenant's people
// whose name or email contains the query. Admins only.
func (h *Requests) suggestAuditPeople(ctx context.Context, req *bot.Request) error {
	if !req.Actor.IsAdmin() {
		return req.SetAck(map[string]any{"options": []any{}})
	}
	users, err := h.st.ListUsers(ctx, req.Actor.Tenant.ID)
	if err != nil {
		_ = req.SetAck(map[string]any{"options": []any{}})
		return fmt.Errorf("suggest people to audit: %w", err)
	}
	q := strings.ToLower(strings.TrimSpace(req.Interaction.Value))
	opts := make([]*slack.OptionBlockObject, 0, min(len(users), maxPeopleOptions))
	for _, u := range users {
		if q != "" && !strings.Contains(strings.ToLower(u.Name), q) && !strings.Contains(strings.ToLower(u.Email), q) {
			continue
		}
		label := u.Email
		if u.Name != "" {
			label = u.Name + " (" + u.Email + ")"
		}
		opts = append(opts, slack.NewOptionBlockObject(u.ID, slack.NewTextBlockObject(slack.PlainTextType, blockkit.Truncate(label, 75), false, false), nil))
		if len(opts) == maxPeopleOptions {
			break
		}
	}
	return req.SetAck(map[string]any{"options": opts})
}

// auditPersonChosen replaces the picker with the chosen person's recent
// requests. The person is re-read in the actor's tenant: a forged id from
// elsewhere is "not found".
func (h *Requests) auditPersonChosen(ctx context.Context, req *bot.Request) error {
	if !req.Actor.IsAdmin() {
		return req.Respond(ctx, bot.Message{Text: msgAdminsOnly, ReplaceOriginal: true})
	}
	u, err := h.st.GetUser(ctx, req.Actor.Tenant.ID, req.Action.SelectedOption.Value)
	if errors.Is(err, accessbot.ErrNotFound) {
		return req.Respond(ctx, bot.Message{Text: "I can't find that person.", ReplaceOriginal: true})
	}
	if err != nil {
		return fmt.Errorf("audit picker: load person: %w", err)
	}
	rs, err := h.flows.MyRequests(ctx, req.Actor.Tenant.ID, u.ID)
	if err != nil {
		return err
	}
	cards, err := h.cardsOf(ctx, rs)
	if err != nil {
		return err
	}
	name := u.Name
	if name == "" {
		name = u.Email
	}
	text, blocks := views.AuditRequestPicker(name, cards)
	return req.Respond(ctx, bot.Message{Text: text, Blocks: blocks, ReplaceOriginal: true})
}

// auditRequestChosen shows the chosen request's history in place of the picker.
func (h *Requests) auditRequestChosen(ctx context.Context, req *bot.Request) error {
	if !req.Actor.IsAdmin() {
		return req.Respond(ctx, bot.Message{Text: msgAdminsOnly, ReplaceOriginal: true})
	}
	return h.showAudit(ctx, req, req.Action.SelectedOption.Value, true)
}
