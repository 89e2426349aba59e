package reviews_test

import (
	"errors"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/reviews"
	"github.com/accessbot/accessbot/store"
)

func TestLaunchOneMessagePerReviewer(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		// svc-1 has no email but maps to dan; ghost maps to nobody.
		f.inventory(f.app.ID, map[string][]string{"bob": {"admins", "devs"}, "cat": {"admins"}, "dan": {"admins"}, "svc-1": {"devs"}, "ghost": {"admins"}})
		ids, err := f.st.ListIdentities(f.ctx, f.ten.ID, f.app.ID, false)
		f.must(err)
		for _, id := range ids {
			if id.ExternalID == "svc-1" {
				_, err := f.st.ReplaceIdentityMappings(f.ctx, f.ten.ID, nil, []accessbot.IdentityMapping{{TenantID: f.ten.ID, IdentityID: id.ID, UserID: f.u["dan"].ID}})
				f.must(err)
			}
		}
		res := f.launch(accessbot.ReviewerManager)
		if res.Items != 6 || res.Reviewers != 2 {
			t.Fatalf("launched %d items for %d reviewers, want 6 for 2", res.Items, res.Reviewers)
		}
		// bob's two and cat's one go to mia; dan (no manager), svc-1 (dan's)
		// and ghost (nobody's) fall back to the owner olga.
		got := map[string]int{}
		for _, c := range f.rec.of("Assigned") {
			if c.Reason != reviews.AssignLaunch || c.Items != c.Pending {
				t.Fatalf("assigned call %+v", c)
			}
			got[f.name(c.To)] += c.Items
		}
		if len(f.rec.of("Assigned")) != 2 || got["mia"] != 3 || got["olga"] != 3 {
			t.Fatalf("assigned per reviewer %v (%d calls), want mia 3, olga 3 in 2 calls", got, len(f.rec.of("Assigned")))
		}
		for _, it := range f.pending("olga") {
			if it.Subject == "Dan" && it.UserID != f.u["dan"].ID {
				t.Fatalf("svc-1 not resolved to dan: %+v", it)
			}
		}
		if n := len(f.audits(reviews.ActionLaunched)); n != 1 {
			t.Fatalf("%d launch audit entries, want 1", n)
		}
		if n, _ := f.svc.PendingCount(f.ctx, f.ten.ID, f.u["mia"].ID); n != 3 {
			t.Fatalf("mia's pending count %d, want 3", n)
		}
	})
}

