package views

import (
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/blockkit"
)

// "Run playbook ▾" menus on findings, requests and review items (issue 13).
const (
	// ActionPlaybookRun is the static select; each option's value is
	// PlaybookRunValue(type, object id, playbook id).
	ActionPlaybookRun = "playbook_run"
	// BlockPlaybookRun + "." + object id holds the menu when it has a block
	// of its own (requests, review items).
	BlockPlaybookRun = "playbook_run"
	// ItemPlaybook is the item action id of "Run …" options in a digest
	// thread item's overflow menu: "playbook:<finding id>:<playbook id>".
	ItemPlaybook = "playbook"
	// maxMenuOptions is Slack's limit for a static select.
	maxMenuOptions = 100
)

// PlaybookChoice is a playbook offered in a menu, in the order offered
// (integration-specific first, then global).
type PlaybookChoice struct {
	ID   string
	Name string
}

// PlaybookRunValue is an option's value: what to run on what. The server
// re-reads the object and the playbook and re-checks the clicker.
func PlaybookRunValue(t accessbot.PlaybookType, objectID, playbookID string) string {
	return string(t) + ":" + objectID + ":" + playbookID
}

// ParsePlaybookRunValue reads PlaybookRunValue; ok is false for anything else.
func ParsePlaybookRunValue(v string) (t accessbot.PlaybookType, objectID, playbookID string, ok bool) {
	parts := strings.Split(v, ":")
	if len(parts) != 3 || parts[1] == "" || parts[2] == "" || !accessbot.PlaybookType(parts[0]).Valid() {
		return "", "", "", false
	}
	return accessbot.PlaybookType(parts[0]), parts[1], parts[2], true
}

// PlaybookMenu is the "Run playbook" static select on an object; nil when
// there is nothing to offer.
func PlaybookMenu(t accessbot.PlaybookType, objectID string, choices []PlaybookChoice) *slack.SelectBlockElement {
	if len(choices) == 0 {
		return nil
	}
	opts := make([]*slack.OptionBlockObject, 0, min(len(choices), maxMenuOptions))
	for _, c := range choices[:min(len(choices), maxMenuOptions)] {
		opts = append(opts, slack.NewOptionBlockObject(PlaybookRunValue(t, objectID, c.ID), plain(blockkit.Truncate(c.Name, blockkit.MaxOptionText)), nil))
	}
	return slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Run playbook"), ActionPlaybookRun, opts...)
}

// PlaybookMenuBlock is the menu in an actions block of its own; nil when
// there is nothing to offer.
func PlaybookMenuBlock(t accessbot.PlaybookType, objectID string, choices []PlaybookChoice) slack.Block {
	m := PlaybookMenu(t, objectID, choices)
	if m == nil {
		return nil
	}
	return slack.NewActionBlock(BlockPlaybookRun+"."+objectID, m)
}

// threadPlaybookOptions are "Run …" options for a thread item's overflow
// menu, as many as fit beside the item actions (five options in all).
func threadPlaybookOptions(findingID string, choices []PlaybookChoice, used int) []*slack.OptionBlockObject {
	var out []*slack.OptionBlockObject
	for _, c := range choices {
		if used+len(out) >= 5 {
			break
		}
		out = append(out, slack.NewOptionBlockObject(ItemPlaybook+":"+findingID+":"+c.ID,
			plain(blockkit.Truncate("Run "+c.Name, blockkit.MaxOptionText)), nil))
	}
	return out
}

// PlaybookQueuedText answers the click at once.
func PlaybookQueuedText(name, what string) string {
	return fmt.Sprintf(":arrow_forward: Running playbook *%s* on %s. You will see how it went here.", escape(name, 80), what)
}

// PlaybookOutcome tells the person who ran a playbook how the run ended:
// status, HTTP status, duration, attempts and, on failure, why.
func PlaybookOutcome(name string, run accessbot.PlaybookRun) (string, []slack.Block) {
	var b strings.Builder
	if run.Status == accessbot.RunDelivered {
		fmt.Fprintf(&b, ":white_check_mark: Playbook *%s* delivered", escape(name, 80))
	} else {
		fmt.Fprintf(&b, ":x: Playbook *%s* failed", escape(name, 80))
	}
	if run.ResponseStatus != 0 {
		fmt.Fprintf(&b, " · HTTP %d", run.ResponseStatus)
	}
	fmt.Fprintf(&b, " · %s", run.Duration.Round(time.Millisecond))
	if run.Attempts != 1 {
		fmt.Fprintf(&b, " · %d attempts", run.Attempts)
	}
	if run.Status != accessbot.RunDelivered && run.Error != "" {
		fmt.Fprintf(&b, "\n%s", escape(run.Error, 300))
	}
	text := stripMarkup(b.String())
	text = strings.NewReplacer(":x: ", "").Replace(text)
	blocks := []slack.Block{
		slack.NewSectionBlock(mrkdwn(b.String()), nil, nil, slack.SectionBlockOptionBlockID(BlockPlaybookRun+".outcome")),
		slack.NewContextBlock(BlockPlaybookRun+".event", mrkdwn(fmt.Sprintf("Event id `%s`", escape(run.EventID, 80)))),
	}
	return blockkit.Truncate(text, 3000), blocks
}
