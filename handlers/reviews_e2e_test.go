package handlers_test

// End-to-end tests of access reviews: the real bot and reviews.Service
// against bot/slackfake and a real store.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/reviews"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

// rvEnv: tenant acme with ada (admin), mia (manager of bob and cat), olga
// (owner of GitLab). GitLab: bob holds admins (privileged) and devs, cat
// holds admins; plus n extra accounts w0..w(n-1) of walt (mia's report).
type rvEnv struct {
	t      *testing.T
	ctx    context.Context
	fake   *slackfake.Server
	st     store.Store
	svc    *reviews.Service
	team   slackfake.Team
	tenant *accessbot.Tenant
	users  map[string]*accessbot.User
	gitlab *accessbot.Application
}

var rvNow = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func rvSlack(name string) string { return "U" + strings.ToUpper(name) }

func startReviews(t *testing.T, driver string, extra int) *rvEnv {
	t.Helper()
	fake := slackfake.New(slackfake.WithPingInterval(200*time.Millisecond), slackfake.WithTriggerTTL(0))
	t.Cleanup(fake.Close)
	team := fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme"})
	st := storetest.Open(t, driver)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	e := &rvEnv{t: t, ctx: ctx, fake: fake, st: st, team: team, users: map[string]*accessbot.User{}}
	e.tenant = &accessbot.Tenant{Slug: "acme", Name: "Acme Corp"}
	must(t, st.CreateTenant(ctx, e.tenant))
	for _, u := range []struct{ name, manager string }{{"ada", ""}, {"mia", ""}, {"bob", "mia"}, {"cat", "mia"}, {"walt", "mia"}, {"olga", ""}, {"xavi", ""}} {
		user := &accessbot.User{TenantID: e.tenant.ID, Email: u.name + "@acme.test", Name: strings.ToUpper(u.name[:1]) + u.name[1:],
			Status: accessbot.UserActive, Role: accessbot.RoleMember}
		if u.name == "ada" {
			user.Role = accessbot.RoleAdmin
		}
		if u.manager != "" {
			user.ManagerID = e.users[u.manager].ID
		}
		must(t, st.CreateUser(ctx, user))
		e.users[u.name] = user
		if _, err := fake.AddUser(slackfake.User{ID: rvSlack(u.name), TeamID: "T1", Name: u.name, RealName: user.Name, Email: user.Email}); err != nil {
			t.Fatal(err)
		}
	}
	e.gitlab = &accessbot.Application{TenantID: e.tenant.ID, Name: "GitLab", Connector: "manual", PrimaryOwnerID: e.users["olga"].ID}
	must(t, st.CreateApplication(ctx, e.gitlab))
	ids := []accessbot.Identity{{ExternalID: "bob", Email: "bob@acme.test", Status: accessbot.IdentityActive},
		{ExternalID: "cat", Email: "cat@acme.test", Status: accessbot.IdentityActive}}
	rels := []accessbot.RelationKey{{IdentityExternalID: "bob", EntitlementExternalID: "admins"},
		{IdentityExternalID: "bob", EntitlementExternalID: "devs"}, {IdentityExternalID: "cat", EntitlementExternalID: "admins"}}
	var maps []string
	for i := range extra {
		ext := fmt.Sprintf("w%03d", i)
		ids = append(ids, accessbot.Identity{ExternalID: ext, DisplayName: "walt " + ext, Status: accessbot.IdentityActive})
		rels = append(rels, accessbot.RelationKey{IdentityExternalID: ext, EntitlementExternalID: "devs"})
		maps = append(maps, ext)
	}
	must(t, st.InTx(ctx, func(q store.Queries) error {
		if _, err := q.ReplaceIdentities(ctx, e.tenant.ID, e.gitlab.ID, ids, accessbot.SnapshotKeep{}, rvNow); err != nil {
			return err
		}
		if _, err := q.ReplaceAppEntitlements(ctx, e.tenant.ID, e.gitlab.ID, []accessbot.AppEntitlement{
			{ExternalID: "admins", Name: "admins", Labels: []string{accessbot.LabelPrivileged}}, {ExternalID: "devs", Name: "devs"}}, accessbot.SnapshotKeep{}, rvNow); err != nil {
			return err
		}
		_, err := q.ReplaceRelations(ctx, e.tenant.ID, e.gitlab.ID, rels, accessbot.SnapshotKeep{}, rvNow)
		return err
	}))
	if len(maps) > 0 {
		all, err := st.ListIdentities(ctx, e.tenant.ID, e.gitlab.ID, false)
		must(t, err)
		var ms []accessbot.IdentityMapping
		for _, id := range all {
			if strings.HasPrefix(id.ExternalID, "w") {
				ms = append(ms, accessbot.IdentityMapping{TenantID: e.tenant.ID, IdentityID: id.ID, UserID: e.users["walt"].ID})
			}
		}
		_, err = st.ReplaceIdentityMappings(ctx, e.tenant.ID, nil, ms)
		must(t, err)
	}
	if _, err := bot.BindSingleWorkspace(ctx, st, secrets.Secret(team.BotToken), "acme",
		slackapi.Options{APIURL: fake.URL(), Guard: slackapi.Strict{}}); err != nil {
		t.Fatal(err)
	}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	clock := func() time.Time { return rvNow }
	var app *bot.App
	notifier := handlers.NewReviewNotifier(handlers.ReviewNotifierConfig{Store: st, Log: log,
		Clients: handlers.ChatClientsFunc(func(ctx context.Context, teamID string) (handlers.ChatAPI, error) {
			return app.Clients.For(ctx, teamID)
		})})
	e.svc = reviews.New(st, notifier, clock, reviews.DefaultPolicy(), log)
	app, err := bot.NewApp(bot.AppConfig{
		Store: st, AppToken: secrets.Secret(fake.AppToken()), BotToken: secrets.Secret(team.BotToken),
		APIURL: fake.URL(), Connections: 1, PingInterval: 5 * time.Second,
		Pacing: &slackapi.Pacing{}, Guard: slackapi.Strict{}, Log: log,
		Register: func(r *bot.Router, id bot.Resolver) error {
			return handlers.Register(r, handlers.Deps{Identity: id, Reviews: handlers.NewReviews(e.svc, st, clock, log), Reports: handlers.NewReports(st, clock, log), HomeVersions: st, Now: clock})
		},
	})
	must(t, err)
	runApp(t, ctx, fake, app)
	return e
}

