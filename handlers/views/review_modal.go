package views

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
)

// ReviewPageSize is how many items one page of the review modal shows:
// three blocks each (item, decision, comment), five with a "Run playbook"
// menu and its outcome line, stays inside 100 blocks.
const ReviewPageSize = 15

// ReviewPage is one page of the "Review now" modal.
type ReviewPage struct {
	CampaignID string
	Campaign   string
	Due        time.Time
	Items      []accessbot.ReviewItem // this page's items, at most ReviewPageSize
	Page       int                    // 0-based
	Total      int                    // all pending items of the reviewer in the campaign
	Levels     int
	Notice     string // the outcome of the last submission, plain words
	// Playbooks offered on each item ("Run playbook" menu), by item id.
	Playbooks map[string][]PlaybookChoice
}

// Pages is how many pages total items fill.
func Pages(total int) int {
	if total <= 0 {
		return 1
	}
	return (total + ReviewPageSize - 1) / ReviewPageSize
}

// ReviewMeta is the review modal's private_metadata: campaign and page.
func ReviewMeta(campaignID string, page int) string { return campaignID + "|" + strconv.Itoa(page) }

// ParseReviewMeta reads ReviewMeta; ok is false for anything else.
func ParseReviewMeta(s string) (campaignID string, page int, ok bool) {
	id, p, found := strings.Cut(s, "|")
	n, err := strconv.Atoi(p)
	if !found || id == "" || err != nil || n < 0 {
		return "", 0, false
	}
	return id, n, true
}

var (
	keepOption   = slack.NewOptionBlockObject(string(accessbot.DecisionKeep), plain("Keep"), nil)
	revokeOption = slack.NewOptionBlockObject(string(accessbot.DecisionRevoke), plain("Revoke"), nil)
)

// ItemLine describes an item in plain words.
func ItemLine(it accessbot.ReviewItem) string {
	return fmt.Sprintf("%s · %s · %s", it.Subject, it.AppName, it.EntitlementName)
}

// ReviewModal is one page of a reviewer's pending items: each has Keep /
// Revoke and an optional comment; Submit records the choices made on this
// page. Prev/Next move pages (views.update); "Keep all remaining" asks for
// confirmation first.
func ReviewModal(p ReviewPage) slack.ModalViewRequest {
	pages := Pages(p.Total)
	head := fmt.Sprintf("*%s* · due %s\n%s pending · page %d of %d", escape(p.Campaign, 100), SlackDate(p.Due),
		plural(p.Total, "item", "items"), p.Page+1, pages)
	if p.Notice != "" {
		head += "\n:information_source: " + escape(p.Notice, 500)
	}
	blocks := []slack.Block{slack.NewSectionBlock(mrkdwn(head), nil, nil, slack.SectionBlockOptionBlockID(BlockReviewHeader))}
	for _, it := range p.Items {
		label := fmt.Sprintf("*%s*\n%s · %s", escape(it.Subject, 100), escape(it.AppName, 100), escape(it.EntitlementName, 100))
		if it.Privileged {
			label += " · :warning: privileged"
		}
		if p.Levels > 1 {
			label += " · " + fmt.Sprintf("level %s", LevelWords(it.Level, p.Levels))
		}
		nominate := slack.NewButtonBlockElement(ActionReviewNominate, it.ID, plain("Reassign…"))
		blocks = append(blocks,
			slack.NewSectionBlock(mrkdwn(label), nil, slack.NewAccessory(nominate), slack.SectionBlockOptionBlockID(BlockReviewItem+"."+it.ID)),
			input(BlockReviewDecision+"."+it.ID, "Decision",
				slack.NewRadioButtonsBlockElement(ActionReviewDecision, keepOption, revokeOption), true, ""),
			input(BlockReviewComment+"."+it.ID, "Comment",
				slack.NewPlainTextInputBlockElement(plain("Optional: why"), ActionReviewComment).WithMaxLength(500), true, ""),
		)
		if m := PlaybookMenuBlock(accessbot.PlaybookReview, it.ID, p.Playbooks[it.ID]); m != nil {
			blocks = append(blocks, m)
		}
	}
	var nav []slack.BlockElement
	if p.Page > 0 {
		nav = append(nav, slack.NewButtonBlockElement(ActionReviewPrev, strconv.Itoa(p.Page-1), plain("◀ Previous")))
	}
	if p.Page+1 < pages {
		nav = append(nav, slack.NewButtonBlockElement(ActionReviewNext, strconv.Itoa(p.Page+1), plain("Next ▶")))
	}
	keepAll := slack.NewButtonBlockElement(ActionReviewKeepAll, p.CampaignID, plain("Keep all remaining"))
	keepAll.Confirm = slack.NewConfirmationBlockObject(plain("Keep everything?"),
		plain(truncate(fmt.Sprintf("This keeps all %s still pending for you in %s, on every page. Choices on this page that you have not submitted are ignored.",
			plural(p.Total, "item", "items"), p.Campaign), 300)),
		plain("Keep all"), plain("Cancel"))
	nav = append(nav, keepAll)
	blocks = append(blocks, slack.NewActionBlock(BlockReviewNav, nav...),
		slack.NewContextBlock(BlockReviewNav+".hint", mrkdwn("Submit saves the choices on this page; items left blank stay pending. Moving pages drops unsaved choices.")))
	return slack.ModalViewRequest{
		Type: slack.VTModal, CallbackID: CallbackReviewItems, PrivateMetadata: ReviewMeta(p.CampaignID, p.Page),
		Title: plain("Access review"), Submit: plain("Submit page"), Close: plain("Close"),
		Blocks: slack.Blocks{BlockSet: blocks},
	}
}

