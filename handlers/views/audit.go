package views

import (
	"fmt"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
)

// auditHint keeps the typed form known.
var auditHint = fmt.Sprintf("Or type `%s %s REQUEST_ID`.", Command, SubAudit)

func personSelect() *slack.SelectBlockElement {
	sel := slack.NewOptionsSelectBlockElement(slack.OptTypeExternal, plain("Type a name or email"), ActionAuditPerson)
	zero := 0
	sel.MinQueryLength = &zero // the first people show before anything is typed
	return sel
}

// AuditPicker answers "/access audit" without an id: choose the person who
// asked, and then (AuditRequestPicker) one of their recent requests.
func AuditPicker() (string, []slack.Block) {
	text := "Whose request do you want to audit? " + auditHint
	return text, []slack.Block{
		slack.NewSectionBlock(mrkdwn("*Whose request do you want to audit?* Choose the person who asked, then the request.\n"+auditHint), nil, nil,
			slack.SectionBlockOptionBlockID(BlockCardHeader)),
		slack.NewActionBlock(BlockAuditPick, personSelect()),
	}
}

// AuditRequestPicker lists person's recent requests (newest first) to audit.
func AuditRequestPicker(person string, cards []RequestCard) (string, []slack.Block) {
	who := escape(person, 100)
	if len(cards) == 0 {
		text := who + " has no requests. " + auditHint
		return text, []slack.Block{
			slack.NewSectionBlock(mrkdwn(fmt.Sprintf("*%s* has no requests. Choose someone else.\n%s", who, auditHint)), nil, nil,
				slack.SectionBlockOptionBlockID(BlockCardHeader)),
			slack.NewActionBlock(BlockAuditPick, personSelect()),
		}
	}
	opts := make([]Option, len(cards))
	for i, c := range cards {
		opts[i] = Option{Value: c.ID, Text: RequestLine(c)}
	}
	reqSel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose a request"), ActionAuditRequest, options(opts)...)
	text := fmt.Sprintf("Recent requests by %s: choose one to audit. %s", who, auditHint)
	return text, []slack.Block{
		slack.NewSectionBlock(mrkdwn(fmt.Sprintf("*Recent requests by %s* (newest first): choose one to see its history.\n%s", who, auditHint)), nil, nil,
			slack.SectionBlockOptionBlockID(BlockCardHeader)),
		slack.NewActionBlock(BlockAuditPick, reqSel, personSelect()),
	}
}

// RequestLine names a request in one plain line (≤ 75 runes, for an option):
// application, what, status and day.
func RequestLine(c RequestCard) string {
	what := c.Connection
	switch c.Kind {
	case accessbot.RequestConnectionCreate:
		what = "new connection"
		if c.New != nil && c.New.Name != "" {
			what = "new " + c.New.Name
		}
	case accessbot.RequestConnectionAssign:
		what = "change " + c.Connection
	case accessbot.RequestConnectionDelete:
		what = "delete " + c.Connection
	}
	// The status and day always show; the names give way.
	tail := fmt.Sprintf(" · %s · %s", c.Status, c.CreatedAt.UTC().Format("2 Jan 2006"))
	return truncate(c.App+" · "+what, 75-len([]rune(tail))) + tail
}
