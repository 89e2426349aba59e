package views

import (
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/blockkit"
)

// BlockPlaybookNote + "." + object id is the context line under an
// object's "Run playbook" menu in a modal: the run's outcome, in place
// (issue 13: "The person who ran it sees the outcome in place").
const BlockPlaybookNote = "playbook_note"

// PlaybookRunningNote is the note shown at once on the click.
func PlaybookRunningNote(name string) string {
	return fmt.Sprintf(":arrow_forward: *%s*: running…", escape(name, 80))
}

// PlaybookRefusedNote is the note when the click ran nothing.
func PlaybookRefusedNote(name, why string) string {
	return fmt.Sprintf(":arrow_forward: *%s*: not run. %s", escape(name, 80), escape(why, 300))
}

// PlaybookOutcomeNote is the note when the run ended: status, HTTP status,
// duration, attempts and, on failure, why.
func PlaybookOutcomeNote(name string, run accessbot.PlaybookRun) string {
	var b strings.Builder
	if run.Status == accessbot.RunDelivered {
		fmt.Fprintf(&b, ":white_check_mark: *%s*: delivered", escape(name, 80))
	} else {
		fmt.Fprintf(&b, ":x: *%s*: failed", escape(name, 80))
	}
	if run.ResponseStatus != 0 {
		fmt.Fprintf(&b, ", HTTP %d", run.ResponseStatus)
	}
	fmt.Fprintf(&b, " in %s", run.Duration.Round(time.Millisecond))
	if run.Attempts != 1 {
		fmt.Fprintf(&b, " after %d attempts", run.Attempts)
	}
	if run.Status != accessbot.RunDelivered && run.Error != "" {
		fmt.Fprintf(&b, ": %s", escape(run.Error, 300))
	}
	return blockkit.Truncate(b.String(), 2000)
}

// WithPlaybookNote returns modal v with note as the context line under
// the "Run playbook" menu of objectID, replacing an earlier note there.
// ok is false when v has no such menu, or no room for one more block: the
// caller tells the person some other way.
func WithPlaybookNote(v slack.ModalViewRequest, objectID, note string) (slack.ModalViewRequest, bool) {
	menuID, noteID := BlockPlaybookRun+"."+objectID, BlockPlaybookNote+"."+objectID
	line := slack.NewContextBlock(noteID, mrkdwn(note))
	in := v.Blocks.BlockSet
	out := make([]slack.Block, 0, len(in)+1)
	placed := false
	for _, b := range in {
		if b.ID() == noteID {
			continue // replaced after the menu
		}
		out = append(out, b)
		if b.ID() == menuID {
			out = append(out, line)
			placed = true
		}
	}
	if !placed || len(out) > blockkit.MaxViewBlocks {
		return v, false
	}
	v.Blocks = slack.Blocks{BlockSet: out}
	return v, true
}

// ModalOf is the request that draws modal v again as it is (for
// views.update): the view object a block_actions payload carries.
func ModalOf(v slack.View) slack.ModalViewRequest {
	return slack.ModalViewRequest{Type: v.Type, Title: v.Title, Blocks: v.Blocks, Close: v.Close, Submit: v.Submit,
		PrivateMetadata: v.PrivateMetadata, CallbackID: v.CallbackID, ClearOnClose: v.ClearOnClose,
		NotifyOnClose: v.NotifyOnClose, ExternalID: v.ExternalID}
}
