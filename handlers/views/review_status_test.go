package views_test

import (
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot/bot/blockkit"
	"github.com/accessbot/accessbot/handlers/views"
)

// TestReviewStatusGolden: "/access review status" and the admins' Home
// section with every revocation outcome, late and escalated reviewers.
func TestReviewStatusGolden(t *testing.T) {
	p := &views.Progress{Name: "Q1 <GitLab> review", DueAt: time.Date(2026, 3, 31, 17, 0, 0, 0, time.UTC), Decided: 7, Pending: 3, Kept: 2, Revoked: 5,
		ByReviewer: []views.ReviewerProgress{{Level: 0, Reviewer: "Mia", Decided: 5, Pending: 1, Escalated: true}, {Level: 0, Reviewer: "Ben", Decided: 2},
			{Level: 1, Reviewer: "Olga", Pending: 2}},
		OverdueReviewers: []string{"Mia", "Olga"}, Escalated: []string{"Mia"},
		Revocations:     map[string]int{"deprovisioned": 2, "pending in provisioning": 1, "deprovisioning failed": 1, "pending with the owner": 1},
		OpenRevocations: 3}
	text, blocks := views.ReviewProgress(p)
	checkMsg(t, "review_status", text, blocks)
	home := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: views.HomeCampaigns([]*views.Progress{p})}}
	if err := blockkit.ValidateHome(home); err != nil {
		t.Fatal(err)
	}
	golden(t, "home_campaigns", home)
	if views.HomeCampaigns(nil) != nil {
		t.Fatal("a Home section without campaigns")
	}
}
