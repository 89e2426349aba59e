package views

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot/bot/blockkit"
)

// Progress is a campaign's progress as shown (flows/evidence.Progress).
type Progress struct {
	Name                        string
	DueAt                       time.Time
	CompletedAt                 *time.Time
	Decided, Pending            int
	Kept, Revoked               int
	ByReviewer                  []ReviewerProgress
	OverdueReviewers, Escalated []string
	Revocations                 map[string]int // by outcome
	OpenRevocations             int            // not yet carried out
}

// ReviewerProgress is one reviewer's count at one level (0-based).
type ReviewerProgress struct {
	Level            int
	Reviewer         string
	Decided, Pending int
	Escalated        bool
}

// ReviewStatusArg: "/access review status NAME" shows a campaign's progress.
const (
	// SubReport: "/access report access [EMAIL]|campaign NAME|requests DATE [csv|pdf]".
	SubReport            = "report"
	ReviewStatusArg      = "status"
	BlockReviewProgress  = "review_progress"
	BlockReviewReviewers = "review_progress_reviewers"
	BlockReviewLate      = "review_progress_late"
	BlockReviewRevokes   = "review_progress_revocations"
	BlockHomeCampaigns   = "home_campaigns"
)

// progressSummary is "12 decided, 3 pending (8 kept, 4 revoked)".
func progressSummary(p *Progress) string {
	return fmt.Sprintf("%d decided, %d pending (%d kept, %d revoked)", p.Decided, p.Pending, p.Kept, p.Revoked)
}

// revocationWords is "2 deprovisioned, 1 pending in provisioning".
func revocationWords(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// ReviewProgress answers "/access review status NAME".
func ReviewProgress(p *Progress) (string, []slack.Block) {
	head := fmt.Sprintf("*%s*: %s\nDue %s", escape(p.Name, 150), progressSummary(p), SlackDate(p.DueAt))
	if p.CompletedAt != nil {
		head += " · completed " + SlackDate(*p.CompletedAt)
	}
	var lines []string
	for _, r := range p.ByReviewer {
		l := fmt.Sprintf("• Level %d, %s: %d decided, %d pending", r.Level+1, escape(r.Reviewer, 80), r.Decided, r.Pending)
		if r.Escalated {
			l += " (escalated)"
		}
		lines = append(lines, l)
	}
	late := "Overdue reviewers: " + listWords(p.OverdueReviewers) + "\nEscalated: " + listWords(p.Escalated)
	blocks := []slack.Block{
		slack.NewSectionBlock(mrkdwn(blockkit.Truncate(head, blockkit.MaxSectionText)), nil, nil, slack.SectionBlockOptionBlockID(BlockReviewProgress)),
		slack.NewSectionBlock(mrkdwn(blockkit.Truncate("*By reviewer and level*\n"+strings.Join(lines, "\n"), blockkit.MaxSectionText)), nil, nil, slack.SectionBlockOptionBlockID(BlockReviewReviewers)),
		slack.NewSectionBlock(mrkdwn(blockkit.Truncate(late, blockkit.MaxSectionText)), nil, nil, slack.SectionBlockOptionBlockID(BlockReviewLate)),
		slack.NewSectionBlock(mrkdwn("*Revocations*: "+revocationWords(p.Revocations)), nil, nil, slack.SectionBlockOptionBlockID(BlockReviewRevokes)),
	}
	return escape(p.Name, 150) + ": " + progressSummary(p), blocks
}

func listWords(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = escape(n, 80)
	}
	return strings.Join(out, ", ")
}

// HomeCampaigns is the admins' Home tab section: each active campaign's progress.
func HomeCampaigns(ps []*Progress) []slack.Block {
	if len(ps) == 0 {
		return nil
	}
	var lines []string
	for i, p := range ps {
		if i == 10 {
			lines = append(lines, fmt.Sprintf("…and %d more.", len(ps)-10))
			break
		}
		l := fmt.Sprintf("• *%s*: %s, due %s", escape(p.Name, 150), progressSummary(p), SlackDate(p.DueAt))
		if len(p.OverdueReviewers) > 0 {
			l += fmt.Sprintf("; %d reviewer(s) overdue", len(p.OverdueReviewers))
		}
		if p.OpenRevocations > 0 {
			l += fmt.Sprintf("; %d revocation(s) not yet carried out", p.OpenRevocations)
		}
		lines = append(lines, l)
	}
	text := "*Access reviews in progress*\n" + strings.Join(lines, "\n") + fmt.Sprintf("\n_Details: `%s %s %s NAME`_", Command, SubReview, ReviewStatusArg)
	return []slack.Block{slack.NewSectionBlock(mrkdwn(blockkit.Truncate(text, blockkit.MaxSectionText)), nil, nil, slack.SectionBlockOptionBlockID(BlockHomeCampaigns))}
}
