package views

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot/bot/blockkit"
)

// Purposes (issue 17): subcommands, ids.
const (
	SubPurposes = "purposes"
	SubStart    = "start"
	SubSessions = "sessions"

	ActionPurposeAssign  = "purpose_assign"
	ActionPurposeStart   = "purpose_start"
	ActionSessionStop    = "session_stop"
	ActionSessionExtend  = "session_extend"
	ActionPurposeFor     = "purpose_for"
	ActionPurposeWhy     = "purpose_why"
	BlockPurposeFor      = "purpose_for"
	BlockPurposeWhy      = "purpose_why"
	BlockPurposeWhat     = "purpose_what"
	BlockPurposesHeader  = "purposes_header"
	BlockPurposeItem     = "purpose_item"
	BlockSessionActions  = "session_actions"
	BlockSessionsList    = "sessions_list"
	CallbackPurposeStart = "purpose_start"
	CallbackPurposeAsk   = "purpose_assign"
	CallbackSessionStop  = "session_stop"
	CallbackSessionExt   = "session_extend"
)

// PurposeLine is one purpose as a person sees it.
type PurposeLine struct {
	ID, Name, Description string
	Entitlements          []string // "App / Connection"
	Max                   time.Duration
	Assigned              bool
	StartApproved         bool // starts go through a chain
	Session               *SessionLine
}

// SessionLine is one active (or ending) session.
type SessionLine struct {
	ID, Purpose, Holder, Reason string
	Until                       time.Time
	Ending                      bool
}

func (p PurposeLine) text() string {
	s := fmt.Sprintf("*%s*", escape(p.Name, 80))
	if p.Description != "" {
		s += ": " + escape(p.Description, 300)
	}
	s += fmt.Sprintf("\n%s · at most %s", escape(strings.Join(p.Entitlements, ", "), 1500), DurationWords(p.Max))
	if p.StartApproved {
		s += " · each start is approved"
	}
	switch {
	case p.Session != nil && p.Session.Ending:
		s += "\n:hourglass_flowing_sand: Ending: your access is being removed."
	case p.Session != nil:
		s += "\n:large_green_circle: Active until " + SlackDate(p.Session.Until)
	case !p.Assigned:
		s += "\n_Not assigned to you._"
	}
	return s
}

// purposeButtons are Request (not assigned), Start (assigned, idle) or
// Stop and Extend (active).
func purposeButtons(p PurposeLine) []slack.BlockElement {
	switch {
	case !p.Assigned:
		return []slack.BlockElement{slack.NewButtonBlockElement(ActionPurposeAssign, p.ID, plain("Request…"))}
	case p.Session == nil:
		return []slack.BlockElement{slack.NewButtonBlockElement(ActionPurposeStart, p.ID, plain("Start…")).WithStyle(slack.StylePrimary)}
	case p.Session.Ending:
		return nil
	}
	return []slack.BlockElement{
		slack.NewButtonBlockElement(ActionSessionStop, p.Session.ID, plain("Stop")).WithStyle(slack.StyleDanger),
		slack.NewButtonBlockElement(ActionSessionExtend, p.Session.ID, plain("Extend…")),
	}
}

func purposeBlocks(ps []PurposeLine, max int) []slack.Block {
	var out []slack.Block
	for i, p := range ps {
		if i == max {
			out = append(out, slack.NewContextBlock(BlockPurposeItem+".more", mrkdwn(fmt.Sprintf("…and %d more: `%s %s`", len(ps)-max, Command, SubPurposes))))
			break
		}
		id := BlockPurposeItem + "." + strconv.Itoa(i)
		out = append(out, slack.NewSectionBlock(mrkdwn(blockkit.Truncate(p.text(), blockkit.MaxSectionText)), nil, nil, slack.SectionBlockOptionBlockID(id)))
		if b := purposeButtons(p); len(b) > 0 {
			out = append(out, slack.NewActionBlock(BlockSessionActions+"."+strconv.Itoa(i), b...))
		}
	}
	return out
}

// PurposesList answers "/access purposes".
func PurposesList(ps []PurposeLine) (string, []slack.Block) {
	if len(ps) == 0 {
		return "No purposes are declared.", []slack.Block{slack.NewSectionBlock(mrkdwn("No purposes are declared. Admins declare them in the tenant file (`purposes:`)."), nil, nil, slack.SectionBlockOptionBlockID(BlockPurposesHeader))}
	}
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn(fmt.Sprintf("*Purposes (%d)*: start one with `%s %s NAME [length] [reason]`.", len(ps), Command, SubStart)), nil, nil, slack.SectionBlockOptionBlockID(BlockPurposesHeader))}
	return fmt.Sprintf("Purposes (%d)", len(ps)), append(blocks, purposeBlocks(ps, 20)...)
}

