package handlers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/reviews"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/store/storetest"
)

// TestE2EReviewRepeat: the admin's /access review new form offers Repeat.
// A bad custom cron, a cron without Custom, and a name already taken by a
// recurring review are answered inline on their fields with nothing
// stored; Monthly launches now and saves a recurring definition (audited)
// that launches again on the 1st of the next month, due as many days later.
func TestE2EReviewRepeat(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) { testE2EReviewRepeat(t, driver) })
	}
}

func testE2EReviewRepeat(t *testing.T, driver string) {
	e := startReviews(t, driver, 0)
	open := func() slackfake.View {
		t.Helper()
		e.command("ada", "review new")
		return e.top("ada", views.CallbackReviewNew, "GitLab", "Repeat")
	}
	submit := func(v slackfake.View, name, repeat, cron string) rvAck {
		t.Helper()
		apps, err := e.fake.Choose(v.ID, views.BlockReviewNewApps, views.ActionReviewNewApps, e.gitlab.ID)
		must(t, err)
		rep, err := e.fake.Choose(v.ID, views.BlockReviewNewRepeat, views.ActionReviewNewRepeat, repeat)
		must(t, err)
		return e.ack(e.fake.SendInteractive(e.fake.ViewSubmission(e.team.ID, rvSlack("ada"), v.ID, map[string]map[string]slackfake.StateValue{
			views.BlockReviewNewName:   {views.ActionReviewNewName: slackfake.PlainTextValue(name)},
			views.BlockReviewNewApps:   {views.ActionReviewNewApps: apps},
			views.BlockReviewNewLevel1: {views.ActionReviewNewLevel1: slackfake.StaticSelectValue(string(accessbot.ReviewerManager), "m")},
			views.BlockReviewNewLevel2: {views.ActionReviewNewLevel2: slackfake.StaticSelectValue(views.ReviewLevelNone, "n")},
			views.BlockReviewNewDue:    {views.ActionReviewNewDue: slackfake.DateValue("2026-03-31")},
			views.BlockReviewNewRepeat: {views.ActionReviewNewRepeat: rep},
			views.BlockReviewNewCron:   {views.ActionReviewNewCron: slackfake.PlainTextValue(cron)},
		})))
	}
	stored := func() ([]accessbot.CampaignDefinition, []accessbot.Campaign) {
		t.Helper()
		defs, err := e.st.ListCampaignDefinitions(e.ctx, e.tenant.ID)
		must(t, err)
		camps, err := e.st.ListCampaigns(e.ctx, e.tenant.ID, "")
		must(t, err)
		return defs, camps
	}

	v := open()
	for _, tc := range []struct{ repeat, cron, block, want string }{
		{views.RepeatCustom, "0 9 1 */3", views.BlockReviewNewCron, "bad cron expression"},
		{views.RepeatCustom, "", views.BlockReviewNewCron, "Give the schedule"},
		{views.RepeatNone, "0 9 * * *", views.BlockReviewNewCron, "Set Repeat to Custom"},
	} {
		a := submit(v, "Monthly GitLab", tc.repeat, tc.cron)
		if a.ResponseAction != "errors" || !strings.Contains(a.Errors[tc.block], tc.want) {
			t.Fatalf("repeat %s cron %q: ack %+v, want an error on %s containing %q", tc.repeat, tc.cron, a, tc.block, tc.want)
		}
		if defs, camps := stored(); len(defs)+len(camps) != 0 {
			t.Fatalf("a refused form stored %d definitions and %d campaigns", len(defs), len(camps))
		}
	}

	a := submit(v, "Monthly GitLab", views.RepeatMonthly, "")
	if a.ResponseAction != "update" || !strings.Contains(string(a.View), `It repeats on \"0 9 1 * *\" (UTC), each launch due 29 days later`) {
		t.Fatalf("monthly launch ack %+v %s", a, a.View)
	}
	defs, camps := stored()
	if len(defs) != 1 || defs[0].Name != "Monthly GitLab" || defs[0].Cron != "0 9 1 * *" || defs[0].TimeZone != "UTC" ||
		defs[0].DueAfter != 29*24*time.Hour || len(defs[0].Scope.AppIDs) != 1 || defs[0].Scope.AppIDs[0] != e.gitlab.ID || !defs[0].FromSlack() {
		t.Fatalf("definitions %+v", defs)
	}
	if len(camps) != 1 || camps[0].Definition != "Monthly GitLab" || camps[0].Slot != nil {
		t.Fatalf("campaigns %+v, want the one launched now, of the definition", camps)
	}
	audit, err := e.st.ListAudit(e.ctx, e.tenant.ID, "Monthly GitLab")
	must(t, err)
	if len(audit) != 1 || audit[0].Action != reviews.ActionDefined || audit[0].ActorID != e.users["ada"].ID {
		t.Fatalf("definition audit %+v", audit)
	}
	e.dms("mia", "Monthly GitLab")

	// The name of a recurring review is refused on the name field.
	v = open()
	if a := submit(v, "monthly gitlab", views.RepeatQuarterly, ""); a.ResponseAction != "errors" || !strings.Contains(a.Errors[views.BlockReviewNewName], "exists already") {
		t.Fatalf("duplicate name ack %+v", a)
	}
	if defs, camps := stored(); len(defs) != 1 || len(camps) != 1 {
		t.Fatalf("a refused duplicate left %d definitions and %d campaigns", len(defs), len(camps))
	}

	// Nothing more before the 1st of April; then one launch, due 29 days later.
	for _, at := range []time.Time{rvNow.Add(time.Hour), time.Date(2026, 3, 31, 23, 0, 0, 0, time.UTC)} {
		if n, err := e.svc.LaunchDue(e.ctx, at); err != nil || n != 0 {
			t.Fatalf("LaunchDue at %s launched %d, %v", at, n, err)
		}
	}
	april := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	for range 2 {
		_, err := e.svc.LaunchDue(e.ctx, april.Add(5*time.Minute))
		must(t, err)
	}
	_, camps = stored()
	if len(camps) != 2 || camps[1].Slot == nil || !camps[1].Slot.Equal(april) || !camps[1].DueAt.Equal(april.Add(29*24*time.Hour)) {
		t.Fatalf("campaigns after 1 April %+v", camps)
	}

	// /access review stop: refused politely for a non-admin and an unknown
	// name; an admin's stop (any case) is audited and launches no more.
	for _, tc := range []struct{ user, text, want string }{
		{"mia", "review stop Monthly GitLab", "Only accessbot admins can stop"},
		{"ada", "review stop Weekly Nothing", `There is no recurring review named "Weekly Nothing"`},
		{"ada", "review stop", "Name the recurring review to stop"},
	} {
		if a := e.command(tc.user, tc.text); !strings.Contains(a.Text, tc.want) {
			t.Fatalf("%s %q: reply %q, want %q", tc.user, tc.text, a.Text, tc.want)
		}
	}
	if defs, _ := stored(); len(defs) != 1 {
		t.Fatalf("refused stops left %d definitions", len(defs))
	}
	if a := e.command("ada", "review stop monthly gitlab"); !strings.Contains(a.Text, `Stopped the recurring review "Monthly GitLab"`) {
		t.Fatalf("stop reply %q", a.Text)
	}
	if defs, camps := stored(); len(defs) != 0 || len(camps) != 2 {
		t.Fatalf("after stop: %d definitions and %d campaigns, want 0 and the 2 launched", len(defs), len(camps))
	}
	audit, err = e.st.ListAudit(e.ctx, e.tenant.ID, "Monthly GitLab")
	must(t, err)
	if len(audit) != 2 || audit[1].Action != reviews.ActionStopped || audit[1].ActorID != e.users["ada"].ID {
		t.Fatalf("stop audit %+v", audit)
	}
	may := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	if n, err := e.svc.LaunchDue(e.ctx, may.Add(5*time.Minute)); err != nil || n != 0 {
		t.Fatalf("LaunchDue after stop launched %d, %v", n, err)
	}
}