type rvAck struct {
	Text           string            `json:"text"`
	ResponseAction string            `json:"response_action"`
	Errors         map[string]string `json:"errors"`
	View           json.RawMessage   `json:"view"`
}

func (e *rvEnv) ack(env string) rvAck {
	e.t.Helper()
	a, err := e.fake.AwaitAck(e.ctx, env)
	if err != nil {
		e.t.Fatalf("no ack for %s: %v", env, err)
	}
	var out rvAck
	if len(a.Payload) > 0 && string(a.Payload) != "null" {
		must(e.t, json.Unmarshal(a.Payload, &out))
	}
	return out
}

func (e *rvEnv) command(user, text string) rvAck {
	return e.ack(e.fake.SendSlashCommand(e.fake.SlashCommand(e.team.ID, rvSlack(user), text)))
}

// top waits until user's top modal has callbackID and contains every want.
func (e *rvEnv) top(user, callbackID string, want ...string) slackfake.View {
	e.t.Helper()
	return waitTopView(e.t, e.ctx, e.fake, rvSlack(user), callbackID, want...)
}

// dms lists the DMs to user whose text contains want, once any exist.
func (e *rvEnv) dms(user, want string) []slackfake.Message {
	e.t.Helper()
	if _, err := e.fake.WaitForMessage(e.ctx, slackfake.DMChannel(rvSlack(user)), func(m slackfake.Message) bool {
		return strings.Contains(m.Text, want)
	}); err != nil {
		e.t.Fatalf("no DM to %s containing %q", user, want)
	}
	var out []slackfake.Message
	for _, m := range e.fake.Messages(slackfake.DMChannel(rvSlack(user))) {
		if strings.Contains(m.Text, want) {
			out = append(out, m)
		}
	}
	return out
}

