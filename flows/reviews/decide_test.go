package reviews_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/reviews"
)

func decisions(items []accessbot.ReviewItem, pick func(accessbot.ReviewItem) accessbot.ReviewDecision) []reviews.ItemDecision {
	var out []reviews.ItemDecision
	for _, it := range items {
		out = append(out, reviews.ItemDecision{ItemID: it.ID, Decision: pick(it), Comment: "checked " + it.Subject})
	}
	return out
}

func TestTwoLevelReview(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.launch(accessbot.ReviewerManager, accessbot.ReviewerAppOwner)
		mine := f.pending("mia")
		if len(mine) != 3 {
			t.Fatalf("mia has %d items, want 3 (bob x2, cat)", len(mine))
		}
		f.rec.reset()
		// mia keeps bob's two and revokes cat's admins.
		res, err := f.svc.Decide(f.ctx, reviews.DecideInput{TenantID: f.ten.ID, ActorID: f.u["mia"].ID,
			Decisions: decisions(mine, func(it accessbot.ReviewItem) accessbot.ReviewDecision {
				if it.Subject == "Cat" {
					return accessbot.DecisionRevoke
				}
				return accessbot.DecisionKeep
			})})
		f.must(err)
		if len(res.Decided) != 3 || len(res.Refused) != 0 || len(res.Next) != 2 {
			t.Fatalf("decide result: %d decided, %d refused, %d next; want 3, 0, 2", len(res.Decided), len(res.Refused), len(res.Next))
		}
		// The owner gets the two kept items in one message, and one revocation message.
		as := f.rec.of("Assigned")
		if len(as) != 1 || as[0].To != f.u["olga"].ID || as[0].Items != 2 || as[0].Reason != reviews.AssignNextLevel {
			t.Fatalf("next-level assignment %+v, want one to olga with 2 items", as)
		}
		rv := f.rec.of("RevocationRequested")
		if len(rv) != 1 || rv[0].To != f.u["olga"].ID || rv[0].Items != 1 {
			t.Fatalf("revocation notices %+v, want one to olga with 1 item", rv)
		}
		revs, err := f.st.ListRevocations(f.ctx, f.ten.ID, f.u["olga"].ID)
		f.must(err)
		if len(revs) != 1 || revs[0].Status != accessbot.RevocationPending {
			t.Fatalf("revocations %+v", revs)
		}
		owner := f.pending("olga")
		// olga also has dan's item from level 1 (dan has no manager).
		level2 := 0
		for _, it := range owner {
			if it.Level == 1 {
				level2++
				if it.Subject != "Bob" || it.ParentID == "" {
					t.Fatalf("level-2 item %+v", it)
				}
			}
		}
		if level2 != 2 {
			t.Fatalf("olga has %d level-2 items, want 2", level2)
		}
		_, err = f.svc.Decide(f.ctx, reviews.DecideInput{TenantID: f.ten.ID, ActorID: f.u["olga"].ID,
			Decisions: decisions(owner, func(accessbot.ReviewItem) accessbot.ReviewDecision { return accessbot.DecisionKeep })})
		f.must(err)
		// dan's item was level 1 by the owner: kept, so it goes to level 2 — the owner again.
		rest := f.pending("olga")
		if len(rest) != 1 || rest[0].Subject != "Dan" || rest[0].Level != 1 {
			t.Fatalf("after olga's batch: %+v", rest)
		}
		_, err = f.svc.Decide(f.ctx, reviews.DecideInput{TenantID: f.ten.ID, ActorID: f.u["olga"].ID,
			Decisions: decisions(rest, func(accessbot.ReviewItem) accessbot.ReviewDecision { return accessbot.DecisionKeep })})
		f.must(err)
		camps, err := f.st.ListCampaigns(f.ctx, f.ten.ID, accessbot.CampaignCompleted)
		f.must(err)
		if len(camps) != 1 {
			t.Fatalf("campaign not completed after every item was decided")
		}
		if n := len(f.audits(reviews.ActionKept)) + len(f.audits(reviews.ActionRevoked)); n != 7 {
			t.Fatalf("%d decision audit entries, want 7", n)
		}
		if len(f.audits(reviews.ActionCompleted)) != 1 {
			t.Fatal("no completion audit entry")
		}
	})
}

