package conformance

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

func newCampaign(t *testing.T, q store.Queries, tenantID, def string, slot *time.Time) *accessbot.Campaign {
	t.Helper()
	c := &accessbot.Campaign{TenantID: tenantID, Name: "Q" + randHex(2), Scope: accessbot.ReviewScope{AppIDs: []string{"a1"}, PrivilegedOnly: true},
		Levels: []accessbot.ReviewerRule{accessbot.ReviewerManager, accessbot.ReviewerAppOwner}, DueAt: fixedTime().Add(14 * 24 * time.Hour),
		CreatedBy: "system", Definition: def, Slot: slot}
	ok(t, q.CreateCampaign(ctx(), c), "create campaign")
	return c
}

func reviewItem(tenantID, campaignID, reviewer, subject string, level int) accessbot.ReviewItem {
	return accessbot.ReviewItem{TenantID: tenantID, CampaignID: campaignID, Level: level, AppID: "a1", IdentityID: "i-" + subject,
		EntitlementID: "e1", ReviewerID: reviewer, Subject: subject, AppName: "GitLab", EntitlementName: "admins", Privileged: true}
}

func testReviews(t *testing.T, s store.Store) {
	ten := newTenant(t, s)
	tid := ten.ID

	t.Run("definitions", func(t *testing.T) {
		due := fixedTime()
		defs := []accessbot.CampaignDefinition{
			{Name: "quarterly", Scope: accessbot.ReviewScope{AppIDs: []string{"a1", "a2"}}, Levels: []accessbot.ReviewerRule{accessbot.ReviewerManager},
				Cron: "0 9 1 */3 *", TimeZone: "Europe/Berlin", DueAfter: 14 * 24 * time.Hour},
			{Name: "once", Scope: accessbot.ReviewScope{AppIDs: []string{"a1"}, PrivilegedOnly: true}, Levels: []accessbot.ReviewerRule{accessbot.ReviewerAppOwner}, DueAt: &due,
				Source: accessbot.CampaignSourceSlack},
		}
		ok(t, s.ReplaceCampaignDefinitions(ctx(), tid, defs), "replace definitions")
		got, err := s.ListCampaignDefinitions(ctx(), tid)
		ok(t, err, "list definitions")
		if len(got) != 2 || got[0].Name != "once" || !got[0].DueAt.Equal(due.UTC().Truncate(time.Microsecond)) || !got[0].Scope.PrivilegedOnly ||
			got[1].Cron != "0 9 1 */3 *" || got[1].DueAfter != 14*24*time.Hour || len(got[1].Scope.AppIDs) != 2 {
			t.Fatalf("definitions read back: %+v", got)
		}
		// The source round-trips; an unset one is stored as the file's.
		if got[0].Source != accessbot.CampaignSourceSlack || got[1].Source != accessbot.CampaignSourceFile {
			t.Fatalf("definition sources read back: %q, %q", got[0].Source, got[1].Source)
		}
		ok(t, s.ReplaceCampaignDefinitions(ctx(), tid, defs[:1]), "replace with one")
		got, err = s.ListCampaignDefinitions(ctx(), tid)
		ok(t, err, "list definitions")
		if len(got) != 1 || got[0].Name != "quarterly" {
			t.Fatalf("after replace: %+v", got)
		}
		other := newTenant(t, s)
		if got, _ := s.ListCampaignDefinitions(ctx(), other.ID); len(got) != 0 {
			t.Fatalf("another tenant sees %d definitions", len(got))
		}
	})

	t.Run("campaigns", func(t *testing.T) {
		slot := time.Date(2031, 1, 1, 8, 0, 0, 0, time.UTC)
		c := newCampaign(t, s, tid, "quarterly", &slot)
		got, err := s.GetCampaign(ctx(), tid, c.ID)
		ok(t, err, "get campaign")
		if got.Status != accessbot.CampaignActive || !got.Slot.Equal(slot) || len(got.Levels) != 2 || !got.Scope.PrivilegedOnly || !got.DueAt.Equal(c.DueAt) {
			t.Fatalf("campaign read back: %+v", got)
		}
		dup := &accessbot.Campaign{TenantID: tid, Name: "again", Levels: c.Levels, DueAt: c.DueAt, CreatedBy: "system", Definition: "quarterly", Slot: &slot}
		isErr(t, s.CreateCampaign(ctx(), dup), accessbot.ErrConflict, "second launch of one slot")
		// Ad-hoc campaigns (no definition) never collide.
		newCampaign(t, s, tid, "", nil)
		newCampaign(t, s, tid, "", nil)
		later := slot.Add(90 * 24 * time.Hour)
		c2 := newCampaign(t, s, tid, "quarterly", &later)
		last, err := s.LastCampaignOf(ctx(), tid, "quarterly")
		ok(t, err, "last campaign")
		if last.ID != c2.ID {
			t.Fatalf("last campaign %s, want %s", last.ID, c2.ID)
		}
		_, err = s.LastCampaignOf(ctx(), tid, "nothing")
		isErr(t, err, accessbot.ErrNotFound, "last campaign of unknown definition")
		ok(t, s.CompleteCampaign(ctx(), tid, c.ID, fixedTime()), "complete")
		isErr(t, s.CompleteCampaign(ctx(), tid, c.ID, fixedTime()), accessbot.ErrStale, "complete twice")
		isErr(t, s.CompleteCampaign(ctx(), newTenant(t, s).ID, c2.ID, fixedTime()), accessbot.ErrNotFound, "complete another tenant's")
		active, err := s.ListCampaigns(ctx(), tid, accessbot.CampaignActive)
		ok(t, err, "list active")
		if len(active) != 3 {
			t.Fatalf("%d active campaigns, want 3", len(active))
		}
	})

	t.Run("items", func(t *testing.T) {
		c := newCampaign(t, s, tid, "", nil)
		items := []accessbot.ReviewItem{reviewItem(tid, c.ID, "mgr", "bob", 0), reviewItem(tid, c.ID, "mgr", "ann", 0), reviewItem(tid, c.ID, "other", "cy", 0)}
		ok(t, s.CreateReviewItems(ctx(), items), "create items")
		isErr(t, s.CreateReviewItems(ctx(), items[:1]), accessbot.ErrConflict, "same item twice")
		mine, err := s.ListReviewItems(ctx(), tid, accessbot.ReviewItemFilter{ReviewerID: "mgr", Status: accessbot.ReviewPending})
		ok(t, err, "list mine")
		if len(mine) != 2 || mine[0].Subject != "ann" || !mine[0].Privileged || mine[0].EntitlementName != "admins" {
			t.Fatalf("my items: %+v", mine)
		}
		n, err := s.CountPendingReviews(ctx(), tid, "mgr")
		ok(t, err, "count")
		if n != 2 {
			t.Fatalf("pending count %d, want 2", n)
		}
		at := fixedTime()
		id := items[0].ID
		isErr(t, s.DecideReviewItem(ctx(), tid, id, "other", accessbot.ReviewKept, "", at), accessbot.ErrStale, "foreign reviewer decides")
		isErr(t, s.DecideReviewItem(ctx(), tid, "nope", "mgr", accessbot.ReviewKept, "", at), accessbot.ErrNotFound, "unknown item")
		isErr(t, s.DecideReviewItem(ctx(), tid, id, "mgr", "maybe", "", at), accessbot.ErrInvalid, "bad status")
		// Ten racing decisions: exactly one wins.
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, stale := 0, 0
		for range 10 {
			wg.Go(func() {
				err := s.DecideReviewItem(ctx(), tid, id, "mgr", accessbot.ReviewRevoked, "gone", at)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errors.Is(err, accessbot.ErrStale):
					stale++
				default:
					t.Errorf("racing decide: %v", err)
				}
			})
		}
		wg.Wait()
		if wins != 1 || stale != 9 {
			t.Fatalf("racing decisions: %d won, %d stale; want 1 and 9", wins, stale)
		}
		got, err := s.GetReviewItem(ctx(), tid, id)
		ok(t, err, "get item")
		if got.Status != accessbot.ReviewRevoked || got.DecidedBy != "mgr" || got.Comment != "gone" || got.DecidedAt == nil || !got.DecidedAt.Equal(at.UTC().Truncate(time.Microsecond)) {
			t.Fatalf("decided item: %+v", got)
		}
		// Reassign: only from the current reviewer, only while pending.
		isErr(t, s.ReassignReviewItem(ctx(), tid, id, "mgr", "x", at), accessbot.ErrStale, "reassign decided item")
		isErr(t, s.ReassignReviewItem(ctx(), tid, items[1].ID, "other", "x", at), accessbot.ErrStale, "reassign from non-reviewer")
		ok(t, s.ReassignReviewItem(ctx(), tid, items[1].ID, "mgr", "x", at), "reassign")
		if n, _ := s.CountPendingReviews(ctx(), tid, "x"); n != 1 {
			t.Fatalf("x has %d pending, want 1", n)
		}
		// Another tenant sees and decides nothing.
		other := newTenant(t, s)
		isErr(t, s.DecideReviewItem(ctx(), other.ID, items[2].ID, "other", accessbot.ReviewKept, "", at), accessbot.ErrNotFound, "cross-tenant decide")
		if got, _ := s.ListReviewItems(ctx(), other.ID, accessbot.ReviewItemFilter{}); len(got) != 0 {
			t.Fatalf("another tenant lists %d items", len(got))
		}
		// Items of a completed campaign are not counted as pending.
		ok(t, s.CompleteCampaign(ctx(), tid, c.ID, at), "complete")
		if n, _ := s.CountPendingReviews(ctx(), tid, "other"); n != 0 {
			t.Fatalf("completed campaign still counts %d pending", n)
		}
	})

	t.Run("revocations and notices", func(t *testing.T) {
		c := newCampaign(t, s, tid, "", nil)
		items := []accessbot.ReviewItem{reviewItem(tid, c.ID, "mgr", "dan", 0)}
		ok(t, s.CreateReviewItems(ctx(), items), "create item")
		r := &accessbot.Revocation{TenantID: tid, ItemID: items[0].ID, CampaignID: c.ID, AppID: "a1", IdentityID: "i", EntitlementID: "e", OwnerID: "own"}
		ok(t, s.CreateRevocation(ctx(), r), "create revocation")
		again := *r
		again.ID = ""
		isErr(t, s.CreateRevocation(ctx(), &again), accessbot.ErrConflict, "second revocation of one item")
		got, err := s.ListRevocations(ctx(), tid, "own")
		ok(t, err, "list revocations")
		if len(got) != 1 || got[0].Status != accessbot.RevocationPending || got[0].ItemID != items[0].ID {
			t.Fatalf("revocations: %+v", got)
		}
		marked, err := s.ReviewNoticeMarked(ctx(), tid, c.ID, "mgr", "remind:2031-01-01")
		ok(t, err, "notice marked before")
		if marked {
			t.Fatal("notice marked before MarkReviewNotice")
		}
		first, err := s.MarkReviewNotice(ctx(), tid, c.ID, "mgr", "remind:2031-01-01", fixedTime())
		ok(t, err, "mark notice")
		marked, err = s.ReviewNoticeMarked(ctx(), tid, c.ID, "mgr", "remind:2031-01-01")
		ok(t, err, "notice marked after")
		other, err := s.ReviewNoticeMarked(ctx(), tid, c.ID, "mgr", "remind:2031-01-02")
		ok(t, err, "other notice")
		if !marked || other {
			t.Fatalf("notice marked: %v (want true), another day's: %v (want false)", marked, other)
		}
		again2, err := s.MarkReviewNotice(ctx(), tid, c.ID, "mgr", "remind:2031-01-01", fixedTime())
		ok(t, err, "mark notice again")
		if !first || again2 {
			t.Fatalf("notice marks: first %v, again %v; want true, false", first, again2)
		}
	})

	t.Run("progress", func(t *testing.T) {
		c := newCampaign(t, s, tid, "", nil)
		now, lease := fixedTime(), time.Minute
		_, _, err := s.ClaimReviewProgress(ctx(), tid, c.ID, "mgr", now, lease)
		isErr(t, err, accessbot.ErrNotFound, "claim before any bump")
		ok(t, s.BumpReviewProgress(ctx(), tid, c.ID, "mgr"), "bump")
		ok(t, s.BumpReviewProgress(ctx(), tid, c.ID, "mgr"), "bump again")
		p, won, err := s.ClaimReviewProgress(ctx(), tid, c.ID, "mgr", now, lease)
		ok(t, err, "claim")
		if !won || p.Gen != 2 || p.SentGen != 0 || p.Claim != 1 {
			t.Fatalf("first claim: won %v, %+v; want won at gen 2, claim 1", won, p)
		}
		if _, held, _ := s.ClaimReviewProgress(ctx(), tid, c.ID, "mgr", now.Add(lease/2), lease); held {
			t.Fatal("a second claim won while the first one's lease runs")
		}
		// A change meanwhile: the update in flight shows gen 2, gen 3 is owed.
		ok(t, s.BumpReviewProgress(ctx(), tid, c.ID, "mgr"), "bump during the update")
		ok(t, s.FinishReviewProgress(ctx(), tid, c.ID, "mgr", p.Claim, p.Gen, true, now), "finish")
		p2, won, err := s.ClaimReviewProgress(ctx(), tid, c.ID, "mgr", now, lease)
		ok(t, err, "claim the newer generation")
		if !won || p2.Gen != 3 || p2.SentGen != 2 {
			t.Fatalf("claim after a bump: won %v, %+v; want won at gen 3 with 2 shown", won, p2)
		}
		// A failed update shows nothing and frees the claim at once.
		ok(t, s.FinishReviewProgress(ctx(), tid, c.ID, "mgr", p2.Claim, p2.Gen, false, now), "finish unsent")
		p3, won, err := s.ClaimReviewProgress(ctx(), tid, c.ID, "mgr", now, lease)
		ok(t, err, "claim after a failure")
		if !won || p3.SentGen != 2 {
			t.Fatalf("claim after a failed update: won %v, %+v; want won with 2 still shown", won, p3)
		}
		// The lease runs out: another claim takes over; the late finish of
		// the old claim lowers nothing and leaves the new lease alone.
		p4, won, err := s.ClaimReviewProgress(ctx(), tid, c.ID, "mgr", now.Add(2*lease), lease)
		ok(t, err, "take over")
		if !won || p4.Claim != p3.Claim+1 {
			t.Fatalf("take-over after the lease: won %v, %+v", won, p4)
		}
		ok(t, s.FinishReviewProgress(ctx(), tid, c.ID, "mgr", p3.Claim, 1, true, now), "late finish")
		if p5, held, _ := s.ClaimReviewProgress(ctx(), tid, c.ID, "mgr", now.Add(2*lease), lease); held || p5.SentGen != 2 {
			t.Fatalf("after a late finish: claimed %v, %+v; want the take-over's lease kept and 2 shown", held, p5)
		}
		ok(t, s.FinishReviewProgress(ctx(), tid, c.ID, "mgr", p4.Claim, p4.Gen, true, now.Add(2*lease)), "finish the take-over")
		p6, won, err := s.ClaimReviewProgress(ctx(), tid, c.ID, "mgr", now.Add(3*lease), lease)
		ok(t, err, "claim when up to date")
		if won || p6.SentGen != 3 || p6.Gen != 3 {
			t.Fatalf("claim with nothing new: won %v, %+v; want lost, 3 of 3 shown", won, p6)
		}
		// Reviewers and tenants are apart.
		if _, _, err := s.ClaimReviewProgress(ctx(), tid, c.ID, "other", now, lease); !errors.Is(err, accessbot.ErrNotFound) {
			t.Fatalf("another reviewer's progress: %v, want not found", err)
		}
		other := newTenant(t, s)
		if _, _, err := s.ClaimReviewProgress(ctx(), other.ID, c.ID, "mgr", now, lease); !errors.Is(err, accessbot.ErrNotFound) {
			t.Fatalf("cross-tenant progress: %v, want not found", err)
		}
	})

	t.Run("settings", func(t *testing.T) {
		_, err := s.GetReviewSettings(ctx(), tid)
		isErr(t, err, accessbot.ErrNotFound, "settings before any")
		ok(t, s.PutReviewSettings(ctx(), &accessbot.ReviewSettings{TenantID: tid, RemindDays: []int{14, 2}, Grace: 36 * time.Hour}), "put settings")
		ok(t, s.PutReviewSettings(ctx(), &accessbot.ReviewSettings{TenantID: tid, RemindDays: []int{5, 0}, Grace: 0}), "replace settings")
		got, err := s.GetReviewSettings(ctx(), tid)
		ok(t, err, "get settings")
		if got.TenantID != tid || len(got.RemindDays) != 2 || got.RemindDays[0] != 5 || got.RemindDays[1] != 0 || got.Grace != 0 || got.UpdatedAt.IsZero() {
			t.Fatalf("settings read back: %+v", got)
		}
		ok(t, s.PutReviewSettings(ctx(), &accessbot.ReviewSettings{TenantID: tid, Grace: time.Hour}), "no reminder days")
		if got, err := s.GetReviewSettings(ctx(), tid); err != nil || got.RemindDays == nil || len(got.RemindDays) != 0 || got.Grace != time.Hour {
			t.Fatalf("settings without days: %+v, %v", got, err)
		}
		other := newTenant(t, s)
		_, err = s.GetReviewSettings(ctx(), other.ID)
		isErr(t, err, accessbot.ErrNotFound, "another tenant's settings")
	})
}
