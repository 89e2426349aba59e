package views

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// ReviewDM is what a reviewer is told when items reach them.
type ReviewDM struct {
	CampaignID string
	Campaign   string
	Due        time.Time
	Items      int            // new items
	Pending    int            // all pending items of the reviewer in the campaign
	ByApp      map[string]int // application → new items
	// Reason is "launch", "next_level" or "nominated".
	Reason string
	From   string // the nominator's name
	Note   string // the nomination reason
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func reviewButton(campaignID, text string) *slack.ButtonBlockElement {
	return slack.NewButtonBlockElement(ActionReviewOpen, campaignID, plain(text)).WithStyle(slack.StylePrimary)
}

// ReviewAssignedMessage is the one DM a reviewer gets per launch, level
// hand-over or nomination: counts, the due date and "Review now".
func ReviewAssignedMessage(d ReviewDM) (string, []slack.Block) {
	name := escape(d.Campaign, 100)
	var lead string
	switch d.Reason {
	case "next_level":
		lead = fmt.Sprintf("The previous reviewers kept %s in the access review *%s*; you decide next.", plural(d.Items, "item", "items"), name)
	case "nominated":
		lead = fmt.Sprintf("%s reassigned %s to you in the access review *%s*.", escape(d.From, 100), plural(d.Items, "item", "items"), name)
		if d.Note != "" {
			lead += "\n>" + escape(d.Note, maxValue)
		}
	default:
		lead = fmt.Sprintf("You have %s to review in the access review *%s*.", plural(d.Items, "item", "items"), name)
	}
	lead += fmt.Sprintf("\n*Due:* %s · *Pending for you:* %d", SlackDate(d.Due), d.Pending)
	text := fmt.Sprintf("Access review %q: %s for you, due %s.", escape(d.Campaign, 100), plural(d.Pending, "item", "items"), d.Due.UTC().Format("2006-01-02"))
	var fields []*slack.TextBlockObject
	apps := slices.Sorted(maps.Keys(d.ByApp))
	for i, a := range apps {
		if i == 9 && len(apps) > 10 {
			fields = append(fields, mrkdwn(fmt.Sprintf("_and %d more applications_", len(apps)-9)))
			break
		}
		fields = append(fields, mrkdwn(fmt.Sprintf("*%s*\n%s", escape(a, 100), plural(d.ByApp[a], "item", "items"))))
	}
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn(lead), nil, nil, slack.SectionBlockOptionBlockID(BlockReviewDM))}
	if len(fields) > 0 {
		blocks = append(blocks, slack.NewSectionBlock(nil, fields, nil, slack.SectionBlockOptionBlockID(BlockReviewDMApps)))
	}
	blocks = append(blocks, slack.NewActionBlock(BlockReviewDMActions, reviewButton(d.CampaignID, "Review now")))
	return text, blocks
}

// ReviewProgressMessage replaces a reviewer's earlier review DMs
// (assignment, reminders) once their items change, so none keeps an old
// count: what is left and "Review now", that they are done, or that the
// review closed with items of theirs undecided. open is false once the
// campaign is no longer active.
func ReviewProgressMessage(campaignID, campaign string, due time.Time, pending int, open bool) (string, []slack.Block) {
	name := escape(campaign, 100)
	var lead, text string
	switch {
	case pending > 0 && !open:
		lead = fmt.Sprintf(":lock: The access review *%s* is closed; %s of yours were left undecided.", name, plural(pending, "item", "items"))
		text = fmt.Sprintf("Access review %q is closed.", escape(campaign, 100))
	case pending == 0:
		lead = fmt.Sprintf(":white_check_mark: You have decided all your items in the access review *%s*. Thank you!", name)
		text = fmt.Sprintf("Access review %q: you are done.", escape(campaign, 100))
	default:
		lead = fmt.Sprintf("You have %s left to review in the access review *%s*.\n*Due:* %s · *Pending for you:* %d",
			plural(pending, "item", "items"), name, SlackDate(due), pending)
		text = fmt.Sprintf("Access review %q: %s left for you, due %s.", escape(campaign, 100), plural(pending, "item", "items"), due.UTC().Format("2006-01-02"))
	}
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn(lead), nil, nil, slack.SectionBlockOptionBlockID(BlockReviewDM))}
	if open && pending > 0 {
		blocks = append(blocks, slack.NewActionBlock(BlockReviewDMActions, reviewButton(campaignID, "Review now")))
	}
	return text, blocks
}

// ReviewReminderMessage nudges a reviewer with pending items.
func ReviewReminderMessage(campaignID, campaign string, due time.Time, pending int, overdue bool) (string, []slack.Block) {
	when := "is due " + SlackDate(due)
	if overdue {
		when = "was due " + SlackDate(due) + " and is *overdue*"
	}
	lead := fmt.Sprintf(":alarm_clock: Reminder: the access review *%s* %s. You still have %s to decide.",
		escape(campaign, 100), when, plural(pending, "item", "items"))
	text := fmt.Sprintf("Reminder: access review %q, %s pending for you.", escape(campaign, 100), plural(pending, "item", "items"))
	return text, []slack.Block{
		slack.NewSectionBlock(mrkdwn(lead), nil, nil, slack.SectionBlockOptionBlockID(BlockReviewDM)),
		slack.NewActionBlock(BlockReviewDMActions, reviewButton(campaignID, "Review now")),
	}
}