// replay submits an old copy of a view again (a stale tab, a forged
// payload): Slack would send whatever state the client holds.
func (e *rvEnv) replay(user string, v slackfake.View, values map[string]map[string]slackfake.StateValue) rvAck {
	e.t.Helper()
	obj := map[string]any{}
	must(e.t, json.Unmarshal(v.JSON, &obj))
	obj["state"] = map[string]any{"values": values}
	env, err := e.fake.Send(slackfake.TypeInteractive, map[string]any{
		"type": "view_submission", "team": map[string]any{"id": e.team.ID, "domain": "acme"},
		"user": map[string]any{"id": rvSlack(user), "username": user, "team_id": e.team.ID}, "api_app_id": e.fake.AppID(), "view": obj,
	})
	must(e.t, err)
	return e.ack(env)
}

func radio(v string) slackfake.StateValue {
	return slackfake.StateValue{"type": "radio_buttons", "selected_option": map[string]any{
		"text": map[string]any{"type": "plain_text", "text": v}, "value": v}}
}

// decisionValues builds review modal state: choice per item id, with a comment.
func decisionValues(choices map[string]accessbot.ReviewDecision) map[string]map[string]slackfake.StateValue {
	out := map[string]map[string]slackfake.StateValue{}
	for id, d := range choices {
		out[views.BlockReviewDecision+"."+id] = map[string]slackfake.StateValue{views.ActionReviewDecision: radio(string(d))}
		out[views.BlockReviewComment+"."+id] = map[string]slackfake.StateValue{views.ActionReviewComment: slackfake.PlainTextValue("checked")}
	}
	return out
}

func (e *rvEnv) pendingOf(user string) []accessbot.ReviewItem {
	e.t.Helper()
	items, err := e.svc.PendingItems(e.ctx, e.tenant.ID, e.users[user].ID, "")
	must(e.t, err)
	return items
}

func TestE2EReviewCampaign(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) { testE2EReviewCampaign(t, driver) })
	}
}

