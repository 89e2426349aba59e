package handlers_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/connectors/webhook/webhookfake"
	"github.com/accessbot/accessbot/flows/reviews"
	"github.com/accessbot/accessbot/handlers/views"
)

// TestRunPlaybookInReviewModal: a playbook run from an item of the review
// modal shows "running…" under the item at once and then its outcome
// (status, HTTP status, duration) in the same modal, by views.update
// through the fake Slack, with no DM. A disabled playbook says so there
// too. When the modal was closed (not_found) or changed since
// (hash_conflict: the page was submitted) the outcome comes by DM.
func TestRunPlaybookInReviewModal(t *testing.T) {
	e := startPlaybookMenus(t)
	ctx := e.ctx
	olga := rvSlack("olga")
	res, err := e.rsvc.Launch(ctx, reviews.LaunchInput{TenantID: e.tenant.ID, ActorID: e.users["ada"].ID, Name: "Q1",
		Scope: accessbot.ReviewScope{AppIDs: []string{e.app.ID}}, Levels: []accessbot.ReviewerRule{accessbot.ReviewerAppOwner}, DueAt: time.Now().Add(72 * time.Hour)})
	must(t, err)
	items, err := e.rsvc.PendingItems(ctx, e.tenant.ID, e.users["olga"].ID, res.Campaign.ID)
	must(t, err)
	if len(items) != 1 {
		t.Fatalf("%d items for olga", len(items))
	}
	item := items[0]
	open := func() slackfake.View {
		t.Helper()
		e.fake.SendInteractive(e.fake.BlockAction("T1", olga, slackfake.Action{ActionID: views.ActionReviewOpen, BlockID: views.BlockReviewDMActions, Value: res.Campaign.ID}))
		return waitTopView(t, ctx, e.fake, olga, views.CallbackReviewItems, "review-hook")
	}
	pick := func(viewID string) {
		t.Helper()
		a := slackfake.StaticSelectValue(views.PlaybookRunValue(accessbot.PlaybookReview, item.ID, e.pb["review-hook"].ID), "review-hook").
			AsAction(views.BlockPlaybookRun+"."+item.ID, views.ActionPlaybookRun)
		if _, err := e.fake.AwaitAck(ctx, e.fake.SendInteractive(e.fake.ViewAction("T1", olga, viewID, nil, a))); err != nil {
			t.Fatal(err)
		}
	}
	updates := func(viewID, want string) int {
		n := 0
		for _, c := range e.fake.Calls("views.update") {
			if c.Error == "" && strings.Contains(string(c.JSON), viewID) && strings.Contains(string(c.JSON), want) {
				n++
			}
		}
		return n
	}
	outcome := regexp.MustCompile(`\*review-hook\*: delivered, HTTP 200 in [0-9.]+(µs|ms|s)`)
	noDM := func(n int) {
		t.Helper()
		if got := e.countTold("olga", "review-hook"); got != n {
			t.Fatalf("olga got %d messages about review-hook; want %d", got, n)
		}
	}

	// In place: "running…" at once, then the outcome, in the same modal.
	page := open()
	pick(page.ID)
	v := waitTopView(t, ctx, e.fake, olga, views.CallbackReviewItems, "*review-hook*: delivered")
	if v.ID != page.ID || !outcome.Match(v.JSON) {
		t.Fatalf("modal %s (opened %s) lacks the outcome with status and duration:\n%s", v.ID, page.ID, v.JSON)
	}
	if updates(page.ID, "*review-hook*: running…") != 1 || updates(page.ID, "*review-hook*: delivered") != 1 {
		t.Fatalf("views.update calls: want one with running… then one with the outcome; got %d and %d",
			updates(page.ID, "running…"), updates(page.ID, "delivered"))
	}
	// The modal is still the review page: its inputs, menu and metadata.
	for _, want := range []string{views.BlockReviewDecision + "." + item.ID, views.ActionPlaybookRun, views.ReviewMeta(res.Campaign.ID, 0)} {
		if !strings.Contains(string(v.JSON), want) {
			t.Fatalf("the redrawn modal lost %q:\n%s", want, v.JSON)
		}
	}
	_, ev := e.delivered(1)
	if ev.Type != "review.manual" || ev.ObjectID != item.ID || ev.Trigger.ActorID != e.users["olga"].ID {
		t.Fatalf("manual review event %+v", ev)
	}
	time.Sleep(200 * time.Millisecond) // a DM would have come by now
	noDM(0)

	// A playbook disabled since the menu was drawn: "not run", in place.
	e.pb["review-hook"].Active = false
	must(t, e.st.UpdatePlaybook(ctx, e.pb["review-hook"]))
	pick(page.ID)
	waitTopView(t, ctx, e.fake, olga, views.CallbackReviewItems, "*review-hook*: not run. It was disabled")
	e.pb["review-hook"].Active = true
	must(t, e.st.UpdatePlaybook(ctx, e.pb["review-hook"]))
	noDM(0)

	// Closed while the run runs: views.update answers not_found; a DM.
	e.recv.InjectFaults(webhookfake.Fault{Delay: time.Second})
	pick(page.ID)
	waitTopView(t, ctx, e.fake, olga, views.CallbackReviewItems, "*review-hook*: running…")
	e.fake.CloseViews(olga)
	dm := e.told("olga", "Playbook review-hook delivered · HTTP 200")
	if dm.Channel != slackfake.DMChannel(olga) {
		t.Fatalf("fallback outcome in %s; want olga's DM", dm.Channel)
	}
	if _, err := e.fake.WaitForCall(ctx, "views.update", func(c slackfake.Call) bool {
		return c.Error == "not_found" && strings.Contains(string(c.JSON), page.ID)
	}); err != nil {
		t.Fatalf("no refused views.update of the closed modal: %v", err)
	}

	// Changed while the run runs (the page submitted, empty): Slack
	// answers hash_conflict and the outcome is not drawn over the new
	// view; a DM.
	again := open()
	e.recv.InjectFaults(webhookfake.Fault{Delay: time.Second})
	pick(again.ID)
	waitTopView(t, ctx, e.fake, olga, views.CallbackReviewItems, "*review-hook*: running…")
	sub, err := e.fake.SubmitView("T1", olga, again.ID, nil)
	must(t, err)
	if _, err := e.fake.AwaitAck(ctx, e.fake.SendInteractive(sub)); err != nil {
		t.Fatal(err)
	}
	waitTopView(t, ctx, e.fake, olga, views.CallbackReviewItems, "Nothing chosen on that page.")
	if err := e.fake.WaitFor(ctx, func() bool { return e.countTold("olga", "Playbook review-hook delivered · HTTP 200") == 2 }); err != nil {
		t.Fatal("the outcome of the run whose modal changed was not sent by DM")
	}
	if _, err := e.fake.WaitForCall(ctx, "views.update", func(c slackfake.Call) bool {
		return c.Error == "hash_conflict" && strings.Contains(string(c.JSON), again.ID)
	}); err != nil {
		t.Fatalf("no refused views.update of the changed modal: %v", err)
	}
	if v, _ := e.fake.ViewByID(again.ID); strings.Contains(string(v.JSON), "*review-hook*: delivered") {
		t.Fatalf("the outcome was drawn over the submitted page:\n%s", v.JSON)
	}
	if n := len(e.recv.Deliveries()); n != 3 {
		t.Fatalf("%d deliveries; want 3 (the disabled playbook ran nothing)", n)
	}
}