// HomePurposes is the Home tab's section of the purposes assigned to the
// viewer, with Start, or Stop and Extend; nil when none is.
func HomePurposes(ps []PurposeLine) []slack.Block {
	var mine []PurposeLine
	for _, p := range ps {
		if p.Assigned {
			mine = append(mine, p)
		}
	}
	if len(mine) == 0 {
		return nil
	}
	return append([]slack.Block{slack.NewHeaderBlock(plain("My purposes"), slack.HeaderBlockOptionBlockID(BlockPurposesHeader))}, purposeBlocks(mine, 10)...)
}

// DurationChoices are the lengths offered up to max (and max itself).
func DurationChoices(max time.Duration) []time.Duration {
	var out []time.Duration
	for _, d := range []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 12 * time.Hour, 24 * time.Hour} {
		if d < max {
			out = append(out, d)
		}
	}
	if max >= time.Minute {
		out = append(out, max.Truncate(time.Minute))
	}
	return out
}

func durationSelect(choices []time.Duration, initial time.Duration) *slack.SelectBlockElement {
	opts := make([]*slack.OptionBlockObject, 0, len(choices))
	var init *slack.OptionBlockObject
	for _, d := range choices {
		o := slack.NewOptionBlockObject(strconv.FormatInt(int64(d/time.Minute), 10), plain(DurationWords(d)), nil)
		opts = append(opts, o)
		if d == initial {
			init = o
		}
	}
	sel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("How long"), ActionPurposeFor, opts...)
	if init == nil && len(opts) > 0 {
		init = opts[len(opts)-1]
	}
	sel.InitialOption = init
	return sel
}

func reasonInput(hint, initial string) *slack.InputBlock {
	why := slack.NewPlainTextInputBlockElement(plain(hint), ActionPurposeWhy)
	why.Multiline = true
	why.MinLength, why.MaxLength = 10, 1500
	why.InitialValue = initial
	return slack.NewInputBlock(BlockPurposeWhy, plain("Reason"), nil, why)
}

// StartModal asks how long and why, for one purpose.
func StartModal(p PurposeLine, length time.Duration, reason string) slack.ModalViewRequest {
	what := fmt.Sprintf("Start *%s*: %s, for at most %s.", escape(p.Name, 80), escape(strings.Join(p.Entitlements, ", "), 1500), DurationWords(p.Max))
	if p.StartApproved {
		what += "\n_Each start is approved first; your access begins once it is._"
	}
	return slack.ModalViewRequest{Type: slack.VTModal, CallbackID: CallbackPurposeStart, Title: plain("Start purpose"),
		Submit: plain("Start"), Close: plain("Cancel"), PrivateMetadata: p.ID,
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewSectionBlock(mrkdwn(blockkit.Truncate(what, blockkit.MaxSectionText)), nil, nil, slack.SectionBlockOptionBlockID(BlockPurposeWhat)),
			slack.NewInputBlock(BlockPurposeFor, plain("Length"), nil, durationSelect(DurationChoices(p.Max), length)),
			reasonInput("What do you need it for?", reason),
		}}}
}

// AssignModal asks why, for an assignment request.
func AssignModal(p PurposeLine) slack.ModalViewRequest {
	return slack.ModalViewRequest{Type: slack.VTModal, CallbackID: CallbackPurposeAsk, Title: plain("Request purpose"),
		Submit: plain("Request"), Close: plain("Cancel"), PrivateMetadata: p.ID,
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewSectionBlock(mrkdwn(blockkit.Truncate(p.text(), blockkit.MaxSectionText)), nil, nil, slack.SectionBlockOptionBlockID(BlockPurposeWhat)),
			reasonInput("Why do you need this purpose?", ""),
		}}}
}

// ExtendSessionModal offers extensions within the purpose's cap.
// With approval (the purpose's starts go through a chain) it also asks
// why, for the approvers, and says the extension waits for them.
func ExtendSessionModal(s SessionLine, choices []time.Duration, approval bool) slack.ModalViewRequest {
	what := fmt.Sprintf("Extend *%s*, now until %s.", escape(s.Purpose, 80), SlackDate(s.Until))
	submit := "Extend"
	blocks := []slack.Block{nil, slack.NewInputBlock(BlockPurposeFor, plain("Extend by"), nil, durationSelect(choices, 0))}
	if approval {
		what += " Starts of this purpose are approved, so more time is too: your session keeps its end until then."
		submit = "Ask"
		blocks = append(blocks, reasonInput("Why do you need more time?", ""))
	}
	blocks[0] = slack.NewSectionBlock(mrkdwn(what), nil, nil, slack.SectionBlockOptionBlockID(BlockPurposeWhat))
	return slack.ModalViewRequest{Type: slack.VTModal, CallbackID: CallbackSessionExt, Title: plain("Extend session"),
		Submit: plain(submit), Close: plain("Cancel"), PrivateMetadata: s.ID, Blocks: slack.Blocks{BlockSet: blocks}}
}