func testE2EReviewCampaign(t *testing.T, driver string) {
	e := startReviews(t, driver, 0)

	// Non-admins are refused; the admin gets the form.
	if a := e.command("mia", "review new"); !strings.Contains(a.Text, "Only accessbot admins") {
		t.Fatalf("member's /access review new answered %q", a.Text)
	}
	e.command("ada", "review new")
	e.top("ada", views.CallbackReviewNew, "GitLab")
	a := e.ack(e.fake.SendInteractive(e.fake.ViewSubmission(e.team.ID, rvSlack("ada"), "", map[string]map[string]slackfake.StateValue{
		views.BlockReviewNewName:   {views.ActionReviewNewName: slackfake.PlainTextValue("Q1 GitLab review")},
		views.BlockReviewNewApps:   {views.ActionReviewNewApps: {"type": "multi_static_select", "selected_options": []map[string]any{{"value": e.gitlab.ID, "text": map[string]any{"type": "plain_text", "text": "GitLab"}}}}},
		views.BlockReviewNewLevel1: {views.ActionReviewNewLevel1: slackfake.StaticSelectValue(string(accessbot.ReviewerManager), "m")},
		views.BlockReviewNewLevel2: {views.ActionReviewNewLevel2: slackfake.StaticSelectValue(string(accessbot.ReviewerAppOwner), "o")},
		views.BlockReviewNewDue:    {views.ActionReviewNewDue: slackfake.DateValue("2026-03-31")},
	})))
	if a.ResponseAction != "update" || !strings.Contains(string(a.View), "Launched: 3 items for 1 reviewers") {
		t.Fatalf("launch ack %+v %s", a, a.View)
	}

	// mia gets exactly one DM, with her counts and "Review now".
	dms := e.dms("mia", "Q1 GitLab review")
	if len(dms) != 1 || !strings.Contains(dms[0].Text, "3 items") || !strings.Contains(string(dms[0].Blocks), views.ActionReviewOpen) {
		t.Fatalf("mia's DMs %+v", dms)
	}
	camp := strings.Split(strings.Split(string(dms[0].Blocks), `"value":"`)[1], `"`)[0]

	// "Review now" opens the modal of her three items.
	e.fake.SendInteractive(e.fake.BlockActionOnMessage(e.team.ID, rvSlack("mia"), dms[0].Channel, dms[0].TS,
		slackfake.Action{ActionID: views.ActionReviewOpen, BlockID: views.BlockReviewDMActions, Value: camp}))
	page := e.top("mia", views.CallbackReviewItems, "3 items pending", "Keep all remaining")
	choices := map[string]accessbot.ReviewDecision{}
	for _, it := range e.pendingOf("mia") {
		choices[it.ID] = accessbot.DecisionKeep
		if it.Subject == "Cat" {
			choices[it.ID] = accessbot.DecisionRevoke
		}
	}
	a = e.ack(e.fake.SendInteractive(e.fake.ViewSubmission(e.team.ID, rvSlack("mia"), "", decisionValues(choices))))
	if a.ResponseAction != "update" || !strings.Contains(string(a.View), "Saved: 2 kept, 1 revoked") {
		t.Fatalf("mia's submission ack %+v %s", a, a.View)
	}

	// mia's DM no longer says she has items pending: it is rewritten in place.
	waitMessage(t, e, dms[0].Channel, dms[0].TS, "You have decided all your items in the access review *Q1 GitLab review*")

	// olga: one DM with the two kept items, one asking her to remove cat's admins.
	next := e.dms("olga", "2 items for you")
	if len(next) != 1 || !strings.Contains(string(next[0].Blocks), "previous reviewers kept 2 items") {
		t.Fatalf("olga's next-level DMs %+v", next)
	}
	rev := e.dms("olga", "1 entitlement to remove")
	if len(rev) != 1 || !strings.Contains(string(rev[0].Blocks), "Cat") {
		t.Fatalf("olga's revocation DMs %+v", rev)
	}

	// A replay of mia's submission and a forged one for olga's items are refused.
	a = e.replay("mia", page, decisionValues(choices))
	if !strings.Contains(string(a.View), "3 were already decided") {
		t.Fatalf("replayed submission ack %s", a.View)
	}
	olgas := map[string]accessbot.ReviewDecision{}
	for _, it := range e.pendingOf("olga") {
		olgas[it.ID] = accessbot.DecisionRevoke
	}
	a = e.replay("mia", page, decisionValues(olgas))
	if !strings.Contains(string(a.View), "2 are no longer yours to review") || len(e.pendingOf("olga")) != 2 {
		t.Fatalf("foreign submission ack %s; olga pending %d", a.View, len(e.pendingOf("olga")))
	}

	// olga sees her count on the App Home and in /access reviews.
	e.fake.SendEvent(e.fake.AppHomeOpened(e.team.ID, rvSlack("olga")))
	if err := e.fake.WaitFor(e.ctx, func() bool {
		v, ok := e.fake.HomeView(rvSlack("olga"))
		return ok && strings.Contains(string(v.JSON), "2 access review items to review")
	}); err != nil {
		t.Fatal("olga's App Home never showed her 2 pending review items")
	}
	if a := e.command("olga", "reviews"); !strings.Contains(a.Text, "You have 2 items to review") {
		t.Fatalf("/access reviews answered %q", a.Text)
	}

	// olga keeps everything that is left, after the confirmation.
	e.fake.SendInteractive(e.fake.BlockActionOnMessage(e.team.ID, rvSlack("olga"), next[0].Channel, next[0].TS,
		slackfake.Action{ActionID: views.ActionReviewOpen, BlockID: views.BlockReviewDMActions, Value: camp}))
	v := e.top("olga", views.CallbackReviewItems, "2 items pending")
	e.fake.SendInteractive(e.fake.BlockActionInView(e.team.ID, rvSlack("olga"), v.ID,
		slackfake.Action{ActionID: views.ActionReviewKeepAll, BlockID: views.BlockReviewNav, Value: camp}))
	e.top("olga", views.CallbackReviewDone, "Saved: 2 kept, 0 revoked")
	c, err := e.st.GetCampaign(e.ctx, e.tenant.ID, camp)
	must(t, err)
	if c.Status != accessbot.CampaignCompleted {
		t.Fatalf("campaign %s after every item was decided", c.Status)
	}
	waitMessage(t, e, next[0].Channel, next[0].TS, "You have decided all your items")
	if m, _ := e.fake.Message(next[0].Channel, next[0].TS); strings.Contains(string(m.Blocks), "Pending for you") || strings.Contains(string(m.Blocks), views.ActionReviewOpen) {
		t.Fatalf("olga's finished DM still offers a count or Review now: %s", m.Blocks)
	}
	if a := e.command("olga", "reviews"); !strings.Contains(a.Text, "no access reviews pending") {
		t.Fatalf("/access reviews after finishing: %q", a.Text)
	}
}

