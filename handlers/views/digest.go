package views

import (
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/blockkit"
)

// ItemAction is a button offered on each digest item (Acknowledge, Resolve,
// later Run playbook, Create issue).
type ItemAction struct {
	ID    string // action_id is ActionFindingPrefix + ID
	Label string
	Style slack.Style // "", primary or danger
	// Rules limits the button to findings of these rules; nil offers it on all.
	Rules []string
	// Confirm, when set, is asked in a confirmation dialog before the click
	// counts. Such an action is a button only: a thread item's menu cannot
	// confirm one option, so it leaves it out.
	Confirm string
}

// offers reports whether a is shown on f.
func (a ItemAction) offers(f accessbot.Finding) bool {
	if a.Rules == nil {
		return true
	}
	for _, r := range a.Rules {
		if r == f.Rule {
			return true
		}
	}
	return false
}

// DigestInfo is what a digest shows.
type DigestInfo struct {
	Since    time.Time // zero for the first digest
	At       time.Time // the slot
	Location *time.Location
	Counts   map[accessbot.Severity]int
	Items    []accessbot.Finding
	More     int // new findings not listed
	Actions  []ItemAction
	// Playbooks are the playbooks offered on each item, by finding id
	// (a "Run playbook" menu; "Run …" options in a thread item's menu).
	Playbooks map[string][]PlaybookChoice
	// TopItems is how many items the top message lists; the rest go in the thread.
	TopItems int
}

// Chunk is one message: a notification text and its blocks.
type Chunk struct {
	Text   string
	Blocks []slack.Block
}

// threadItems per thread message: one section block each, within the 50-block limit.
const threadItems = blockkit.MaxMessageBlocks

var severityMark = map[accessbot.Severity]string{
	accessbot.SeverityCritical: ":red_circle:",
	accessbot.SeverityHigh:     ":large_orange_circle:",
	accessbot.SeverityMedium:   ":large_yellow_circle:",
	accessbot.SeverityLow:      ":white_circle:",
}

// digestEscape keeps user data from being read as mrkdwn links or mentions.
func digestEscape(s string) string { return blockkit.Escape(s) }

func mdText(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

func subjectText(s accessbot.Subject) string {
	name := s.Display
	if name == "" {
		name = s.ID
	}
	return fmt.Sprintf("%s %s", s.Kind, digestEscape(name))
}

// itemLine is an item's one-paragraph description.
func digestItemLine(f accessbot.Finding, loc *time.Location) string {
	return blockkit.Truncate(fmt.Sprintf("%s *%s* · `%s` · %s\nFirst seen %s",
		severityMark[f.Severity], f.Severity, digestEscape(f.Rule), subjectText(f.Subject),
		f.FirstSeen.In(loc).Format("2006-01-02 15:04 MST")), blockkit.MaxSectionText)
}

func countsLine(c map[accessbot.Severity]int) string {
	parts := make([]string, 0, len(accessbot.Severities))
	for _, s := range accessbot.Severities {
		parts = append(parts, fmt.Sprintf("%s %s: *%d*", severityMark[s], s, c[s]))
	}
	return strings.Join(parts, "   ")
}

// ItemButtons is the actions block of one finding, with the "Run
// playbook" menu after the buttons when there are playbooks to offer.
func ItemButtons(f accessbot.Finding, actions []ItemAction, playbooks []PlaybookChoice) slack.Block {
	els := make([]slack.BlockElement, 0, len(actions)+1)
	for _, a := range actions {
		if !a.offers(f) {
			continue
		}
		b := slack.NewButtonBlockElement(ActionFindingPrefix+a.ID, f.ID, slack.NewTextBlockObject(slack.PlainTextType, a.Label, false, false))
		if a.Style != "" {
			b = b.WithStyle(a.Style)
		}
		if a.Confirm != "" {
			c := slack.NewConfirmationBlockObject(slack.NewTextBlockObject(slack.PlainTextType, a.Label+"?", false, false),
				mdText(a.Confirm), slack.NewTextBlockObject(slack.PlainTextType, a.Label, false, false),
				slack.NewTextBlockObject(slack.PlainTextType, "Cancel", false, false))
			if a.Style == slack.StyleDanger {
				c = c.WithStyle(slack.StyleDanger)
			}
			b = b.WithConfirm(c)
		}
		els = append(els, b)
	}
	if m := PlaybookMenu(accessbot.PlaybookFinding, f.ID, playbooks); m != nil {
		els = append(els, m)
	}
	return slack.NewActionBlock(BlockDigestActionsPrefix+f.ID, els...)
}

// threadItem is one section with the item actions in an overflow menu.
func threadItem(f accessbot.Finding, actions []ItemAction, playbooks []PlaybookChoice, loc *time.Location) slack.Block {
	var acc *slack.Accessory
	opts := make([]*slack.OptionBlockObject, 0, len(actions))
	for _, a := range actions {
		if !a.offers(f) || a.Confirm != "" {
			continue
		}
		opts = append(opts, slack.NewOptionBlockObject(a.ID+":"+f.ID, slack.NewTextBlockObject(slack.PlainTextType, a.Label, false, false), nil))
	}
	opts = append(opts, threadPlaybookOptions(f.ID, playbooks, len(opts))...)
	if len(opts) > 0 {
		acc = slack.NewAccessory(slack.NewOverflowBlockElement(ActionFindingMenu, opts...))
	}
	return slack.NewSectionBlock(mdText(digestItemLine(f, loc)), nil, acc, slack.SectionBlockOptionBlockID(BlockDigestItemPrefix+f.ID))
}

// Digest renders a digest: the top message (summary and the most severe
// items with buttons) and thread messages with the rest, 50 items each.
func Digest(d DigestInfo) []Chunk {
	loc := d.Location
	if loc == nil {
		loc = time.UTC
	}
	top := d.TopItems
	if top <= 0 {
		top = 10
	}
	top = min(top, len(d.Items))
	total := len(d.Items) + d.More
	since := "the first digest"
	if !d.Since.IsZero() {
		since = "since " + d.Since.In(loc).Format("Mon 2 Jan 15:04 MST")
	}
	text := fmt.Sprintf("Findings digest: %d new (%d critical, %d high)", total, d.Counts[accessbot.SeverityCritical], d.Counts[accessbot.SeverityHigh])
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, "Findings digest", false, false), slack.HeaderBlockOptionBlockID(BlockDigestHeader)),
		slack.NewSectionBlock(mdText(fmt.Sprintf("*%d new finding(s)* (%s)\n%s", total, since, countsLine(d.Counts))), nil, nil, slack.SectionBlockOptionBlockID(BlockDigestSummary)),
		slack.NewDividerBlock(),
	}
	for _, f := range d.Items[:top] {
		blocks = append(blocks,
			slack.NewSectionBlock(mdText(digestItemLine(f, loc)), nil, nil, slack.SectionBlockOptionBlockID(BlockDigestItemPrefix+f.ID)),
			ItemButtons(f, d.Actions, d.Playbooks[f.ID]))
	}
	rest := d.Items[top:]
	var notes []string
	if len(rest) > 0 {
		notes = append(notes, fmt.Sprintf(":thread: %d more in the thread.", len(rest)))
	}
	if d.More > 0 {
		notes = append(notes, fmt.Sprintf("%d more not listed: run `accessbot findings list --status open`.", d.More))
	}
	if len(notes) > 0 {
		blocks = append(blocks, slack.NewContextBlock(BlockDigestMore, mdText(strings.Join(notes, " "))))
	}
	out := []Chunk{{Text: text, Blocks: blocks}}
	for i := 0; i < len(rest); i += threadItems {
		part := rest[i:min(i+threadItems, len(rest))]
		bs := make([]slack.Block, 0, len(part))
		for _, f := range part {
			bs = append(bs, threadItem(f, d.Actions, d.Playbooks[f.ID], loc))
		}
		out = append(out, Chunk{Text: fmt.Sprintf("Findings digest, items %d–%d of %d", top+i+1, top+i+len(part), len(d.Items)), Blocks: bs})
	}
	return out
}

