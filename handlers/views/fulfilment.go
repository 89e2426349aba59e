package views

import (
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
)

// Fulfilment is what an application owner needs to carry out an approved
// request by hand.
type Fulfilment struct {
	// ApprovedBy names who approved, in order.
	ApprovedBy []string
	// Until is when time-bound access ends (zero: permanent, or not user access).
	Until time.Time
}

// FulfilmentAsk is the one-line ask: "Please grant Maintainers in GitLab to
// Rita (request …, approved by Mona, Olga; 8 hours, until …)".
func FulfilmentAsk(c RequestCard, f Fulfilment) string {
	var s string
	switch c.Kind {
	case accessbot.RequestUserAccess:
		target := c.Target
		if target == "" {
			target = c.Requester
		}
		s = fmt.Sprintf("Please grant *%s* in *%s* to %s", escape(c.Connection, maxValue), escape(c.App, maxValue), escape(target, maxValue))
	default:
		s = "Please carry out the " + strings.ToLower(KindWords(c.Kind)) + ": " + What(c)
	}
	var parts []string
	parts = append(parts, "request `"+escape(c.ID, 64)+"`")
	if len(f.ApprovedBy) > 0 {
		names := make([]string, len(f.ApprovedBy))
		for i, n := range f.ApprovedBy {
			names[i] = escape(n, maxValue)
		}
		parts = append(parts, "approved by "+strings.Join(names, ", "))
	}
	if c.Kind == accessbot.RequestUserAccess {
		d := "duration: " + strings.ToLower(DurationWords(c.Duration))
		if !f.Until.IsZero() {
			d += ", until " + SlackDate(f.Until) + ": please remove it then"
		}
		parts = append(parts, d)
	}
	return s + " (" + strings.Join(parts, "; ") + ")."
}

// FulfilmentMessage is the DM asking an application owner to carry out an
// approved request by hand, while accessbot provisions nothing itself.
func FulfilmentMessage(c RequestCard, f Fulfilment) (string, []slack.Block) {
	ask := FulfilmentAsk(c, f)
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain("Approved request to carry out"), slack.HeaderBlockOptionBlockID(BlockCardHeader)),
		slack.NewSectionBlock(mrkdwn(truncate(ask, 2900)), nil, nil, slack.SectionBlockOptionBlockID(BlockFulfilmentAsk)),
	}
	blocks = append(blocks, CardBlocks(c, "")...)
	blocks = append(blocks, slack.NewContextBlock(BlockCardStatus,
		mrkdwn("You are asked as an owner of "+escape(c.App, maxValue)+": accessbot does not change access in it itself.")))
	return truncate(stripMarkup(strings.ReplaceAll(ask, "`", "")), 3000), blocks
}