// ReviewDoneModal closes a review: a summary, no inputs.
func ReviewDoneModal(campaign, summary string) slack.ModalViewRequest {
	return slack.ModalViewRequest{
		Type: slack.VTModal, CallbackID: CallbackReviewDone, Title: plain("Access review"), Close: plain("Done"),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewSectionBlock(mrkdwn(fmt.Sprintf(":white_check_mark: *%s*\n%s", escape(campaign, 100), escape(summary, 1000))), nil, nil,
				slack.SectionBlockOptionBlockID(BlockReviewHeader)),
		}},
	}
}

// Reviewer rule option values of the new-campaign form.
const ReviewLevelNone = "none"

func ruleOptions(withNone bool) []*slack.OptionBlockObject {
	out := []*slack.OptionBlockObject{
		slack.NewOptionBlockObject(string(accessbot.ReviewerManager), plain("Employee's manager"), nil),
		slack.NewOptionBlockObject(string(accessbot.ReviewerAppOwner), plain("Application owner"), nil),
	}
	if withNone {
		out = append([]*slack.OptionBlockObject{slack.NewOptionBlockObject(ReviewLevelNone, plain("No second level"), nil)}, out...)
	}
	return out
}

// ReviewNewModal is "/access review new" for admins: applications,
// privileged only, reviewer of level 1 and optionally level 2, due date,
// and whether it repeats (monthly, quarterly or on a cron schedule).
func ReviewNewModal(apps []Option, today time.Time) slack.ModalViewRequest {
	appSel := slack.NewOptionsMultiSelectBlockElement(slack.MultiOptTypeStatic, plain("Choose applications"), ActionReviewNewApps, options(apps)...)
	priv := slack.NewCheckboxGroupsBlockElement(ActionReviewNewPriv,
		slack.NewOptionBlockObject("privileged", plain("Only privileged entitlements"), nil))
	l1 := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Who reviews first"), ActionReviewNewLevel1, ruleOptions(false)...)
	l1.InitialOption = ruleOptions(false)[0]
	l2 := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Then"), ActionReviewNewLevel2, ruleOptions(true)...)
	l2.InitialOption = ruleOptions(true)[0]
	due := slack.NewDatePickerBlockElement(ActionReviewNewDue)
	due.InitialDate = today.AddDate(0, 0, 14).Format(time.DateOnly)
	blocks := []slack.Block{
		input(BlockReviewNewName, "Campaign name", slack.NewPlainTextInputBlockElement(plain("e.g. Q3 GitLab review"), ActionReviewNewName).WithMaxLength(100), false, ""),
		input(BlockReviewNewApps, "Applications", appSel, false, ""),
		input(BlockReviewNewPrivileged, "Scope", priv, true, ""),
		input(BlockReviewNewLevel1, "First reviewer", l1, false, ""),
		input(BlockReviewNewLevel2, "Second level", l2, false, "The second level reviews only what the first level kept."),
		input(BlockReviewNewDue, "Due date", due, false, ""),
	}
	blocks = append(blocks, repeatBlocks()...)
	if len(apps) == 0 {
		blocks = []slack.Block{slack.NewSectionBlock(mrkdwn("There are no applications to review yet. Add them with `accessbot apply`."), nil, nil,
			slack.SectionBlockOptionBlockID(BlockReviewHeader))}
		return slack.ModalViewRequest{Type: slack.VTModal, CallbackID: CallbackReviewNew, Title: plain("New access review"), Close: plain("Close"),
			Blocks: slack.Blocks{BlockSet: blocks}}
	}
	return slack.ModalViewRequest{
		Type: slack.VTModal, CallbackID: CallbackReviewNew, Title: plain("New access review"),
		Submit: plain("Launch"), Close: plain("Cancel"), Blocks: slack.Blocks{BlockSet: blocks},
	}
}

// NominateModal reassigns one item to another reviewer, with a reason.
// meta is the item id.
func NominateModal(it accessbot.ReviewItem, people []Option) slack.ModalViewRequest {
	sel := slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Choose a person"), ActionReviewNominee, options(people)...)
	return slack.ModalViewRequest{
		Type: slack.VTModal, CallbackID: CallbackReviewNominate, PrivateMetadata: it.ID,
		Title: plain("Reassign this item"), Submit: plain("Reassign"), Close: plain("Back"),
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewSectionBlock(mrkdwn("*"+escape(ItemLine(it), 300)+"*"), nil, nil, slack.SectionBlockOptionBlockID(BlockReviewHeader)),
			input(BlockReviewNominee, "Who should review it instead", sel, false, ""),
			input(BlockReviewNominateWhy, "Reason", slack.NewPlainTextInputBlockElement(plain("Why they are better placed"), ActionReviewNominateWhy).WithMaxLength(500), false, ""),
		}},
	}
}