func TestStaleAndForeignReviewerRefused(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.launch(accessbot.ReviewerManager)
		mine := f.pending("mia")
		item := mine[0]
		keep := []reviews.ItemDecision{{ItemID: item.ID, Decision: accessbot.DecisionKeep}}
		// Olga (another reviewer) and bob (whose access it is) cannot decide mia's item.
		for _, who := range []string{"olga", "bob"} {
			res, err := f.svc.Decide(f.ctx, reviews.DecideInput{TenantID: f.ten.ID, ActorID: f.u[who].ID, Decisions: keep})
			f.must(err)
			if len(res.Decided) != 0 || len(res.Refused) != 1 || !errors.Is(res.Refused[0].Err, reviews.ErrNotReviewer) {
				t.Fatalf("%s deciding mia's item: %+v", who, res)
			}
		}
		// Ten racing clicks by mia: one decision.
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, stale := 0, 0
		for range 10 {
			wg.Go(func() {
				res, err := f.svc.Decide(f.ctx, reviews.DecideInput{TenantID: f.ten.ID, ActorID: f.u["mia"].ID, Decisions: keep})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					t.Errorf("racing decide: %v", err)
				case len(res.Decided) == 1:
					won++
				case len(res.Refused) == 1 && errors.Is(res.Refused[0].Err, accessbot.ErrStale):
					stale++
				}
			})
		}
		wg.Wait()
		if won != 1 || stale != 9 {
			t.Fatalf("racing decisions: %d won, %d stale; want 1, 9", won, stale)
		}
		// After a nomination, the old reviewer is stale for that item.
		other := mine[1]
		_, err := f.svc.Nominate(f.ctx, reviews.NominateInput{TenantID: f.ten.ID, ActorID: f.u["mia"].ID, ItemID: other.ID, ToUserID: f.u["xavi"].ID, Reason: "Xavi runs that team now"})
		f.must(err)
		res, err := f.svc.Decide(f.ctx, reviews.DecideInput{TenantID: f.ten.ID, ActorID: f.u["mia"].ID,
			Decisions: []reviews.ItemDecision{{ItemID: other.ID, Decision: accessbot.DecisionRevoke}}})
		f.must(err)
		if len(res.Refused) != 1 || !errors.Is(res.Refused[0].Err, reviews.ErrNotReviewer) {
			t.Fatalf("old reviewer after nomination: %+v", res)
		}
		// Another tenant's id is not found.
		res, err = f.svc.Decide(f.ctx, reviews.DecideInput{TenantID: "other-tenant", ActorID: f.u["mia"].ID, Decisions: keep})
		f.must(err)
		if len(res.Refused) != 1 || !errors.Is(res.Refused[0].Err, accessbot.ErrNotFound) {
			t.Fatalf("cross-tenant decide: %+v", res)
		}
		// A bad decision value fails the batch and records nothing.
		_, err = f.svc.Decide(f.ctx, reviews.DecideInput{TenantID: f.ten.ID, ActorID: f.u["mia"].ID,
			Decisions: []reviews.ItemDecision{{ItemID: mine[2].ID, Decision: accessbot.DecisionKeep}, {ItemID: mine[2].ID, Decision: "maybe"}}})
		if !errors.Is(err, accessbot.ErrInvalid) {
			t.Fatalf("bad decision: %v", err)
		}
		if it, _ := f.st.GetReviewItem(f.ctx, f.ten.ID, mine[2].ID); it.Status != accessbot.ReviewPending {
			t.Fatalf("a failed batch left item %s", it.Status)
		}
	})
}

func TestNominationAndDelegationAudited(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		// mia is away: ned is her delegate until next month.
		until := t0.Add(30 * 24 * time.Hour)
		mia := f.u["mia"]
		mia.DelegateID, mia.DelegateUntil = f.u["ned"].ID, &until
		f.must(f.st.UpdateUser(f.ctx, mia))
		f.launch(accessbot.ReviewerManager)
		if n := len(f.pending("mia")); n != 0 {
			t.Fatalf("mia has %d items while delegated", n)
		}
		ned := f.pending("ned")
		if len(ned) != 3 {
			t.Fatalf("ned (mia's delegate) has %d items, want 3", len(ned))
		}
		if n := len(f.audits(reviews.ActionDelegated)); n != 3 {
			t.Fatalf("%d delegation audit entries, want 3", n)
		}
		cases := []struct {
			name, to, reason, field string
			want                    error
		}{
			{"no reason", "xavi", " ", reviews.FieldReason, accessbot.ErrInvalid},
			{"to self", "ned", "why not", reviews.FieldNominee, accessbot.ErrInvalid},
			{"to the subject", "bob", "ask bob", reviews.FieldNominee, accessbot.ErrInvalid},
			{"to nobody", "", "x", reviews.FieldNominee, accessbot.ErrInvalid},
		}
		bobItem := ned[0]
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				to := ""
				if c.to != "" {
					to = f.u[c.to].ID
				}
				_, err := f.svc.Nominate(f.ctx, reviews.NominateInput{TenantID: f.ten.ID, ActorID: f.u["ned"].ID, ItemID: bobItem.ID, ToUserID: to, Reason: c.reason})
				fe, ok := errors.AsType[reviews.FieldErrors](err)
				if !errors.Is(err, c.want) || !ok || fe[c.field] == "" {
					t.Fatalf("Nominate = %v, want a %s message", err, c.field)
				}
			})
		}
		_, err := f.svc.Nominate(f.ctx, reviews.NominateInput{TenantID: f.ten.ID, ActorID: f.u["mia"].ID, ItemID: bobItem.ID, ToUserID: f.u["xavi"].ID, Reason: "x"})
		if !errors.Is(err, reviews.ErrNotReviewer) {
			t.Fatalf("nomination by a non-reviewer: %v", err)
		}
		f.rec.reset()
		it, err := f.svc.Nominate(f.ctx, reviews.NominateInput{TenantID: f.ten.ID, ActorID: f.u["ned"].ID, ItemID: bobItem.ID, ToUserID: f.u["xavi"].ID, Reason: "Xavi owns the runners"})
		f.must(err)
		if it.ReviewerID != f.u["xavi"].ID {
			t.Fatalf("nominated item reviewer %s", f.name(it.ReviewerID))
		}
		as := f.rec.of("Assigned")
		if len(as) != 1 || as[0].To != f.u["xavi"].ID || as[0].Reason != reviews.AssignNominated {
			t.Fatalf("nominee notices %+v", as)
		}
		noms := f.audits(reviews.ActionNominated)
		if len(noms) != 1 || noms[0].ActorID != f.u["ned"].ID || !strings.Contains(string(noms[0].After), "Xavi owns the runners") ||
			!strings.Contains(string(noms[0].Before), f.u["ned"].ID) {
			t.Fatalf("nomination audit %+v", noms)
		}
	})
}
