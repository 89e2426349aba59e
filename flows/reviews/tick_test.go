package reviews_test

import (
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/reviews"
	"github.com/accessbot/accessbot/flows/schedule"
	"github.com/accessbot/accessbot/store"
)

// TestRemindersAcrossDST drives the real scheduler with an injected clock,
// hour by hour from 20 March to 5 April 2026, with the reminder schedule
// "0 9 * * *" in Europe/Berlin (CET → CEST on 29 March). The campaign is due
// 31 March 17:00 Berlin; the policy reminds 7, 3 and 1 days before, daily
// once overdue, and escalates 2 days after the due date.
func TestRemindersAcrossDST(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		berlin, err := time.LoadLocation("Europe/Berlin")
		f.must(err)
		f.must(f.st.PutSchedule(f.ctx, &store.Schedule{TenantID: f.ten.ID, Job: reviews.JobReminders, Cron: "0 9 * * *", TimeZone: "Europe/Berlin", Since: t0}))
		due := time.Date(2026, 3, 31, 17, 0, 0, 0, berlin)
		_, err = f.svc.Launch(f.ctx, reviews.LaunchInput{TenantID: f.ten.ID, ActorID: f.u["ada"].ID, Name: "March review",
			Scope: accessbot.ReviewScope{AppIDs: []string{f.app.ID}}, Levels: []accessbot.ReviewerRule{accessbot.ReviewerManager}, DueAt: due})
		f.must(err)
		sch, err := schedule.New(schedule.Config{Store: f.st, Clock: f.clock.Now, Log: zerolog.Nop()})
		f.must(err)
		f.must(f.svc.Register(sch))
		// olga (dan's item) finishes on 25 March: she must hear nothing after.
		cleared := false
		for at := t0; at.Before(time.Date(2026, 4, 5, 0, 0, 0, 0, time.UTC)); at = at.Add(time.Hour) {
			f.clock.Set(at)
			f.must(sch.Tick(f.ctx))
			if !cleared && at.After(time.Date(2026, 3, 25, 12, 0, 0, 0, time.UTC)) {
				cleared = true
				_, err := f.svc.Decide(f.ctx, reviews.DecideInput{TenantID: f.ten.ID, ActorID: f.u["olga"].ID,
					Decisions: decisions(f.pending("olga"), func(accessbot.ReviewItem) accessbot.ReviewDecision { return accessbot.DecisionKeep })})
				f.must(err)
			}
		}
		got := map[string][]string{}
		for _, c := range f.rec.of("Remind") {
			tag := c.At.Format("01-02T15:04Z")
			if c.Overdue {
				tag += " overdue"
			}
			got[f.name(c.To)] = append(got[f.name(c.To)], tag)
		}
		// 09:00 Berlin is 08:00Z before 29 March and 07:00Z after.
		wantMia := []string{"03-24T08:00Z", "03-28T08:00Z", "03-30T07:00Z",
			"04-01T07:00Z overdue", "04-02T07:00Z overdue", "04-03T07:00Z overdue", "04-04T07:00Z overdue"}
		if !slices.Equal(got["mia"], wantMia) {
			t.Errorf("mia reminded at %v\nwant %v", got["mia"], wantMia)
		}
		if want := []string{"03-24T08:00Z"}; !slices.Equal(got["olga"], want) {
			t.Errorf("olga reminded at %v, want only %v (nothing once she had nothing pending)", got["olga"], want)
		}
		// Due + 2 days = 2 April 17:00 Berlin: the 3 April slot escalates mia
		// to her manager, once.
		esc := f.rec.of("Escalated")
		if len(esc) != 1 || esc[0].To != f.u["mia"].ID || !slices.Equal(esc[0].Targets, []string{f.u["ceo"].ID}) ||
			esc[0].At.Format("01-02T15:04Z") != "04-03T07:00Z" || esc[0].Pending != 3 {
			t.Fatalf("escalations %+v, want one for mia to ceo at 04-03T07:00Z with 3 pending", esc)
		}
		if n := len(f.audits(reviews.ActionEscalated)); n != 1 {
			t.Fatalf("%d escalation audit entries, want 1", n)
		}
		if len(f.audits(reviews.ActionReminded)) == 0 {
			t.Fatal("reminders not audited")
		}
	})
}