// ReviewEscalationMessage tells a manager (or admin) that a reviewer is late.
func ReviewEscalationMessage(campaign string, due time.Time, reviewer string, pending int) (string, []slack.Block) {
	lead := fmt.Sprintf(":rotating_light: *%s* has not finished the access review *%s*, due %s: %s still pending. Please follow up with them.",
		escape(reviewer, 100), escape(campaign, 100), SlackDate(due), plural(pending, "item", "items"))
	text := fmt.Sprintf("Access review %q is late: %s has %s pending.", escape(campaign, 100), escape(reviewer, 100), plural(pending, "item", "items"))
	return text, []slack.Block{slack.NewSectionBlock(mrkdwn(lead), nil, nil, slack.SectionBlockOptionBlockID(BlockReviewDM))}
}

// RevokedLine is one revoked item for an application owner.
type RevokedLine struct {
	Subject, App, Entitlement, By, Comment string
}

// RevocationMessage asks an application owner to remove revoked access.
func RevocationMessage(campaign string, lines []RevokedLine) (string, []slack.Block) {
	var b strings.Builder
	for i, l := range lines {
		if i == 20 {
			fmt.Fprintf(&b, "_and %d more_\n", len(lines)-20)
			break
		}
		fmt.Fprintf(&b, "• *%s* · %s · %s (revoked by %s)", escape(l.Subject, 100), escape(l.App, 100), escape(l.Entitlement, 100), escape(l.By, 100))
		if l.Comment != "" {
			b.WriteString(": " + escape(l.Comment, 100))
		}
		b.WriteString("\n")
	}
	lead := fmt.Sprintf(":no_entry: Reviewers revoked %s in the access review *%s*. Please remove this access; it is recorded as a pending revocation for you.",
		plural(len(lines), "entitlement", "entitlements"), escape(campaign, 100))
	text := fmt.Sprintf("Access review %q: %s to remove.", escape(campaign, 100), plural(len(lines), "entitlement", "entitlements"))
	return text, []slack.Block{
		slack.NewSectionBlock(mrkdwn(lead), nil, nil, slack.SectionBlockOptionBlockID(BlockReviewDM)),
		slack.NewSectionBlock(mrkdwn(truncate(strings.TrimSuffix(b.String(), "\n"), 2900)), nil, nil, slack.SectionBlockOptionBlockID(BlockReviewList)),
	}
}

// ReviewSummary is one campaign line of "/access reviews".
type ReviewSummary struct {
	CampaignID string
	Campaign   string
	Due        time.Time
	Pending    int
	Overdue    bool
	Sample     []string // a few items, already formatted as plain words
}

// ReviewsList answers "/access reviews": my pending items per campaign.
func ReviewsList(lines []ReviewSummary) (string, []slack.Block) {
	total := 0
	for _, l := range lines {
		total += l.Pending
	}
	if total == 0 {
		return "You have no access reviews pending.", []slack.Block{
			slack.NewSectionBlock(mrkdwn(":white_check_mark: You have no access reviews pending."), nil, nil, slack.SectionBlockOptionBlockID(BlockReviewHeader)),
		}
	}
	text := fmt.Sprintf("You have %s to review.", plural(total, "item", "items"))
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn("*"+text+"*"), nil, nil, slack.SectionBlockOptionBlockID(BlockReviewHeader))}
	for i, l := range lines {
		if i == 15 {
			blocks = append(blocks, slack.NewContextBlock(BlockReviewList+".more", mrkdwn(fmt.Sprintf("_and %d more campaigns_", len(lines)-15))))
			break
		}
		due := "due " + SlackDate(l.Due)
		if l.Overdue {
			due = "*overdue* since " + SlackDate(l.Due)
		}
		body := fmt.Sprintf("*%s* · %s · %s", escape(l.Campaign, 100), plural(l.Pending, "item", "items"), due)
		for _, s := range l.Sample {
			body += "\n• " + escape(s, 200)
		}
		if l.Pending > len(l.Sample) && len(l.Sample) > 0 {
			body += fmt.Sprintf("\n_and %d more_", l.Pending-len(l.Sample))
		}
		blocks = append(blocks, slack.NewSectionBlock(mrkdwn(truncate(body, 2900)), nil,
			slack.NewAccessory(reviewButton(l.CampaignID, "Review now")), slack.SectionBlockOptionBlockID(fmt.Sprintf("%s.%d", BlockReviewList, i))))
	}
	return text, blocks
}

// HomeReviews is the App Home line with the pending review count.
func HomeReviews(pending int) slack.Block {
	msg := ":white_check_mark: No access reviews waiting for you."
	if pending > 0 {
		msg = fmt.Sprintf(":clipboard: *%s to review.* Type `%s %s` to see them.", plural(pending, "access review item", "access review items"), Command, SubReviews)
	}
	return slack.NewSectionBlock(mrkdwn(msg), nil, nil, slack.SectionBlockOptionBlockID(BlockHomeReviews))
}