// StopSessionModal asks an admin why they stop someone's session.
func StopSessionModal(s SessionLine) slack.ModalViewRequest {
	return slack.ModalViewRequest{Type: slack.VTModal, CallbackID: CallbackSessionStop, Title: plain("Stop session"),
		Submit: plain("Stop"), Close: plain("Cancel"), PrivateMetadata: s.ID,
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewSectionBlock(mrkdwn(fmt.Sprintf("Stop %s's *%s* (until %s)? They are told your reason.", escape(s.Holder, 80), escape(s.Purpose, 80), SlackDate(s.Until))), nil, nil, slack.SectionBlockOptionBlockID(BlockPurposeWhat)),
			reasonInput("Why do you stop it?", ""),
		}}}
}

// SessionsList is the admins' list of active sessions, each with Stop.
func SessionsList(ss []SessionLine) (string, []slack.Block) {
	if len(ss) == 0 {
		return "No active sessions.", []slack.Block{slack.NewSectionBlock(mrkdwn("No active sessions."), nil, nil, slack.SectionBlockOptionBlockID(BlockSessionsList))}
	}
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn(fmt.Sprintf("*Active sessions (%d)*", len(ss))), nil, nil, slack.SectionBlockOptionBlockID(BlockSessionsList))}
	for i, s := range ss {
		if i == 40 {
			blocks = append(blocks, slack.NewContextBlock(BlockSessionsList+".more", mrkdwn(fmt.Sprintf("…and %d more.", len(ss)-40))))
			break
		}
		line := fmt.Sprintf("*%s*: %s, until %s\n_%s_", escape(s.Holder, 80), escape(s.Purpose, 80), SlackDate(s.Until), escape(s.Reason, 500))
		var acc *slack.Accessory
		if s.Ending {
			line += "\n:hourglass_flowing_sand: ending"
		} else {
			acc = slack.NewAccessory(slack.NewButtonBlockElement(ActionSessionStop, s.ID, plain("Stop…")).WithStyle(slack.StyleDanger))
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(blockkit.Truncate(line, blockkit.MaxSectionText)), nil, acc, slack.SectionBlockOptionBlockID(BlockSessionsList+"."+strconv.Itoa(i))))
	}
	return fmt.Sprintf("Active sessions (%d)", len(ss)), blocks
}

// SessionStarted is the channel's announcement of a start.
func SessionStarted(s SessionLine, ents []string) string {
	return fmt.Sprintf(":large_green_circle: %s started *%s* until %s: %s\nAccess: %s", escape(s.Holder, 80), escape(s.Purpose, 80),
		SlackDate(s.Until), escape(s.Reason, 500), escape(strings.Join(ents, ", "), 1500))
}

// SessionExtended is the channel's announcement of a later end.
func SessionExtended(s SessionLine, from time.Time) string {
	return fmt.Sprintf(":large_blue_circle: %s extended *%s* until %s (it was to end %s).", escape(s.Holder, 80), escape(s.Purpose, 80),
		SlackDate(s.Until), SlackDate(from))
}

// SessionEnded is the channel's announcement of an end: by itself, by its
// holder, or by an admin (named, with the reason).
func SessionEnded(s SessionLine, by, reason string, expired bool) string {
	switch {
	case expired:
		return fmt.Sprintf(":white_circle: %s's *%s* reached its end: the access is being removed.", escape(s.Holder, 80), escape(s.Purpose, 80))
	case by == s.Holder:
		return fmt.Sprintf(":white_circle: %s stopped *%s*: the access is being removed.", escape(s.Holder, 80), escape(s.Purpose, 80))
	}
	return fmt.Sprintf(":red_circle: %s stopped %s's *%s*: %s. The access is being removed.", escape(by, 80), escape(s.Holder, 80), escape(s.Purpose, 80), escape(reason, 500))
}

// Notice is a modal that says one thing and closes.
func Notice(title, text string) slack.ModalViewRequest {
	return slack.ModalViewRequest{Type: slack.VTModal, Title: plain(truncate(title, 24)), Close: plain("Close"),
		Blocks: slack.Blocks{BlockSet: []slack.Block{slack.NewSectionBlock(mrkdwn(blockkit.Truncate(text, blockkit.MaxSectionText)), nil, nil, slack.SectionBlockOptionBlockID(BlockPurposeWhat))}}}
}
