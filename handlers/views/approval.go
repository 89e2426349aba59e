package views

import (
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
)

// LevelState is how one level of a request stands, for its approval messages.
type LevelState struct {
	Level int // 0-based
	// Closed: the level can no longer be decided (decided, or the request left pending).
	Closed bool
	// Decisions at this level, in order.
	Decisions []DecisionLine
	// Needed is how many approvals close the level; above 1 the open
	// message counts them ("1 of 2 approvals so far, by …").
	Needed int
}

// QuorumWords counts a level's approvals against what it needs, "" when it
// needs one (the first approval closes it) or has none yet.
func QuorumWords(st LevelState) string {
	var by []string
	for _, d := range st.Decisions {
		if d.Decision == accessbot.DecisionApprove {
			by = append(by, escape(d.By, maxValue)+" ("+SlackDate(d.At)+")")
		}
	}
	if st.Needed <= 1 || len(by) == 0 {
		return ""
	}
	return fmt.Sprintf("*%d of %d approvals so far*, by %s.", len(by), st.Needed, strings.Join(by, ", "))
}

// ApprovalMessage is the DM asking an approver to decide level of a request.
// Once the level is closed the buttons go and the message says who decided
// and when; under rule "all" it lists the approvals so far.
func ApprovalMessage(c RequestCard, st LevelState) (string, []slack.Block) {
	lvl := LevelWords(st.Level, c.Levels)
	header := "Access request waiting for your approval"
	text := fmt.Sprintf("%s asks for %s (level %s). Approve or deny it here.", escape(c.Requester, maxValue), plainWhat(c), lvl)
	var outcome string
	if st.Closed {
		header = "Access request decided"
		outcome = closedWords(c, st)
		text = fmt.Sprintf("%s: %s's request for %s (level %s).", stripMarkup(outcome), escape(c.Requester, maxValue), plainWhat(c), lvl)
	}
	blocks := []slack.Block{slack.NewHeaderBlock(plain(header), slack.HeaderBlockOptionBlockID(BlockCardHeader))}
	blocks = append(blocks, CardBlocks(c, "")...)
	if st.Closed {
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(truncate(outcome, 2900)), nil, nil, slack.SectionBlockOptionBlockID(BlockCardStatus)))
	} else {
		if esc := escalatedWords(c, st.Level); esc != "" {
			text += " " + stripMarkup(esc)
			blocks = append(blocks, slack.NewContextBlock(BlockCardEscalated, mrkdwn(esc)))
		}
		if q := QuorumWords(st); q != "" {
			text += " " + stripMarkup(q)
			blocks = append(blocks, slack.NewContextBlock(BlockCardStatus, mrkdwn(truncate(q, 2900))))
		} else if len(st.Decisions) > 0 {
			lines := make([]string, len(st.Decisions))
			for i, d := range st.Decisions {
				lines[i] = DecisionWords(d)
			}
			blocks = append(blocks, slack.NewContextBlock(BlockCardStatus, mrkdwn(truncate("So far: "+strings.Join(lines, "; "), 2900))))
		}
		blocks = append(blocks, ApprovalButtons(c.ID, st.Level, 0))
	}
	if c.Why {
		blocks = append(blocks, WhyApproversBlock(c.ID))
	}
	if m := PlaybookMenuBlock(accessbot.PlaybookRequest, c.ID, c.Playbooks); m != nil {
		blocks = append(blocks, m)
	}
	return truncate(text, 3000), blocks
}

// escalatedWords says when level escalated to the admins, "" when it did not.
func escalatedWords(c RequestCard, level int) string {
	if !c.Escalated || c.EscalatedAt.IsZero() || level != c.Level {
		return ""
	}
	return "Escalated to admins at " + SlackDate(c.EscalatedAt) + ". Any approver of this level may decide."
}

// closedWords says how a level closed: by a decision, or by the request ending.
func closedWords(c RequestCard, st LevelState) string {
	var closer *DecisionLine
	for i := range st.Decisions {
		d := &st.Decisions[i]
		if closer == nil || d.Decision == accessbot.DecisionDeny || (closer.Decision != accessbot.DecisionDeny && !d.At.Before(closer.At)) {
			closer = d
		}
	}
	if closer != nil && (c.Status != accessbot.StatusCancelled && c.Status != accessbot.StatusExpired) {
		s := ":white_check_mark: " + DecisionWords(*closer)
		if closer.Decision == accessbot.DecisionDeny {
			s = ":no_entry: " + DecisionWords(*closer)
		}
		return s
	}
	switch c.Status {
	case accessbot.StatusCancelled:
		return ":heavy_minus_sign: Cancelled by the requester."
	case accessbot.StatusExpired:
		return ":alarm_clock: Expired before anyone decided."
	}
	return StatusWords(c)
}

