package views

import (
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
)

// Action ids of a failed flow's admin buttons; their value is the flow id.
const (
	ActionFlowRetry    = "flow_retry"
	ActionFlowMarkDone = "flow_mark_done"
	ActionFlowCancel   = "flow_cancel"
	BlockFlowSteps     = "flow_steps"
	BlockFlowAdmin     = "flow_admin"
)

// stepIcon is how a step's status reads at a glance.
func stepIcon(s accessbot.FlowStatus) string {
	switch s {
	case accessbot.FlowDone:
		return ":white_check_mark:"
	case accessbot.FlowRunning:
		return ":arrows_counterclockwise:"
	case accessbot.FlowWaiting:
		return ":hourglass_flowing_sand:"
	case accessbot.FlowFailed:
		return ":x:"
	case accessbot.FlowCancelled:
		return ":no_entry_sign:"
	}
	return ":white_circle:"
}

// flowName says what a flow does: "Granting GitLab / developers".
func flowName(f *accessbot.ActionFlow, what string) string {
	if f.Direction == "deprovision" {
		return "Removing " + what
	}
	return "Granting " + what
}

// FlowTitle is the flow's name and status: "Granting GitLab / developers: running".
func FlowTitle(f *accessbot.ActionFlow, what string) string {
	return flowName(f, what) + ": " + string(f.Status)
}

// FlowSteps is one line per step: its status, type, note and last error.
func FlowSteps(f *accessbot.ActionFlow) string {
	var b strings.Builder
	for i, s := range f.Steps {
		fmt.Fprintf(&b, "%s %d. `%s` %s", stepIcon(s.Status), i+1, escape(s.Type, 80), s.Status)
		if s.Note != "" {
			b.WriteString(": " + escape(s.Note, 200))
		}
		if s.LastError != "" {
			b.WriteString("\n      error: " + escape(s.LastError, 400))
		}
		b.WriteByte('\n')
	}
	return strings.TrimRight(b.String(), "\n")
}

// flowStepsPlain is FlowSteps for the notification text: no markup.
func flowStepsPlain(f *accessbot.ActionFlow) string {
	var lines []string
	for i, s := range f.Steps {
		l := fmt.Sprintf("%d. %s %s", i+1, escape(s.Type, 80), s.Status)
		if s.Note != "" {
			l += ": " + escape(s.Note, 200)
		}
		if s.LastError != "" {
			l += " (error: " + escape(s.LastError, 400) + ")"
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n")
}

// FlowMessage is the one message a flow has in the requester's thread,
// updated as each step runs.
func FlowMessage(f *accessbot.ActionFlow, what string) (string, []slack.Block) {
	title := FlowTitle(f, what)
	steps := truncate(FlowSteps(f), 2900)
	return truncate(escape(title, 300)+"\n"+flowStepsPlain(f), 3000), []slack.Block{
		slack.NewSectionBlock(mrkdwn("*"+escape(title, 300)+"*"), nil, nil),
		slack.NewSectionBlock(mrkdwn(steps), nil, nil, slack.SectionBlockOptionBlockID(BlockFlowSteps)),
	}
}

// FlowFailedMessage tells a tenant admin a step failed, with its error and
// Retry, Mark done and Cancel flow buttons.
func FlowFailedMessage(f *accessbot.ActionFlow, what string) (string, []slack.Block) {
	s := f.Steps[min(f.Current, len(f.Steps)-1)]
	text := fmt.Sprintf("%s: step %d (%s) failed: %s", escape(flowName(f, what), 300), f.Current+1, escape(s.Type, 80), escape(s.LastError, 1500))
	return truncate(text, 3000), []slack.Block{
		slack.NewSectionBlock(mrkdwn(fmt.Sprintf("*%s: step %d (`%s`) failed*\n%s", escape(flowName(f, what), 300), f.Current+1,
			escape(s.Type, 80), escape(s.LastError, 1500))), nil, nil),
		slack.NewSectionBlock(mrkdwn(truncate(FlowSteps(f), 2900)), nil, nil, slack.SectionBlockOptionBlockID(BlockFlowSteps)),
		slack.NewActionBlock(BlockFlowAdmin,
			slack.NewButtonBlockElement(ActionFlowRetry, f.ID, plain("Retry")).WithStyle(slack.StylePrimary),
			slack.NewButtonBlockElement(ActionFlowMarkDone, f.ID, plain("Mark done")),
			slack.NewButtonBlockElement(ActionFlowCancel, f.ID, plain("Cancel flow")).WithStyle(slack.StyleDanger),
		),
	}
}

// HomeFlows lists failed and waiting flows on an admin's Home tab (a
// failed one's buttons are in the admins' DM about it).
func HomeFlows(flows []accessbot.ActionFlow, what func(*accessbot.ActionFlow) string) []slack.Block {
	blocks := []slack.Block{slack.NewHeaderBlock(plain("Provisioning: failed and waiting"))}
	if len(flows) == 0 {
		return append(blocks, slack.NewContextBlock("", mrkdwn("No flow is failed or waiting.")))
	}
	for i := range flows {
		f := &flows[i]
		if len(blocks) > 40 {
			break
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(truncate("*"+escape(FlowTitle(f, what(f)), 300)+"*\n"+FlowSteps(f), 2900)), nil, nil))
	}
	return blocks
}