func TestEscalationToAdminsWhenNoManager(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.launch(accessbot.ReviewerAppOwner) // olga reviews everything; she has no manager
		late := t0.Add(13 * 24 * time.Hour)  // due + 3 days
		for range 3 {                        // a retried or concurrent tick escalates once
			_, err := f.svc.Tick(f.ctx, f.ten.ID, late)
			f.must(err)
		}
		esc := f.rec.of("Escalated")
		if len(esc) != 1 || esc[0].To != f.u["olga"].ID || !slices.Equal(esc[0].Targets, []string{f.u["ada"].ID}) {
			t.Fatalf("escalations %+v, want one for olga to the admin ada", esc)
		}
		if n := len(f.rec.of("Remind")); n != 1 {
			t.Fatalf("%d overdue reminders for one day, want 1", n)
		}
	})
}

func TestTickCompletesCampaignWithNothingPending(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		res := f.launch(accessbot.ReviewerAppOwner)
		// Decide every item behind the service's back, as two racing last
		// decisions can leave it: all decided, campaign still active.
		for _, it := range f.pending("olga") {
			f.must(f.st.DecideReviewItem(f.ctx, f.ten.ID, it.ID, it.ReviewerID, accessbot.ReviewKept, "", t0))
		}
		_, err := f.svc.Tick(f.ctx, f.ten.ID, t0.Add(time.Hour))
		f.must(err)
		c, err := f.st.GetCampaign(f.ctx, f.ten.ID, res.Campaign.ID)
		f.must(err)
		if c.Status != accessbot.CampaignCompleted || len(f.audits(reviews.ActionCompleted)) != 1 {
			t.Fatalf("campaign %s after a tick with nothing pending", c.Status)
		}
	})
}

// TestTenantReviewSettingsReplaceThePolicy: a tenant's review settings (the
// tenant file's reviews: section) decide the reminder days and the grace
// period instead of the service's 7/3/1 days and 2 days; another tenant
// keeps the default.
func TestTenantReviewSettingsReplaceThePolicy(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		// Due 30 March 12:00 UTC (t0 + 10 days); reminders at 09:00 UTC.
		f.launch(accessbot.ReviewerAppOwner)
		f.must(f.st.PutReviewSettings(f.ctx, &accessbot.ReviewSettings{TenantID: f.ten.ID, RemindDays: []int{5, 0}, Grace: 0}))
		pol, err := f.svc.PolicyFor(f.ctx, f.ten.ID)
		f.must(err)
		if !slices.Equal(pol.RemindDays, []int{5, 0}) || pol.Grace != 0 {
			t.Fatalf("policy %+v, want the tenant's", pol)
		}
		other := &accessbot.Tenant{Slug: "other", Name: "Other"}
		f.must(f.st.CreateTenant(f.ctx, other))
		if pol, err := f.svc.PolicyFor(f.ctx, other.ID); err != nil || !slices.Equal(pol.RemindDays, []int{7, 3, 1}) || pol.Grace != 48*time.Hour {
			t.Fatalf("another tenant's policy %+v, %v; want the default", pol, err)
		}
		for day := 21; day <= 31; day++ {
			at := time.Date(2026, 3, day, 9, 0, 0, 0, time.UTC)
			f.clock.Set(at)
			_, err := f.svc.Tick(f.ctx, f.ten.ID, at)
			f.must(err)
		}
		var got []string
		for _, c := range f.rec.of("Remind") {
			tag := c.At.Format("01-02")
			if c.Overdue {
				tag += " overdue"
			}
			got = append(got, tag)
		}
		// 5 days before (25th) and the due day (30th, before 12:00); overdue on the 31st.
		if want := []string{"03-25", "03-30", "03-31 overdue"}; !slices.Equal(got, want) {
			t.Fatalf("reminded on %v, want %v", got, want)
		}
		// No grace: the first tick after the due date escalates.
		esc := f.rec.of("Escalated")
		if len(esc) != 1 || esc[0].At.Format("01-02") != "03-31" {
			t.Fatalf("escalations %+v, want one on 03-31", esc)
		}
	})
}