// plainWhat is What without mrkdwn stars, for notification text.
func plainWhat(c RequestCard) string { return stripMarkup(What(c)) }

func stripMarkup(s string) string {
	s = strings.ReplaceAll(s, "*", "")
	// Slack dates keep their fallback text.
	for {
		i := strings.Index(s, "<!date^")
		if i < 0 {
			break
		}
		j := strings.Index(s[i:], ">")
		bar := strings.Index(s[i:], "|")
		if j < 0 || bar < 0 || bar > j {
			break
		}
		s = s[:i] + s[i+bar+1:i+j] + s[i+j+1:]
	}
	for _, e := range []string{":white_check_mark: ", ":no_entry: ", ":heavy_minus_sign: ", ":alarm_clock: ", ":hourglass_flowing_sand: "} {
		s = strings.ReplaceAll(s, e, "")
	}
	return s
}

// RequesterMessage is the requester's confirmation DM, updated as the request
// moves; every step is also told in its thread.
func RequesterMessage(c RequestCard) (string, []slack.Block) {
	text := fmt.Sprintf("Your request for %s: %s.", plainWhat(c), stripMarkup(StatusWords(c)))
	blocks := []slack.Block{slack.NewHeaderBlock(plain("Your request"), slack.HeaderBlockOptionBlockID(BlockCardHeader))}
	blocks = append(blocks, CardBlocks(c, "")...)
	if h := HistoryBlock(c, ""); h != nil {
		blocks = append(blocks, h)
	}
	if c.Status == accessbot.StatusPending {
		cancel := slack.NewButtonBlockElement(ActionCancel, c.ID, plain("Cancel request"))
		cancel.Confirm = slack.NewConfirmationBlockObject(plain("Cancel this request?"), plain("Its approvers will no longer be asked."), plain("Cancel it"), plain("Keep it"))
		blocks = append(blocks, slack.NewActionBlock(suffixed(BlockListItem, "cancel"), cancel))
	}
	if c.Why {
		blocks = append(blocks, WhyApproversBlock(c.ID))
	}
	if m := PlaybookMenuBlock(accessbot.PlaybookRequest, c.ID, c.Playbooks); m != nil {
		blocks = append(blocks, m)
	}
	return truncate(text, 3000), blocks
}

// TargetMessage tells the person a request made by someone else is for,
// with a Cancel button while it is pending (the server checks who clicks).
func TargetMessage(c RequestCard) (string, []slack.Block) {
	text := fmt.Sprintf("%s asked for this access for you: %s. %s.", c.Requester, plainWhat(c), stripMarkup(StatusWords(c)))
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain("A request for you"), slack.HeaderBlockOptionBlockID(BlockCardHeader)),
		slack.NewSectionBlock(mrkdwn(escape(c.Requester, maxValue)+" asked for this access for you. If you do not want it, cancel the request; you cannot approve it yourself."),
			nil, nil, slack.SectionBlockOptionBlockID(BlockTargetIntro)),
	}
	blocks = append(blocks, CardBlocks(c, "")...)
	if c.Status == accessbot.StatusPending {
		cancel := slack.NewButtonBlockElement(ActionCancel, c.ID, plain("Cancel request"))
		cancel.Confirm = slack.NewConfirmationBlockObject(plain("Cancel this request?"), plain("It was made for you; its approvers will no longer be asked."), plain("Cancel it"), plain("Keep it"))
		blocks = append(blocks, slack.NewActionBlock(suffixed(BlockListItem, "cancel"), cancel))
	}
	if c.Why {
		blocks = append(blocks, WhyApproversBlock(c.ID))
	}
	return truncate(text, 3000), blocks
}

// StepText is a thread reply telling the requester what happened.
func StepText(c RequestCard, d DecisionLine, levelClosed bool) string {
	lvl := LevelWords(d.Level, c.Levels)
	by := escape(d.By, maxValue)
	switch {
	case d.Decision == accessbot.DecisionDeny:
		s := fmt.Sprintf("Level %s: denied by %s.", lvl, by)
		if d.Reason != "" {
			s += " Reason: " + escape(d.Reason, 2000)
		}
		return s
	case levelClosed && c.Status == accessbot.StatusApproved:
		return fmt.Sprintf("Level %s: approved by %s. Your request is fully approved.", lvl, by)
	case levelClosed:
		return fmt.Sprintf("Level %s: approved by %s. It now goes to level %s.", lvl, by, LevelWords(d.Level+1, c.Levels))
	}
	return fmt.Sprintf("Level %s: approved by %s; waiting for the other approvers of this level.", lvl, by)
}