func TestLaunchScopeAndRefusals(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		res, err := f.svc.Launch(f.ctx, reviews.LaunchInput{TenantID: f.ten.ID, ActorID: f.u["ada"].ID, Name: "privileged only",
			Scope: accessbot.ReviewScope{AppIDs: []string{f.app.ID}, PrivilegedOnly: true}, Levels: []accessbot.ReviewerRule{accessbot.ReviewerAppOwner},
			DueAt: t0.Add(24 * time.Hour)})
		f.must(err)
		if res.Items != 3 {
			t.Fatalf("privileged-only campaign has %d items, want 3 (the admins holders)", res.Items)
		}
		cases := []struct {
			name  string
			in    reviews.LaunchInput
			field string
			want  error
		}{
			{"member refused", reviews.LaunchInput{ActorID: f.u["bob"].ID, Name: "x", Scope: accessbot.ReviewScope{AppIDs: []string{f.app.ID}},
				Levels: []accessbot.ReviewerRule{accessbot.ReviewerManager}, DueAt: t0.Add(time.Hour)}, "", reviews.ErrForbidden},
			{"no name", reviews.LaunchInput{ActorID: f.u["ada"].ID, Scope: accessbot.ReviewScope{AppIDs: []string{f.app.ID}},
				Levels: []accessbot.ReviewerRule{accessbot.ReviewerManager}, DueAt: t0.Add(time.Hour)}, reviews.FieldName, accessbot.ErrInvalid},
			{"no apps", reviews.LaunchInput{ActorID: f.u["ada"].ID, Name: "x", Levels: []accessbot.ReviewerRule{accessbot.ReviewerManager}, DueAt: t0.Add(time.Hour)},
				reviews.FieldApps, accessbot.ErrInvalid},
			{"unknown app", reviews.LaunchInput{ActorID: f.u["ada"].ID, Name: "x", Scope: accessbot.ReviewScope{AppIDs: []string{"nope"}},
				Levels: []accessbot.ReviewerRule{accessbot.ReviewerManager}, DueAt: t0.Add(time.Hour)}, reviews.FieldApps, accessbot.ErrInvalid},
			{"bad rule", reviews.LaunchInput{ActorID: f.u["ada"].ID, Name: "x", Scope: accessbot.ReviewScope{AppIDs: []string{f.app.ID}},
				Levels: []accessbot.ReviewerRule{"ceo"}, DueAt: t0.Add(time.Hour)}, reviews.FieldLevels, accessbot.ErrInvalid},
			{"due in the past", reviews.LaunchInput{ActorID: f.u["ada"].ID, Name: "x", Scope: accessbot.ReviewScope{AppIDs: []string{f.app.ID}},
				Levels: []accessbot.ReviewerRule{accessbot.ReviewerManager}, DueAt: t0.Add(-time.Hour)}, reviews.FieldDue, accessbot.ErrInvalid},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				c.in.TenantID = f.ten.ID
				_, err := f.svc.Launch(f.ctx, c.in)
				if !errors.Is(err, c.want) {
					t.Fatalf("Launch = %v, want %v", err, c.want)
				}
				if c.field != "" {
					fe, ok := errors.AsType[reviews.FieldErrors](err)
					if !ok || fe[c.field] == "" {
						t.Fatalf("Launch = %v, want a message for field %s", err, c.field)
					}
				}
			})
		}
		camps, err := f.st.ListCampaigns(f.ctx, f.ten.ID, "")
		f.must(err)
		if len(camps) != 1 {
			t.Fatalf("%d campaigns stored, want 1: refusals must store nothing", len(camps))
		}
	})
}

func TestRecurringDefinitionLaunchesOncePerSlot(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		created := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
		f.clock.Set(created)
		f.must(f.st.ReplaceCampaignDefinitions(f.ctx, f.ten.ID, []accessbot.CampaignDefinition{{Name: "monthly", Cron: "0 9 1 * *", TimeZone: "Europe/Berlin",
			Scope: accessbot.ReviewScope{AppIDs: []string{f.app.ID}}, Levels: []accessbot.ReviewerRule{accessbot.ReviewerAppOwner}, DueAfter: 14 * 24 * time.Hour, CreatedAt: created}}))
		// Two replicas, each its own Service, ticking at the same instants.
		other := reviews.New(f.st, f.rec, f.clock.Now, reviews.DefaultPolicy(), f.svc2Log())
		tick := func(at time.Time) {
			f.clock.Set(at)
			errs := make(chan error, 2)
			for _, s := range []*reviews.Service{f.svc, other} {
				go func() { _, err := s.LaunchDue(f.ctx, at); errs <- err }()
			}
			for range 2 {
				f.must(<-errs)
			}
		}
		tick(time.Date(2026, 1, 31, 0, 0, 0, 0, time.UTC)) // no slot since the definition exists
		tick(time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC))  // 09:00 Berlin: slot
		tick(time.Date(2026, 2, 1, 8, 0, 30, 0, time.UTC)) // same slot again
		// A two-month outage: only the latest missed slot (May 1, 09:00 CEST) launches.
		tick(time.Date(2026, 5, 3, 10, 0, 0, 0, time.UTC))
		camps, err := f.st.ListCampaigns(f.ctx, f.ten.ID, "")
		f.must(err)
		var slots []string
		for _, c := range camps {
			slots = append(slots, c.Slot.Format(time.RFC3339)+" due "+c.DueAt.Format(time.DateOnly))
		}
		want := []string{"2026-02-01T08:00:00Z due 2026-02-15", "2026-05-01T07:00:00Z due 2026-05-15"}
		if len(slots) != 2 || slots[0] != want[0] || slots[1] != want[1] {
			t.Fatalf("launched %v, want %v", slots, want)
		}
		slot, err := f.st.GetSlot(f.ctx, f.ten.ID, "review_campaign:monthly", time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC))
		f.must(err)
		if slot.Status != store.SlotDone {
			t.Fatalf("launch slot status %s, want done", slot.Status)
		}
	})
}
