package views

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
)

// ListMax caps how many requests one list message shows (two blocks each,
// well under Slack's 50 blocks).
const ListMax = 15

func requestItemLine(c RequestCard) string {
	return fmt.Sprintf("%s\n%s · `%s` · %s", Summary(c), StatusWords(c), escape(c.ID, 64), SlackDate(c.CreatedAt))
}

func cancelButton(id string) *slack.ButtonBlockElement {
	b := slack.NewButtonBlockElement(ActionCancel, id, plain("Cancel"))
	b.Confirm = slack.NewConfirmationBlockObject(plain("Cancel this request?"), plain("Its approvers will no longer be asked."), plain("Cancel it"), plain("Keep it"))
	return b
}

func moreBlock(list string, n int, what string) slack.Block {
	return slack.NewContextBlock(BlockListMore+"."+list, mrkdwn(fmt.Sprintf("…and %d more %s.", n, what)))
}

// mineBlocks lists the requester's requests, pending ones with a Cancel button.
func mineBlocks(cards []RequestCard, max int) []slack.Block {
	var blocks []slack.Block
	for i, c := range cards {
		if i == max {
			blocks = append(blocks, moreBlock("mine", len(cards)-max, "requests"))
			break
		}
		var acc *slack.Accessory
		if c.Status == accessbot.StatusPending {
			acc = slack.NewAccessory(cancelButton(c.ID))
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(truncate(requestItemLine(c), 2900)), nil, acc,
			slack.SectionBlockOptionBlockID(BlockListItem+".mine."+strconv.Itoa(i))))
	}
	return blocks
}

// waitingBlocks lists requests waiting for an approver, each with Approve/Deny/Details.
func waitingBlocks(cards []RequestCard, max int) []slack.Block {
	var blocks []slack.Block
	for i, c := range cards {
		if i == max {
			blocks = append(blocks, moreBlock("wait", len(cards)-max, "requests"))
			break
		}
		blocks = append(blocks,
			slack.NewSectionBlock(mrkdwn(truncate(requestItemLine(c), 2900)), nil, nil, slack.SectionBlockOptionBlockID(BlockListItem+".wait."+strconv.Itoa(i))),
			ApprovalButtons(c.ID, c.Level, i+1))
	}
	return blocks
}

// MineList answers "/access mine".
// The access the user holds comes first, each grant with its end.
func MineList(cards []RequestCard, held []GrantLine) (string, []slack.Block) {
	grants := GrantsSection(BlockListGrants, held, ListMax)
	if len(cards) == 0 {
		text := fmt.Sprintf("You have no access requests. Start one with `%s %s`.", Command, SubRequest)
		return text, append(grants, slack.NewSectionBlock(mrkdwn(text), nil, nil, slack.SectionBlockOptionBlockID(BlockListHeader)))
	}
	text := fmt.Sprintf("Your access requests (%d):", len(cards))
	blocks := append(grants, slack.NewSectionBlock(mrkdwn("*"+text+"*"), nil, nil, slack.SectionBlockOptionBlockID(BlockListHeader)))
	return text, append(blocks, mineBlocks(cards, ListMax)...)
}

// ApprovalsList answers "/access approvals".
func ApprovalsList(cards []RequestCard) (string, []slack.Block) {
	if len(cards) == 0 {
		text := "Nothing waits for your approval."
		return text, []slack.Block{slack.NewSectionBlock(mrkdwn(text), nil, nil, slack.SectionBlockOptionBlockID(BlockListHeader))}
	}
	text := fmt.Sprintf("Waiting for your approval (%d):", len(cards))
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn("*"+text+"*"), nil, nil, slack.SectionBlockOptionBlockID(BlockListHeader))}
	return text, append(blocks, waitingBlocks(cards, ListMax)...)
}

// AuditLine is one audit entry, named.
type AuditLine struct {
	At     time.Time
	Actor  string
	Action string
	Detail string
}

// AuditMessage answers "/access audit REQUEST_ID" for admins.
func AuditMessage(c RequestCard, lines []AuditLine) (string, []slack.Block) {
	text := fmt.Sprintf("Audit of request %s: %d entries.", c.ID, len(lines))
	blocks := []slack.Block{slack.NewHeaderBlock(plain(truncate("Audit of request "+c.ID, 150)), slack.HeaderBlockOptionBlockID(BlockCardHeader))}
	blocks = append(blocks, CardBlocks(c, "")...)
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%s · *%s* · %s", SlackDate(l.At), escape(l.Action, 100), escape(l.Actor, maxValue))
		if l.Detail != "" {
			b.WriteString(" · " + escape(l.Detail, 300))
		}
		b.WriteString("\n")
	}
	if b.Len() == 0 {
		b.WriteString("_No audit entries._")
	}
	blocks = append(blocks, slack.NewSectionBlock(mrkdwn(truncate("*Audit log*\n"+strings.TrimSuffix(b.String(), "\n"), 2900)), nil, nil, slack.SectionBlockOptionBlockID(BlockCardHistory)))
	if c.Why {
		blocks = append(blocks, WhyApproversBlock(c.ID))
	}
	return text, blocks
}

// HomeRequests are the App Home's request sections.
type HomeRequests struct {
	Mine    []RequestCard
	Waiting []RequestCard
	// Grants are the access the user holds, each with its end.
	Grants []GrantLine
}

// HomeMax caps each App Home list.
const HomeMax = 10

// HomeWithRequests is Home plus "Waiting for me" and "My requests".
func HomeWithRequests(h HomeInfo, r HomeRequests) slack.HomeTabViewRequest {
	v := Home(h)
	blocks := v.Blocks.BlockSet
	blocks = append(blocks, slack.NewDividerBlock(),
		slack.NewHeaderBlock(plain(fmt.Sprintf("Waiting for me (%d)", len(r.Waiting))), slack.HeaderBlockOptionBlockID(BlockHomeWaiting)))
	if len(r.Waiting) == 0 {
		blocks = append(blocks, slack.NewContextBlock(BlockHomeWaiting+".none", mrkdwn("Nothing waits for your approval.")))
	} else {
		blocks = append(blocks, waitingBlocks(r.Waiting, HomeMax)...)
	}
	blocks = append(blocks, slack.NewDividerBlock(),
		slack.NewHeaderBlock(plain(fmt.Sprintf("My requests (%d)", len(r.Mine))), slack.HeaderBlockOptionBlockID(BlockHomeMine)))
	if len(r.Mine) == 0 {
		blocks = append(blocks, slack.NewContextBlock(BlockHomeMine+".none", mrkdwn(fmt.Sprintf("No requests yet. Start one with `%s %s`.", Command, SubRequest))))
	} else {
		blocks = append(blocks, mineBlocks(r.Mine, HomeMax)...)
	}
	if len(r.Grants) > 0 {
		blocks = append(blocks, slack.NewDividerBlock())
		blocks = append(blocks, GrantsSection(BlockHomeGrants, r.Grants, HomeMax)...)
	}
	v.Blocks.BlockSet = blocks
	return v
}