// WaitingText tells the requester who decides the current level.
func WaitingText(c RequestCard, approvers []string, escalated bool) string {
	names := make([]string, len(approvers))
	for i, a := range approvers {
		names[i] = escape(a, maxValue)
	}
	who := strings.Join(names, ", ")
	if escalated {
		return fmt.Sprintf("Level %s has waited too long, so I asked the admins too: %s.", LevelWords(c.Level, c.Levels), who)
	}
	return fmt.Sprintf("Level %s is now with %s.", LevelWords(c.Level, c.Levels), who)
}

// FinishedText tells the requester how the request ended. An approval or
// denial names who made the final decision (and why, for a denial), so it
// is the one reply the decision gets (LevelDecided says nothing then).
func FinishedText(c RequestCard) string {
	var final *DecisionLine
	for i := range c.Decisions {
		if d := &c.Decisions[i]; d.Level == c.Level {
			final = d
		}
	}
	asked := "grant it"
	if c.Kind != accessbot.RequestUserAccess {
		asked = "carry it out"
	}
	switch {
	case c.Status == accessbot.StatusApproved && final != nil:
		return fmt.Sprintf("Level %s: approved by %s. Your request is fully approved, and the application owners have been asked to %s.",
			LevelWords(final.Level, c.Levels), final.By, asked)
	case c.Status == accessbot.StatusApproved:
		// Fulfilment, the only provisioner yet, asks the owners to do it by hand.
		return "Approved. The application owners have been asked to " + asked + "."
	case c.Status == accessbot.StatusDenied && final != nil:
		s := fmt.Sprintf("Level %s: denied by %s. Your request will not go ahead.", LevelWords(final.Level, c.Levels), final.By)
		if final.Reason != "" {
			s += " Reason: " + final.Reason
		}
		return s
	case c.Status == accessbot.StatusDenied:
		return "Denied. Your request will not go ahead."
	case c.Status == accessbot.StatusCancelled:
		return "Cancelled. Its approvers are no longer asked."
	case c.Status == accessbot.StatusExpired:
		return "Expired: nobody decided in time. Ask again if you still need it."
	}
	return "Your request is now " + string(c.Status) + "."
}

// ReminderText nudges an approver who has not decided yet.
func ReminderText(c RequestCard) string {
	return fmt.Sprintf("Reminder: %s's request for %s (level %s) still waits for you. Approve or deny it above.",
		escape(c.Requester, maxValue), plainWhat(c), LevelWords(c.Level, c.Levels))
}

// MaxDenyReason is the deny modal's max_length; the server checks it again
// (requests.MaxReason, the same number), since a payload can carry more.
const MaxDenyReason = 2000

// DenyModal asks an approver why they deny; metadata carries the request id and level.
func DenyModal(c RequestCard, metadata string) slack.ModalViewRequest {
	reason := slack.NewPlainTextInputBlockElement(plain("Tell the requester why"), ActionDenyReason)
	reason.Multiline = true
	reason.MaxLength = MaxDenyReason
	blocks := []slack.Block{
		slack.NewSectionBlock(mrkdwn("Deny "+Summary(c)+"?"), nil, nil, slack.SectionBlockOptionBlockID(BlockPreviewIntro)),
		input(BlockDenyReason, "Reason", reason, false, "The requester sees this."),
	}
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      CallbackDenyReason,
		Title:           plain("Deny request"),
		Submit:          plain("Deny"),
		Close:           plain("Back"),
		PrivateMetadata: metadata,
		Blocks:          slack.Blocks{BlockSet: blocks},
	}
}

// DetailsModal shows a request in full: the card, its approval chain and its history.
func DetailsModal(c RequestCard, chain []string) slack.ModalViewRequest {
	blocks := CardBlocks(c, "")
	if len(chain) > 0 {
		lines := make([]string, len(chain))
		for i, l := range chain {
			lines[i] = fmt.Sprintf("%d. %s", i+1, escape(l, 500))
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(truncate("*Approval chain*\n"+strings.Join(lines, "\n"), 2900)), nil, nil, slack.SectionBlockOptionBlockID(BlockCardChain)))
	}
	if h := HistoryBlock(c, ""); h != nil {
		blocks = append(blocks, h)
	} else {
		blocks = append(blocks, slack.NewContextBlock(BlockCardHistory, mrkdwn("No decisions yet. Created "+SlackDate(c.CreatedAt)+".")))
	}
	if c.Why {
		blocks = append(blocks, WhyApproversBlock(c.ID))
	}
	return slack.ModalViewRequest{
		Type:       slack.VTModal,
		CallbackID: CallbackRequestDetails,
		Title:      plain("Request details"),
		Close:      plain("Close"),
		Blocks:     slack.Blocks{BlockSet: blocks},
	}
}
