package handlers_test

import (
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/grants"
	"github.com/accessbot/accessbot/flows/reviews"
	"github.com/accessbot/accessbot/handlers/views"
)

// TestE2EReviewRevokeRunsDeprovisioning: mia revokes cat's GitLab admins in
// the review modal. GitLab has a connection "admins", so cat's grant of it
// (recorded first: cat's access was imported) goes through the
// deprovisioning chain once, and olga is not asked to remove it by hand.
func TestE2EReviewRevokeRunsDeprovisioning(t *testing.T) {
	e := startReviews(t, "sqlite", 0)
	admins := &accessbot.Connection{TenantID: e.tenant.ID, AppID: e.gitlab.ID, Name: "admins", Type: "group"}
	must(t, e.st.CreateConnection(e.ctx, admins))
	dep := &recDeprovisioner{}
	gs, err := grants.New(grants.Config{Store: e.st, Deprovisioner: dep, Log: zerolog.Nop()})
	must(t, err)
	e.svc.WithRevoker(gs)

	_, err = e.svc.Launch(e.ctx, reviews.LaunchInput{TenantID: e.tenant.ID, ActorID: e.users["ada"].ID, Name: "Q1 GitLab review",
		Scope: accessbot.ReviewScope{AppIDs: []string{e.gitlab.ID}}, Levels: []accessbot.ReviewerRule{accessbot.ReviewerManager},
		DueAt: rvNow.AddDate(0, 0, 14)})
	must(t, err)
	dms := e.dms("mia", "Q1 GitLab review")
	if len(dms) != 1 {
		t.Fatalf("mia's DMs %+v", dms)
	}
	camp := strings.Split(strings.Split(string(dms[0].Blocks), `"value":"`)[1], `"`)[0]
	e.fake.SendInteractive(e.fake.BlockActionOnMessage(e.team.ID, rvSlack("mia"), dms[0].Channel, dms[0].TS,
		slackfake.Action{ActionID: views.ActionReviewOpen, BlockID: views.BlockReviewDMActions, Value: camp}))
	e.top("mia", views.CallbackReviewItems, "3 items pending")
	choices := map[string]accessbot.ReviewDecision{}
	for _, it := range e.pendingOf("mia") {
		choices[it.ID] = accessbot.DecisionKeep
		if it.Subject == "Cat" {
			choices[it.ID] = accessbot.DecisionRevoke
		}
	}
	a := e.ack(e.fake.SendInteractive(e.fake.ViewSubmission(e.team.ID, rvSlack("mia"), "", decisionValues(choices))))
	if !strings.Contains(string(a.View), "Saved: 2 kept, 1 revoked") {
		t.Fatalf("mia's submission ack %+v %s", a, a.View)
	}
	held, err := e.st.ListEntitlements(e.ctx, e.tenant.ID, e.users["cat"].ID)
	must(t, err)
	if len(held) != 1 || held[0].ConnectionID != admins.ID || !held[0].Ending() || dep.of(held[0].ID) != 1 || len(dep.calls) != 1 {
		t.Fatalf("cat's grants %+v, deprovision calls %v", held, dep.calls)
	}
	for _, m := range e.fake.Messages(slackfake.DMChannel(rvSlack("olga"))) {
		if strings.Contains(m.Text, "to remove") {
			t.Fatalf("olga was asked to remove by hand what the chain removes: %q", m.Text)
		}
	}
}
