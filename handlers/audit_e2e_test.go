package handlers_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers/views"
)

// TestE2EAuditPicker: "/access audit" without an id offers a person, then
// that person's recent requests, and shows the chosen request's history in
// place of the picker; typing the id still works, and members are refused
// at every step.
func TestE2EAuditPicker(t *testing.T) {
	e := startRequests(t, "sqlite", requests.Policy{})
	r := e.createAccess("rita", "Maintainers")
	ada, rita := slackID("ada"), slackID("rita")

	e.ack(e.fake.SendSlashCommand(e.fake.SlashCommand(e.team.ID, ada, "audit")), nil)
	picker := e.ackMessage(ada, "Whose request do you want to audit?")

	// Typing "rit" offers Rita; a member typing gets nothing.
	s, err := e.fake.Suggest(e.ctx, e.fake.BlockSuggestionOnMessage(e.team.ID, ada, picker.Channel, picker.TS, views.BlockAuditPick, views.ActionAuditPerson, "rit"))
	rqMust(t, err)
	if len(s.Options) != 1 || !strings.Contains(string(s.Options[0]), e.users["rita"].ID) {
		t.Fatalf("people offered for %q: %s", "rit", s.Options)
	}
	if s, err := e.fake.Suggest(e.ctx, e.fake.BlockSuggestionOnMessage(e.team.ID, rita, picker.Channel, picker.TS, views.BlockAuditPick, views.ActionAuditPerson, "")); err != nil || len(s.Options) != 0 {
		t.Fatalf("a member was offered people: %s, %v", s.Options, err)
	}

	// Choosing Rita replaces the picker with her requests.
	person := slackfake.RawAction{"type": "external_select", "block_id": views.BlockAuditPick, "action_id": views.ActionAuditPerson,
		"selected_option": map[string]any{"value": e.users["rita"].ID, "text": map[string]any{"type": "plain_text", "text": "Rita"}}}
	e.fake.SendInteractive(e.fake.MessageAction(e.team.ID, ada, picker.Channel, picker.TS, person))
	e.waitMessageText(picker.Channel, picker.TS, "Recent requests by Rita")

	// Choosing her request shows its history there.
	choice, err := e.fake.ChooseOnMessage(picker.Channel, picker.TS, views.BlockAuditPick, views.ActionAuditRequest, r.ID)
	rqMust(t, err)
	e.fake.SendInteractive(e.fake.MessageAction(e.team.ID, ada, picker.Channel, picker.TS, choice))
	e.waitMessageText(picker.Channel, picker.TS, "Audit of request "+r.ID)
	if m, _ := e.fake.Message(picker.Channel, picker.TS); !strings.Contains(string(m.Blocks), "request.created") {
		t.Fatalf("the audit lacks its entries: %s", m.Blocks)
	}

	// A member replaying the choice is refused.
	e.fake.SendInteractive(e.fake.MessageAction(e.team.ID, rita, picker.Channel, picker.TS, choice))
	e.waitMessageText(picker.Channel, picker.TS, "only accessbot admins")

	// Typing the id still works.
	var ack struct {
		Text string `json:"text"`
	}
	e.ack(e.fake.SendSlashCommand(e.fake.SlashCommand(e.team.ID, ada, "audit "+r.ID)), &ack)
	if !strings.Contains(ack.Text, "Audit of request "+r.ID) {
		t.Fatalf("audit by id: %q", ack.Text)
	}
}

// ackMessage is the slash-command answer to user containing want, as the
// fake shows it (a message that can be clicked).
func (e *rqEnv) ackMessage(user, want string) slackfake.Message {
	e.t.Helper()
	var found slackfake.Message
	err := e.fake.WaitFor(e.ctx, func() bool {
		for _, m := range e.fake.AllMessages() {
			if m.Source == "ack" && m.Recipient == user && strings.Contains(m.Text, want) {
				found = m
				return true
			}
		}
		return false
	})
	if err != nil {
		e.t.Fatalf("no answer to %s containing %q", user, want)
	}
	return found
}

// waitMessageText waits until the message (channel, ts) says want.
func (e *rqEnv) waitMessageText(channel, ts, want string) {
	e.t.Helper()
	if err := e.fake.WaitFor(e.ctx, func() bool {
		m, ok := e.fake.Message(channel, ts)
		return ok && strings.Contains(m.Text, want)
	}); err != nil {
		m, _ := e.fake.Message(channel, ts)
		b, _ := json.Marshal(m)
		e.t.Fatalf("message %s/%s never said %q: %s", channel, ts, want, b)
	}
}