func TestE2EReviewPagesAndNomination(t *testing.T) {
	e := startReviews(t, "sqlite", 40) // walt's 40 accounts: 43 items for mia, 3 pages
	_, err := e.svc.Launch(e.ctx, reviews.LaunchInput{TenantID: e.tenant.ID, ActorID: e.users["ada"].ID, Name: "Big review",
		Scope: accessbot.ReviewScope{AppIDs: []string{e.gitlab.ID}}, Levels: []accessbot.ReviewerRule{accessbot.ReviewerManager}, DueAt: rvNow.Add(72 * time.Hour)})
	must(t, err)
	dms := e.dms("mia", "Big review")
	if len(dms) != 1 || !strings.Contains(dms[0].Text, "43 items") {
		t.Fatalf("mia's DMs %+v", dms)
	}
	camp := strings.Split(strings.Split(string(dms[0].Blocks), `"value":"`)[1], `"`)[0]
	e.fake.SendInteractive(e.fake.BlockActionOnMessage(e.team.ID, rvSlack("mia"), dms[0].Channel, dms[0].TS,
		slackfake.Action{ActionID: views.ActionReviewOpen, BlockID: views.BlockReviewDMActions, Value: camp}))
	v := e.top("mia", views.CallbackReviewItems, "page 1 of 3")
	e.fake.SendInteractive(e.fake.BlockActionInView(e.team.ID, rvSlack("mia"), v.ID,
		slackfake.Action{ActionID: views.ActionReviewNext, BlockID: views.BlockReviewNav, Value: "1"}))
	v = e.top("mia", views.CallbackReviewItems, "page 2 of 3", "◀ Previous")
	if n := len(e.fake.Calls("views.update")); n != 1 {
		t.Fatalf("views.update called %d times, want 1", n)
	}

	// Reassign one item to xavi, with a reason.
	if !strings.Contains(string(v.JSON), `"Reassign…"`) {
		t.Fatalf("the review modal has no Reassign button: %s", v.JSON)
	}
	item := e.pendingOf("mia")[0]
	e.fake.SendInteractive(e.fake.BlockActionInView(e.team.ID, rvSlack("mia"), v.ID,
		slackfake.Action{ActionID: views.ActionReviewNominate, BlockID: views.BlockReviewItem + "." + item.ID, Value: item.ID}))
	e.top("mia", views.CallbackReviewNominate, "Xavi", "Reassign this item", "Who should review it instead")
	a := e.ack(e.fake.SendInteractive(e.fake.ViewSubmission(e.team.ID, rvSlack("mia"), "", map[string]map[string]slackfake.StateValue{
		views.BlockReviewNominee: {views.ActionReviewNominee: slackfake.StaticSelectValue(e.users["xavi"].ID, "Xavi")},
	})))
	if a.Errors[views.BlockReviewNominateWhy] == "" {
		t.Fatalf("a nomination without a reason was not refused: %+v", a)
	}
	a = e.ack(e.fake.SendInteractive(e.fake.ViewSubmission(e.team.ID, rvSlack("mia"), "", map[string]map[string]slackfake.StateValue{
		views.BlockReviewNominee:     {views.ActionReviewNominee: slackfake.StaticSelectValue(e.users["xavi"].ID, "Xavi")},
		views.BlockReviewNominateWhy: {views.ActionReviewNominateWhy: slackfake.PlainTextValue("Xavi runs the build farm")},
	})))
	if a.ResponseAction != "update" || !strings.Contains(string(a.View), "Reassigned: ") {
		t.Fatalf("nomination ack %+v %s", a, a.View)
	}
	waitMessage(t, e, dms[0].Channel, dms[0].TS, "*Pending for you:* 42") // one item fewer for mia
	x := e.dms("xavi", "Big review")
	if len(x) != 1 || !strings.Contains(string(x[0].Blocks), "Xavi runs the build farm") || !strings.Contains(string(x[0].Blocks), "Mia reassigned 1 item to you") {
		t.Fatalf("xavi's DMs %+v", x)
	}
	audit, err := e.st.ListAudit(e.ctx, e.tenant.ID, item.ID)
	must(t, err)
	if len(audit) != 1 || audit[0].Action != reviews.ActionNominated || audit[0].ActorID != e.users["mia"].ID {
		t.Fatalf("nomination audit %+v", audit)
	}
}