// AllClear is the one-line "nothing new" digest.
func AllClear(since time.Time, loc *time.Location) Chunk {
	if loc == nil {
		loc = time.UTC
	}
	text := ":white_check_mark: All clear: no new findings."
	if !since.IsZero() {
		text = fmt.Sprintf(":white_check_mark: All clear: no new findings since %s.", since.In(loc).Format("Mon 2 Jan 15:04 MST"))
	}
	return Chunk{Text: text, Blocks: []slack.Block{slack.NewSectionBlock(mdText(text), nil, nil, slack.SectionBlockOptionBlockID(BlockDigestSummary))}}
}

// CriticalAlert announces one critical finding at once; playbooks are
// offered in a "Run playbook" menu beside its buttons.
func CriticalAlert(f accessbot.Finding, actions []ItemAction, playbooks []PlaybookChoice, loc *time.Location) Chunk {
	if loc == nil {
		loc = time.UTC
	}
	text := fmt.Sprintf("Critical finding: %s on %s", digestEscape(f.Rule), subjectText(f.Subject))
	return Chunk{Text: blockkit.Truncate(text, blockkit.MaxMessageText), Blocks: []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, ":rotating_light: Critical finding", true, false), slack.HeaderBlockOptionBlockID(BlockDigestHeader)),
		slack.NewSectionBlock(mdText(digestItemLine(f, loc)), nil, nil, slack.SectionBlockOptionBlockID(BlockDigestItemPrefix+f.ID)),
		ItemButtons(f, actions, playbooks),
	}}
}

// ItemStatus is the line that replaces an item's buttons once someone acted.
func ItemStatus(f accessbot.Finding, who string, loc *time.Location) slack.Block {
	if loc == nil {
		loc = time.UTC
	}
	at := ""
	if f.StatusAt != nil {
		at = " at " + f.StatusAt.In(loc).Format("2006-01-02 15:04 MST")
	}
	mark := ":eyes:"
	if f.Status == accessbot.FindingResolved {
		mark = ":white_check_mark:"
	}
	return slack.NewContextBlock(BlockDigestActionsPrefix+f.ID, mdText(fmt.Sprintf("%s %s by %s%s", mark, titleCase(string(f.Status)), digestEscape(who), at)))
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