// TestDefaultReminderSchedule: a tenant with a campaign but no
// review_reminders schedule is reminded and escalated on the default
// schedule (daily 09:00 UTC), from the day after the launch; a tenant with
// no active campaign gets no reminder slots at all.
func TestDefaultReminderSchedule(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		idle := &accessbot.Tenant{Slug: "idle", Name: "Idle"}
		f.must(f.st.CreateTenant(f.ctx, idle))
		f.launch(accessbot.ReviewerAppOwner) // at t0 (20 March 12:00Z), due 30 March 12:00Z; olga reviews
		sch, err := schedule.New(schedule.Config{Store: f.st, Clock: f.clock.Now, Log: zerolog.Nop()})
		f.must(err)
		f.must(f.svc.Register(sch))
		// Every 3 hours from 12:00Z: each day's 09:00Z is a tick.
		for at := t0; at.Before(time.Date(2026, 4, 3, 0, 0, 0, 0, time.UTC)); at = at.Add(3 * time.Hour) {
			f.clock.Set(at)
			f.must(sch.Tick(f.ctx))
		}
		var got []string
		for _, c := range f.rec.of("Remind") {
			tag := c.At.Format("01-02T15:04Z")
			if c.Overdue {
				tag += " overdue"
			}
			got = append(got, tag)
		}
		want := []string{"03-23T09:00Z", "03-27T09:00Z", "03-29T09:00Z", "03-31T09:00Z overdue", "04-01T09:00Z overdue", "04-02T09:00Z overdue"}
		if !slices.Equal(got, want) {
			t.Errorf("olga reminded at %v\nwant %v", got, want)
		}
		// Due + 2 days = 1 April 12:00Z: the 2 April slot escalates, once.
		esc := f.rec.of("Escalated")
		if len(esc) != 1 || esc[0].At.Format("01-02T15:04Z") != "04-02T09:00Z" {
			t.Fatalf("escalations %+v, want one at 04-02T09:00Z", esc)
		}
		if _, err := f.st.LastSlot(f.ctx, idle.ID, reviews.JobReminders); err == nil {
			t.Fatal("a tenant without campaigns got a reminder slot")
		}
	})
}

// A reminder or escalation whose send fails is not marked sent: the Tick
// fails (so the scheduler retries the slot) and the retry sends it, once.
func TestFailedNoticeIsRetried(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.launch(accessbot.ReviewerAppOwner) // olga reviews everything; she has no manager
		late := t0.Add(13 * 24 * time.Hour)  // due + 3 days: an overdue reminder and an escalation
		f.rec.fails = map[string]int{"Remind": 1, "Escalated": 1}
		if _, err := f.svc.Tick(f.ctx, f.ten.ID, late); err == nil {
			t.Fatal("Tick with Slack down: no error, so the slot would not be retried")
		}
		if n, e := len(f.rec.of("Remind")), len(f.rec.of("Escalated")); n != 0 || e != 0 {
			t.Fatalf("with Slack down: %d reminders, %d escalations delivered, want 0", n, e)
		}
		for range 2 { // the slot's retry, then a later retry that finds both sent
			_, err := f.svc.Tick(f.ctx, f.ten.ID, late)
			f.must(err)
		}
		if n, e := len(f.rec.of("Remind")), len(f.rec.of("Escalated")); n != 1 || e != 1 {
			t.Fatalf("after the retries: %d reminders, %d escalations, want 1 each", n, e)
		}
		if n := len(f.audits(reviews.ActionEscalated)); n != 1 {
			t.Fatalf("%d escalation audit entries, want 1", n)
		}
	})
}
