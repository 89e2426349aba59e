package views

import (
	"fmt"
	"strconv"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot/bot/blockkit"
)

// Time-bound access (issue 11): ids. Messages already sent carry them.
const (
	// ActionGrantExtend is an expiry notice's Extend; its value is the grant id.
	ActionGrantExtend = "grant_extend"
	// CallbackGrantExtend is the extension modal; private_metadata is the grant id.
	CallbackGrantExtend = "grant_extend"

	BlockGrantNotice        = "grant_notice"
	BlockGrantActions       = "grant_actions"
	BlockGrantExtendWhat    = "grant_extend_what"
	BlockGrantExtendFor     = "grant_extend_for"
	BlockGrantExtendWhy     = "grant_extend_why"
	ActionGrantExtendFor    = "grant_extend_for"
	ActionGrantExtendWhy    = "grant_extend_why"
	BlockHomeGrants         = "home_grants"
	BlockListGrants         = "list_grants"
	BlockGrantNoticeContext = "grant_notice_context"
)

// GrantLine is one grant as people see it.
type GrantLine struct {
	ID         string
	App        string
	Connection string
	// Until is the end of time-bound access; nil for permanent.
	Until *time.Time
	// Ending: its deprovisioning has started.
	Ending bool
}

func (g GrantLine) what() string {
	return fmt.Sprintf("*%s* — %s", blockkit.Escape(g.App), blockkit.Escape(g.Connection))
}

// GrantWhen says when a grant ends, in the reader's time zone.
func GrantWhen(g GrantLine) string {
	switch {
	case g.Ending:
		return "being removed"
	case g.Until == nil:
		return "permanent"
	}
	return "until " + SlackDate(*g.Until)
}

// ExpiryNotice is the DM a grant's holder gets `before` its end, with
// Extend.
func ExpiryNotice(g GrantLine, before time.Duration) (string, []slack.Block) {
	text := fmt.Sprintf("Your access to %s — %s ends in %s.", g.App, g.Connection, DurationWords(before))
	body := fmt.Sprintf(":hourglass_flowing_sand: Your access to %s ends %s (in about %s).", g.what(), SlackDate(*g.Until), DurationWords(before))
	extend := slack.NewButtonBlockElement(ActionGrantExtend, g.ID, plain("Extend…")).WithStyle(slack.StylePrimary)
	return blockkit.Truncate(text, blockkit.MaxMessageText), []slack.Block{
		slack.NewSectionBlock(mrkdwn(blockkit.Truncate(body, blockkit.MaxSectionText)), nil, nil, slack.SectionBlockOptionBlockID(BlockGrantNotice)),
		slack.NewContextBlock(BlockGrantNoticeContext, mrkdwn("When it ends, accessbot removes it. Need it longer? *Extend* asks the same approvers.")),
		slack.NewActionBlock(BlockGrantActions, extend),
	}
}

// ExtendModal asks how much longer (only choices within the application's
// cap) and why.
func ExtendModal(g GrantLine, choices []time.Duration, capNote string) slack.ModalViewRequest {
	opts := make([]*slack.OptionBlockObject, 0, len(choices))
	for _, d := range choices {
		opts = append(opts, slack.NewOptionBlockObject(strconv.FormatInt(int64(d/time.Minute), 10), plain(DurationWords(d)), nil))
	}
	sel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("How much longer"), ActionGrantExtendFor, opts...)
	sel.InitialOption = opts[0]
	what := fmt.Sprintf("Extend your access to %s, now %s.", g.what(), GrantWhen(g))
	if capNote != "" {
		what += "\n" + capNote
	}
	why := slack.NewPlainTextInputBlockElement(plain("Why do you need it longer?"), ActionGrantExtendWhy)
	why.Multiline = true
	why.MinLength, why.MaxLength = 10, 1500
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      CallbackGrantExtend,
		Title:           plain("Extend access"),
		Submit:          plain("Ask to extend"),
		Close:           plain("Cancel"),
		PrivateMetadata: g.ID,
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewSectionBlock(mrkdwn(blockkit.Truncate(what, blockkit.MaxSectionText)), nil, nil, slack.SectionBlockOptionBlockID(BlockGrantExtendWhat)),
			slack.NewInputBlock(BlockGrantExtendFor, plain("Extend by"), nil, sel),
			slack.NewInputBlock(BlockGrantExtendWhy, plain("Justification"), nil, why),
		}},
	}
}

// grantBlocks lists grants, one line each, at most max.
func grantBlocks(id string, gs []GrantLine, max int) []slack.Block {
	lines := ""
	for i, g := range gs {
		if i == max {
			lines += fmt.Sprintf("\n…and %d more.", len(gs)-max)
			break
		}
		lines += fmt.Sprintf("• %s: %s\n", g.what(), GrantWhen(g))
	}
	return []slack.Block{slack.NewSectionBlock(mrkdwn(blockkit.Truncate(lines, blockkit.MaxSectionText)), nil, nil, slack.SectionBlockOptionBlockID(id))}
}

// GrantsSection is "My access (n)" with each grant and its end, for
// `/access mine` and the App Home; nothing when there are none.
func GrantsSection(id string, gs []GrantLine, max int) []slack.Block {
	if len(gs) == 0 {
		return nil
	}
	return append([]slack.Block{slack.NewHeaderBlock(plain(fmt.Sprintf("My access (%d)", len(gs))), slack.HeaderBlockOptionBlockID(id+".header"))},
		grantBlocks(id, gs, max)...)
}
