// Package views builds every Block Kit message and view accessbot sends. Each
// function takes domain values and returns blocks; nothing here talks to
// Slack. Golden files under testdata/ pin the JSON (go test -update rewrites).
package views

import (
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/blockkit"
)

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}
func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, s, false, false)
}

// maxValue caps a user-supplied value before escaping; an escape grows a
// rune to at most 5, so 250 runes always fit a 2000-rune field.
const maxValue = 250

// escape cuts user-supplied text to n runes and makes it safe inside mrkdwn
// (Slack's three escapes).
func escape(s string, n int) string {
	return blockkit.Escape(truncate(s, n))
}

// HelpEntry is one line of /access help.
type HelpEntry struct {
	Usage       string // e.g. "help", "mine"
	Description string
}

// Help is the ephemeral answer to "/access help": the text fallback and blocks.
func Help(command string, entries []HelpEntry) (string, []slack.Block) {
	list := HelpList(command, entries)
	return HelpText(list), HelpBlocks(list)
}

// HelpList is the command list of Help, in mrkdwn; it is the same for every
// user, so callers may render it once and build HelpText and HelpBlocks from
// it per answer (the guard edits blocks, which are therefore never shared).
func HelpList(command string, entries []HelpEntry) string {
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "• `%s %s`: %s\n", command, e.Usage, escape(e.Description, maxValue))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// HelpText is Help's text fallback for a HelpList.
func HelpText(list string) string { return "accessbot commands:\n" + list }

// HelpBlocks are Help's blocks for a HelpList.
func HelpBlocks(list string) []slack.Block {
	return []slack.Block{
		slack.NewSectionBlock(mrkdwn("*accessbot* asks, approves and reviews access to your company's applications. Commands:"), nil, nil, slack.SectionBlockOptionBlockID(BlockHelpIntro)),
		slack.NewSectionBlock(mrkdwn(list), nil, nil, slack.SectionBlockOptionBlockID(BlockHelpList)),
	}
}

// HomeInfo is what the App Home shows a linked user.
type HomeInfo struct {
	Tenant accessbot.Tenant
	User   accessbot.User
}

func roleWords(r accessbot.Role) string {
	switch r {
	case accessbot.RoleAdmin:
		return "Admin"
	case accessbot.RoleMember, "":
		return "Member"
	}
	return string(r)
}

// Home is the App Home of a user the bot has matched to a tenant user.
func Home(h HomeInfo) slack.HomeTabViewRequest {
	name := h.User.Name
	if name == "" {
		name = h.User.Email
	}
	fields := []*slack.TextBlockObject{
		mrkdwn("*Organisation*\n" + escape(h.Tenant.Name, maxValue)),
		mrkdwn("*Your role*\n" + roleWords(h.User.Role)),
		mrkdwn("*Email*\n" + escape(h.User.Email, maxValue)),
		mrkdwn("*Status*\n:white_check_mark: Linked"),
	}
	if h.User.Department != "" {
		fields = append(fields, mrkdwn("*Department*\n"+escape(h.User.Department, maxValue)))
	}
	return slack.HomeTabViewRequest{
		Type: slack.VTHomeTab,
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewHeaderBlock(plain(truncate("Hi "+name, 150)), slack.HeaderBlockOptionBlockID(BlockHomeHeader)),
			slack.NewSectionBlock(mrkdwn("This is who accessbot thinks you are:"), fields, nil, slack.SectionBlockOptionBlockID(BlockHomeStatus)),
			slack.NewContextBlock(BlockHomeHint, mrkdwn(fmt.Sprintf("Type `%s %s` in any channel to see what I can do.", Command, SubHelp))),
		}},
	}
}

// UnlinkedInfo explains why a Slack user is not matched to a tenant user.
type UnlinkedInfo struct {
	// Reason is the plain-words explanation (it names the email Slack reports).
	Reason string
	// Email is the address Slack reports, "" when none is visible.
	Email string
	// Admins names the tenant's admins (Slack mentions, or name and email);
	// "" when unknown.
	Admins string
}

// UnlinkedHome tells an unmatched user what is wrong and what an admin must do.
func UnlinkedHome(u UnlinkedInfo) slack.HomeTabViewRequest {
	email := "_none visible to accessbot_"
	if u.Email != "" {
		email = escape(u.Email, maxValue)
	}
	admin := "your accessbot admin"
	if u.Admins != "" {
		admin += " (" + truncate(u.Admins, 1000) + ")"
	}
	fix := "*What to do:* ask " + admin + " to add you as a user with the email above " +
		"(`accessbot apply` or `accessbot import users`). If Slack shows no email, the admin must grant " +
		"accessbot the `users:read.email` scope and reinstall it."
	return slack.HomeTabViewRequest{
		Type: slack.VTHomeTab,
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewHeaderBlock(plain("You are not linked to accessbot yet"), slack.HeaderBlockOptionBlockID(BlockHomeHeader)),
			slack.NewSectionBlock(mrkdwn(escape(u.Reason, 500)),
				[]*slack.TextBlockObject{mrkdwn("*Email Slack reports*\n" + email), mrkdwn("*Status*\n:x: Not linked")},
				nil, slack.SectionBlockOptionBlockID(BlockHomeStatus)),
			slack.NewSectionBlock(mrkdwn(fix), nil, nil, slack.SectionBlockOptionBlockID(BlockHomeFix)),
		}},
	}
}

// truncate cuts s to n runes, marking the cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
