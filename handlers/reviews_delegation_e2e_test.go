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

// TestE2EReviewDelegation: mia is away with xavi as her active delegate, so
// the manager-level items of a campaign go to xavi: he gets the one DM,
// opens "Review now" and decides; mia gets nothing and cannot decide them.
// Each swap and each of xavi's decisions is audited. olga's delegation to
// xavi has expired, so the owner level comes back to olga herself.
func TestE2EReviewDelegation(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) { testE2EReviewDelegation(t, driver) })
	}
}

func testE2EReviewDelegation(t *testing.T, driver string) {
	e := startReviews(t, driver, 0)
	away, expired := rvNow.Add(7*24*time.Hour), rvNow.Add(-24*time.Hour)
	for name, until := range map[string]*time.Time{"mia": &away, "olga": &expired} {
		u := e.users[name]
		u.DelegateID, u.DelegateUntil = e.users["xavi"].ID, until
		must(t, e.st.UpdateUser(e.ctx, u))
	}
	res, err := e.svc.Launch(e.ctx, reviews.LaunchInput{TenantID: e.tenant.ID, ActorID: e.users["ada"].ID, Name: "Delegated review",
		Scope:  accessbot.ReviewScope{AppIDs: []string{e.gitlab.ID}},
		Levels: []accessbot.ReviewerRule{accessbot.ReviewerManager, accessbot.ReviewerAppOwner}, DueAt: rvNow.Add(72 * time.Hour)})
	must(t, err)
	camp := res.Campaign.ID

	dms := e.dms("xavi", "Delegated review")
	if len(dms) != 1 || !strings.Contains(dms[0].Text, "3 items") {
		t.Fatalf("xavi's DMs %+v", dms)
	}
	for _, m := range e.fake.Messages(slackfake.DMChannel(rvSlack("mia"))) {
		t.Fatalf("mia, away, got a DM: %q", m.Text)
	}
	if n := len(e.pendingOf("mia")); n != 0 {
		t.Fatalf("mia has %d items while delegated", n)
	}

	// mia cannot decide her delegate's items, even with a forged submission.
	items := e.pendingOf("xavi")
	choices := map[string]accessbot.ReviewDecision{}
	for _, it := range items {
		choices[it.ID] = accessbot.DecisionKeep
	}
	forged := slackfake.View{JSON: []byte(`{"id":"V0FORGED","type":"modal","callback_id":"` + views.CallbackReviewItems +
		`","private_metadata":"` + views.ReviewMeta(camp, 0) + `","blocks":[]}`)}
	if a := e.replay("mia", forged, decisionValues(choices)); !strings.Contains(string(a.View), "3 are no longer yours to review") {
		t.Fatalf("mia's forged decisions: ack %+v %s", a, a.View)
	}

	// xavi opens Review now from his DM and keeps all three.
	e.fake.SendInteractive(e.fake.BlockActionOnMessage(e.team.ID, rvSlack("xavi"), dms[0].Channel, dms[0].TS,
		slackfake.Action{ActionID: views.ActionReviewOpen, BlockID: views.BlockReviewDMActions, Value: camp}))
	e.top("xavi", views.CallbackReviewItems, "3 items pending")
	a := e.ack(e.fake.SendInteractive(e.fake.ViewSubmission(e.team.ID, rvSlack("xavi"), "", decisionValues(choices))))
	if a.ResponseAction != "update" || !strings.Contains(string(a.View), "Saved: 3 kept, 0 revoked") {
		t.Fatalf("xavi's submission ack %+v %s", a, a.View)
	}

	// The owner level goes to olga: her delegation has ended.
	if next := e.dms("olga", "3 items for you"); len(next) != 1 {
		t.Fatalf("olga's next-level DMs %+v", next)
	}
	if n := len(e.pendingOf("olga")); n != 3 {
		t.Fatalf("olga has %d items, want 3", n)
	}

	for _, it := range items {
		audit, err := e.st.ListAudit(e.ctx, e.tenant.ID, it.ID)
		must(t, err)
		var got []string
		for _, en := range audit {
			got = append(got, en.Action+" by "+en.ActorID)
		}
		want := []string{reviews.ActionDelegated + " by " + accessbot.ActorSystem, reviews.ActionKept + " by " + e.users["xavi"].ID}
		if strings.Join(got, ", ") != strings.Join(want, ", ") {
			t.Fatalf("item %s audit %v, want %v", it.ID, got, want)
		}
		if !strings.Contains(string(audit[0].Before), e.users["mia"].ID) || !strings.Contains(string(audit[0].After), e.users["xavi"].ID) {
			t.Fatalf("delegation audit %s → %s, want mia → xavi", audit[0].Before, audit[0].After)
		}
	}
}
