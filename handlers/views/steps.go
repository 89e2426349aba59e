package views

import (
	"strconv"
	"strings"

	"github.com/slack-go/slack"
)

// Action, block and callback ids of flow-step messages (manual,
// slack_approval, slack_notification).
const (
	ActionStepDone     = "step_done"     // manual: Done
	ActionStepCant     = "step_cant"     // manual: Can't do it (opens the reason modal)
	ActionStepApprove  = "step_approve"  // slack_approval: Approve
	ActionStepDeny     = "step_deny"     // slack_approval: Deny (opens the reason modal)
	BlockStepText      = "step_text"     //
	BlockStepActions   = "step_actions"  //
	BlockStepStatus    = "step_status"   //
	BlockStepReason    = "step_reason"   // reason modal input
	ActionStepReason   = "step_reason_v" //
	CallbackStepReason = "step_reason"   // reason modal
	MaxStepReason      = 1000
)

// StepRef names a waiting step in a button's value: "flowID:index".
func StepRef(flowID string, index int) string { return flowID + ":" + strconv.Itoa(index) }

// ParseStepRef reads StepRef's value.
func ParseStepRef(v string) (flowID string, index int, ok bool) {
	f, i, found := strings.Cut(strings.TrimSpace(v), ":")
	n, err := strconv.Atoi(i)
	if !found || f == "" || err != nil || n < 0 {
		return "", 0, false
	}
	return f, n, true
}

// StepPrompt is one flow-step message.
type StepPrompt struct {
	Kind     string // "manual", "approval" or "notification"
	FlowID   string
	Index    int
	Title    string // the header
	Text     string // mrkdwn, already escaped by the caller where it holds user input
	Answered *StepAnswer
}

// StepAnswer is how a waiting step was answered, shown instead of its buttons.
type StepAnswer struct {
	Done   bool
	By     string // display name
	Reason string
}

// StepMessage renders a step message: its buttons while it waits, who
// answered (and why not) once it has been.
func StepMessage(p StepPrompt) (string, []slack.Block) {
	blocks := []slack.Block{
		slack.NewHeaderBlock(plain(truncate(p.Title, 150)), slack.HeaderBlockOptionBlockID(BlockCardHeader)),
		slack.NewSectionBlock(mrkdwn(truncate(p.Text, 2900)), nil, nil, slack.SectionBlockOptionBlockID(BlockStepText)),
	}
	if p.Answered != nil {
		blocks = append(blocks, StepStatus(p))
	} else if b := StepActions(p); b != nil {
		blocks = append(blocks, b)
	}
	text := p.Title + ": " + stripMarkup(p.Text)
	if p.Answered != nil {
		text += " — " + stripMarkup(answerWords(p))
	}
	return truncate(text, 3000), blocks
}

// StepActions is a waiting step's buttons (nil for a notification): Done
// and Can't do it for manual, Approve and Deny for approval.
func StepActions(p StepPrompt) slack.Block {
	ref := StepRef(p.FlowID, p.Index)
	switch p.Kind {
	case "manual":
		done := slack.NewButtonBlockElement(ActionStepDone, ref, plain("Done"))
		done.Style = slack.StylePrimary
		done.Confirm = slack.NewConfirmationBlockObject(plain("Is it done?"), plain("The requester is told the access exists, and the flow goes on."), plain("It's done"), plain("Not yet"))
		cant := slack.NewButtonBlockElement(ActionStepCant, ref, plain("Can't do it"))
		cant.Style = slack.StyleDanger
		return slack.NewActionBlock(BlockStepActions, done, cant)
	case "approval":
		ok := slack.NewButtonBlockElement(ActionStepApprove, ref, plain("Approve"))
		ok.Style = slack.StylePrimary
		no := slack.NewButtonBlockElement(ActionStepDeny, ref, plain("Deny"))
		no.Style = slack.StyleDanger
		return slack.NewActionBlock(BlockStepActions, ok, no)
	}
	return nil
}

// StepStatus is an answered step's line (who answered, and why not),
// shown instead of its buttons.
func StepStatus(p StepPrompt) slack.Block {
	return slack.NewContextBlock(BlockStepStatus, mrkdwn(answerWords(p)))
}

// StepStatusText is StepStatus as plain text, for a message's fallback text.
func StepStatusText(p StepPrompt) string { return stripMarkup(answerWords(p)) }

func answerWords(p StepPrompt) string {
	a := p.Answered
	by := escape(a.By, maxValue)
	switch {
	case a.Done && p.Kind == "approval":
		return ":white_check_mark: Approved by " + by + "."
	case a.Done:
		return ":white_check_mark: Done by " + by + "."
	case p.Kind == "approval":
		return ":no_entry: Denied by " + by + ". Reason: " + escape(a.Reason, 2000)
	}
	return ":no_entry: " + by + " could not do it. Reason: " + escape(a.Reason, 2000)
}

// StepReasonModal asks why a manual step can't be done, or why an approval
// step is denied; metadata is the StepRef.
func StepReasonModal(deny bool, metadata string) slack.ModalViewRequest {
	title, submit, label := "Can't do it", "Send", "Why can't it be done?"
	if deny {
		title, submit, label = "Deny", "Deny", "Why do you deny it?"
	}
	reason := slack.NewPlainTextInputBlockElement(plain("The requester and the admins see this"), ActionStepReason)
	reason.Multiline = true
	reason.MaxLength = MaxStepReason
	return slack.ModalViewRequest{
		Type:            slack.VTModal,
		CallbackID:      CallbackStepReason,
		Title:           plain(title),
		Submit:          plain(submit),
		Close:           plain("Back"),
		PrivateMetadata: metadata,
		Blocks:          slack.Blocks{BlockSet: []slack.Block{input(BlockStepReason, label, reason, false, "")}},
	}
}
