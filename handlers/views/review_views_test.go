package views_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/blockkit"
	"github.com/accessbot/accessbot/handlers/views"
)

var reviewDue = time.Date(2026, 3, 31, 15, 0, 0, 0, time.UTC)

func reviewItems(n int) []accessbot.ReviewItem {
	out := make([]accessbot.ReviewItem, n)
	for i := range out {
		out[i] = accessbot.ReviewItem{ID: fmt.Sprintf("0195a1b2-0000-7000-8000-%012d", i), Subject: fmt.Sprintf("Person <%d> & co", i),
			AppName: "GitLab", EntitlementName: "maintainers", Privileged: i%3 == 0, Level: i % 2, Status: accessbot.ReviewPending}
	}
	return out
}

func TestReviewMessagesGolden(t *testing.T) {
	for _, c := range []struct {
		name string
		dm   views.ReviewDM
	}{
		{"review_assigned", views.ReviewDM{CampaignID: "c1", Campaign: "Q1 *review*", Due: reviewDue, Items: 3, Pending: 3, ByApp: map[string]int{"GitLab": 2, "Entra ID": 1}, Reason: "launch"}},
		{"review_next_level", views.ReviewDM{CampaignID: "c1", Campaign: "Q1", Due: reviewDue, Items: 2, Pending: 5, ByApp: map[string]int{"GitLab": 2}, Reason: "next_level"}},
		{"review_nominated", views.ReviewDM{CampaignID: "c1", Campaign: "Q1", Due: reviewDue, Items: 1, Pending: 1, ByApp: map[string]int{"GitLab": 1}, Reason: "nominated", From: "Ned", Note: "You run <that> team"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			text, blocks := views.ReviewAssignedMessage(c.dm)
			checkMsg(t, c.name, text, blocks)
		})
	}
	for _, c := range []struct {
		name    string
		pending int
		open    bool
	}{
		{"review_progress_left", 2, true},
		{"review_progress_done", 0, true},
		{"review_progress_closed_undecided", 3, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			text, blocks := views.ReviewProgressMessage("c1", "Q1 *review*", reviewDue, c.pending, c.open)
			checkMsg(t, c.name, text, blocks)
		})
	}
	many := map[string]int{}
	for i := range 30 {
		many[fmt.Sprintf("app-%02d", i)] = i + 1
	}
	text, blocks := views.ReviewAssignedMessage(views.ReviewDM{CampaignID: "c1", Campaign: strings.Repeat("x", 500), Due: reviewDue, Items: 99, Pending: 99, ByApp: many})
	if err := blockkit.ValidateMessageText(text, blocks); err != nil {
		t.Fatalf("30 applications: %v", err)
	}
	text, blocks = views.ReviewReminderMessage("c1", "Q1", reviewDue, 4, false)
	checkMsg(t, "review_reminder", text, blocks)
	text, blocks = views.ReviewReminderMessage("c1", "Q1", reviewDue, 1, true)
	checkMsg(t, "review_overdue", text, blocks)
	text, blocks = views.ReviewEscalationMessage("Q1", reviewDue, "Mia", 3)
	checkMsg(t, "review_escalation", text, blocks)
	text, blocks = views.RevocationMessage("Q1", []views.RevokedLine{{Subject: "Cat", App: "GitLab", Entitlement: "admins", By: "Mia", Comment: "left the team"}})
	checkMsg(t, "review_revocation", text, blocks)
	text, blocks = views.ReviewsList([]views.ReviewSummary{{CampaignID: "c1", Campaign: "Q1", Due: reviewDue, Pending: 3, Sample: []string{"Bob · GitLab · admins"}},
		{CampaignID: "c2", Campaign: "Old", Due: reviewDue.AddDate(0, -1, 0), Pending: 1, Overdue: true}})
	checkMsg(t, "reviews_list", text, blocks)
	text, blocks = views.ReviewsList(nil)
	checkMsg(t, "reviews_list_empty", text, blocks)
}

func TestReviewModalsGolden(t *testing.T) {
	checkModal(t, "review_modal", views.ReviewModal(views.ReviewPage{CampaignID: "c1", Campaign: "Q1", Due: reviewDue, Items: reviewItems(2), Page: 1, Total: 17, Levels: 2,
		Notice: "2 decisions saved."}))
	checkModal(t, "review_done", views.ReviewDoneModal("Q1", "You decided 3 items. Nothing is left for you."))
	checkModal(t, "review_new", views.ReviewNewModal([]views.Option{{Value: "a1", Text: "GitLab"}, {Value: "a2", Text: "Entra ID"}}, reviewDue))
	checkModal(t, "review_new_no_apps", views.ReviewNewModal(nil, reviewDue))
	checkModal(t, "review_nominate", views.NominateModal(reviewItems(1)[0], []views.Option{{Value: "u1", Text: "Xavi"}}))
}

// TestReviewModalPaginates250 renders every page of 250 items: each page
// holds at most ReviewPageSize items, passes the Block Kit guard, and the
// pages together show every item once.
func TestReviewModalPaginates250(t *testing.T) {
	items := reviewItems(250)
	pages := views.Pages(len(items))
	if pages != 17 {
		t.Fatalf("250 items in %d pages, want 17", pages)
	}
	seen := map[string]int{}
	for p := range pages {
		end := min((p+1)*views.ReviewPageSize, len(items))
		v := views.ReviewModal(views.ReviewPage{CampaignID: "c1", Campaign: strings.Repeat("Long name ", 30), Due: reviewDue,
			Items: items[p*views.ReviewPageSize : end], Page: p, Total: len(items), Levels: 2, Notice: strings.Repeat("n", 900)})
		if err := blockkit.ValidateView(v); err != nil {
			t.Fatalf("page %d: %v", p+1, err)
		}
		if n := len(v.Blocks.BlockSet); n > blockkit.MaxViewBlocks {
			t.Fatalf("page %d has %d blocks", p+1, n)
		}
		for _, b := range v.Blocks.BlockSet {
			id := b.ID()
			if strings.HasPrefix(id, views.BlockReviewDecision+".") {
				seen[strings.TrimPrefix(id, views.BlockReviewDecision+".")]++
			}
		}
		meta, page, ok := views.ParseReviewMeta(v.PrivateMetadata)
		if !ok || meta != "c1" || page != p {
			t.Fatalf("page %d metadata %q", p+1, v.PrivateMetadata)
		}
	}
	if len(seen) != 250 {
		t.Fatalf("pages show %d distinct items, want 250", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("item %s shown %d times", id, n)
		}
	}
}

func TestHomeReviewsLine(t *testing.T) {
	for _, n := range []int{0, 1, 42} {
		v := views.Home(views.HomeInfo{Tenant: tenant, User: accessbot.User{Email: "a@b.c"}})
		v.Blocks.BlockSet = append(v.Blocks.BlockSet, views.HomeReviews(n))
		if err := blockkit.ValidateHome(v); err != nil {
			t.Fatal(err)
		}
	}
}