// waitMessage waits until the message at channel/ts contains want (chat.update
// may land after the ack).
func waitMessage(t *testing.T, e *rvEnv, channel, ts, want string) {
	t.Helper()
	if err := e.fake.WaitFor(e.ctx, func() bool {
		m, ok := e.fake.Message(channel, ts)
		return ok && strings.Contains(string(m.Blocks), want)
	}); err != nil {
		m, _ := e.fake.Message(channel, ts)
		t.Fatalf("message %s/%s never said %q; it says %s", channel, ts, want, m.Blocks)
	}
}

// TestE2EReviewReminderAndEscalation: a tick after the due date and grace
// period sends the reviewer an overdue reminder and, since she has no
// manager, the admin an escalation; a second tick sends neither again.
func TestE2EReviewReminderAndEscalation(t *testing.T) {
	e := startReviews(t, "sqlite", 0)
	res, err := e.svc.Launch(e.ctx, reviews.LaunchInput{TenantID: e.tenant.ID, ActorID: e.users["ada"].ID, Name: "Late review",
		Scope: accessbot.ReviewScope{AppIDs: []string{e.gitlab.ID}}, Levels: []accessbot.ReviewerRule{accessbot.ReviewerManager}, DueAt: rvNow.Add(24 * time.Hour)})
	must(t, err)
	e.dms("mia", "Late review")
	late := res.Campaign.DueAt.Add(72 * time.Hour)
	for range 2 {
		_, err := e.svc.Tick(e.ctx, e.tenant.ID, late)
		must(t, err)
	}
	if r := e.dms("mia", "Reminder: access review"); len(r) != 1 || !strings.Contains(string(r[0].Blocks), "overdue") {
		t.Fatalf("mia's reminders %+v", r)
	}
	if esc := e.dms("ada", "is late: Mia has 3 items pending"); len(esc) != 1 {
		t.Fatalf("ada's escalations %+v", esc)
	}
}
