package evidence_test

import (
	"context"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/evidence"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestRevocationOutcomes: a revoked item's outcome follows its
// deprovisioning flow (running, waiting, failed, done) and, without one,
// the owner's revocation; progress counts them and the overdue reviewer.
func TestRevocationOutcomes(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, driver)
			t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
			ten := &accessbot.Tenant{Slug: "acme", Name: "Acme"}
			must(t, st.CreateTenant(ctx, ten))
			var users []*accessbot.User
			for _, n := range []string{"Mia", "Ann", "Ben", "Cid", "Dan", "Eve"} {
				u := &accessbot.User{TenantID: ten.ID, Email: n + "@acme.test", Name: n, Status: accessbot.UserActive, Role: accessbot.RoleMember}
				must(t, st.CreateUser(ctx, u))
				users = append(users, u)
			}
			app := &accessbot.Application{TenantID: ten.ID, Name: "GitLab", Connector: "manual"}
			must(t, st.CreateApplication(ctx, app))
			conn := &accessbot.Connection{TenantID: ten.ID, AppID: app.ID, Name: "Admins", Type: "group"}
			must(t, st.CreateConnection(ctx, conn))
			c := &accessbot.Campaign{TenantID: ten.ID, Name: "Q1", Levels: []accessbot.ReviewerRule{accessbot.ReviewerManager},
				DueAt: t0.Add(24 * time.Hour), Status: accessbot.CampaignActive, LaunchedAt: t0}
			must(t, st.CreateCampaign(ctx, c))
			var items []accessbot.ReviewItem
			for _, u := range users[1:] {
				items = append(items, accessbot.ReviewItem{TenantID: ten.ID, CampaignID: c.ID, AppID: app.ID, IdentityID: "id-" + u.Name, EntitlementID: "e",
					UserID: u.ID, ReviewerID: users[0].ID, Subject: u.Name, AppName: "GitLab", EntitlementName: "admins", Status: accessbot.ReviewPending})
			}
			must(t, st.CreateReviewItems(ctx, items))
			flow := func(user string, status accessbot.FlowStatus) {
				must(t, st.CreateActionFlow(ctx, &accessbot.ActionFlow{TenantID: ten.ID, Key: "deprovision:" + user, AppID: app.ID, ConnectionID: conn.ID,
					UserID: user, Relationship: "group", Direction: "deprovision", Status: status, Reason: "revoked in access review " + c.ID,
					Steps: []accessbot.ActionFlowStep{{Type: "manual", Status: status}}}))
			}
			// Ann: running; Ben: waiting; Cid: failed; Dan: done; Eve: no flow (owner).
			for i, s := range []accessbot.FlowStatus{accessbot.FlowRunning, accessbot.FlowWaiting, accessbot.FlowFailed, accessbot.FlowDone} {
				flow(users[i+1].ID, s)
			}
			got, err := st.ListReviewItems(ctx, ten.ID, accessbot.ReviewItemFilter{CampaignID: c.ID})
			must(t, err)
			for _, it := range got {
				if it.Subject == "Eve" {
					continue // pending
				}
				must(t, st.DecideReviewItem(ctx, ten.ID, it.ID, users[0].ID, accessbot.ReviewRevoked, "", t0.Add(time.Hour)))
			}
			// A second campaign's flow for Eve must not count for this one.
			must(t, st.CreateActionFlow(ctx, &accessbot.ActionFlow{TenantID: ten.ID, Key: "deprovision:other", AppID: app.ID, ConnectionID: conn.ID,
				UserID: users[5].ID, Direction: "deprovision", Status: accessbot.FlowDone, Reason: "revoked in access review other"}))

			p, err := evidence.CampaignProgress(ctx, store.Queries(st), ten.ID, c, t0.Add(48*time.Hour))
			must(t, err)
			want := map[string]int{evidence.OutcomeInProgress: 2, evidence.OutcomeFailed: 1, evidence.OutcomeDeprovisioned: 1}
			if len(p.Revocations) != len(want) {
				t.Fatalf("outcomes %v, want %v", p.Revocations, want)
			}
			for k, n := range want {
				if p.Revocations[k] != n {
					t.Errorf("%s: %d, want %d (all %v)", k, p.Revocations[k], n, p.Revocations)
				}
			}
			if p.Decided != 4 || p.Pending != 1 || !p.Overdue || len(p.OverdueReviewers) != 1 || p.OverdueReviewers[0] != "Mia" {
				t.Fatalf("progress %+v", p)
			}
			if len(p.ByReviewer) != 1 || p.ByReviewer[0].Decided != 4 || p.ByReviewer[0].Pending != 1 || p.ByReviewer[0].Escalated {
				t.Fatalf("by reviewer %+v", p.ByReviewer)
			}
			if _, err := evidence.FindCampaign(ctx, st, ten.ID, "q1"); err != nil {
				t.Fatalf("find by name, any case: %v", err)
			}
		})
	}
}
