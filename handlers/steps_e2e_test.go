package handlers_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store/storetest"
)

// TestE2EFlowStepsInSlack runs a chain of manual, slack_approval and
// slack_notification (to a user and a channel) steps through the engine, with the Slack buttons
// answering: a non-owner's Done and a non-approver's Approve are refused
// on the server, the owner's Done updates both owners' copies to say who
// did it, a Deny asks for a reason in a modal, and a retried step posts
// nothing twice.
func TestE2EFlowStepsInSlack(t *testing.T) {
	t.Parallel()
	driver := storetest.Drivers(t)[0]
	fake := slackfake.New(slackfake.WithPingInterval(200*time.Millisecond), slackfake.WithTriggerTTL(0))
	t.Cleanup(fake.Close)
	team := fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme"})
	st := storetest.Open(t, driver)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second) // generous: CI machines are shared
	t.Cleanup(cancel)
	ten := &accessbot.Tenant{Slug: "acme", Name: "Acme"}
	rqMust(t, st.CreateTenant(ctx, ten))
	users := map[string]*accessbot.User{}
	for _, n := range []string{"ada", "owen", "olga", "mona", "rita", "dave"} {
		role := accessbot.RoleMember
		if n == "ada" {
			role = accessbot.RoleAdmin
		}
		u := &accessbot.User{TenantID: ten.ID, Email: n + "@acme.test", Name: strings.ToUpper(n[:1]) + n[1:], Status: accessbot.UserActive, Role: role}
		rqMust(t, st.CreateUser(ctx, u))
		users[n] = u
		if _, err := fake.AddUser(slackfake.User{ID: slackID(n), TeamID: "T1", Name: n, RealName: u.Name, Email: u.Email}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bot.BindSingleWorkspace(ctx, st, secrets.Secret(team.BotToken), "acme", slackapi.Options{APIURL: fake.URL(), Guard: slackapi.Strict{}}); err != nil {
		t.Fatal(err)
	}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)

	eng := provision.New(provision.Config{Store: st, StepAttempts: 3, Backoff: func(int) time.Duration { return 10 * time.Millisecond }, Log: log})
	var app *bot.App
	notifier := handlers.NewNotifier(handlers.NotifierConfig{Store: st, Log: log,
		Clients: handlers.ChatClientsFunc(func(ctx context.Context, teamID string) (handlers.ChatAPI, error) {
			return app.Clients.For(ctx, teamID)
		})})
	steps := handlers.NewSteps(notifier, st, eng, log)
	eng.Register(provision.KindManual, notifier.Fulfilment()) // as run wires it
	eng.Register(provision.KindSlack, steps)
	workers := river.NewWorkers()
	eng.AddWorkers(workers)
	q, err := jobs.New(jobs.Config{Driver: driver, DB: st.(interface{ DB() *sql.DB }).DB(), Workers: workers, PollInterval: 20 * time.Millisecond, Log: log})
	rqMust(t, err)
	eng.SetQueue(q)
	app, err = bot.NewApp(bot.AppConfig{
		Store: st, AppToken: secrets.Secret(fake.AppToken()), BotToken: secrets.Secret(team.BotToken),
		APIURL: fake.URL(), Connections: 1, PingInterval: 5 * time.Second, Pacing: &slackapi.Pacing{}, Guard: slackapi.Strict{}, Log: log,
		Register: func(r *bot.Router, id bot.Resolver) error {
			return handlers.Register(r, handlers.Deps{Identity: id, Steps: steps})
		},
	})
	rqMust(t, err)
	runApp(t, ctx, fake, app)
	rqMust(t, q.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = q.Stop(sctx)
	})

	chain := accessbot.ActionChain{Provision: []accessbot.ActionScript{
		{Type: "manual"},
		{Type: "slack_approval", Params: map[string]string{"approver": "mona@acme.test", "text": "Confirm {{.Target.Name}} may keep {{.Connection.Name}}"}},
		{Type: "slack_notification", Params: map[string]string{"to": "{{.Target.Email}}, C0ACCESS", "text": "You now have {{.Connection.Name}} in {{.Application.Name}}"}},
	}}
	gl := &accessbot.Application{TenantID: ten.ID, Name: "GitLab", Connector: "manual", PrimaryOwnerID: users["owen"].ID, SecondaryOwnerID: users["olga"].ID,
		Provisioning: map[string]accessbot.ActionChain{"group": chain}}
	rqMust(t, st.CreateApplication(ctx, gl))
	conn := &accessbot.Connection{TenantID: ten.ID, AppID: gl.ID, Name: "Maintainers", Type: "group"}
	rqMust(t, st.CreateConnection(ctx, conn))
	now := time.Now().UTC()
	req := &accessbot.AccessRequest{TenantID: ten.ID, Kind: accessbot.RequestUserAccess, RequesterID: users["rita"].ID, TargetUserID: users["rita"].ID,
		AppID: gl.ID, ConnectionID: conn.ID, Justification: "deploys", Status: accessbot.StatusApproved, DecidedAt: &now,
		Levels: []accessbot.ApprovalLevel{{Approvers: []accessbot.Approver{{Kind: accessbot.ApproverOwners}}, Rule: accessbot.RuleAny}}}
	rqMust(t, st.CreateRequest(ctx, req))
	rqMust(t, eng.Provision(ctx, req))

	e := &rqEnv{t: t, ctx: ctx, fake: fake, st: st, team: team}
	stepDM := func(user, actionID string) slackfake.Message {
		t.Helper()
		m, err := fake.WaitForMessage(ctx, slackfake.DMChannel(user), func(m slackfake.Message) bool { return strings.Contains(string(m.Blocks), actionID) })
		if err != nil {
			t.Fatalf("no step message with %s to %s", actionID, user)
		}
		return m
	}
	click := func(user string, m slackfake.Message, actionID string) {
		value := ""
		for _, part := range strings.Split(string(m.Blocks), `"value":"`)[1:] {
			value = part[:strings.Index(part, `"`)]
			break
		}
		fake.SendInteractive(fake.BlockActionOnMessage(team.ID, user, m.Channel, m.TS, slackfake.Action{ActionID: actionID, BlockID: views.BlockStepActions, Value: value}))
	}

	owen, olga := stepDM(slackID("owen"), views.ActionStepDone), stepDM(slackID("olga"), views.ActionStepDone)
	if !strings.Contains(owen.Text, "Please grant Maintainers in GitLab to Rita") {
		t.Fatalf("owner's DM: %q", owen.Text)
	}
	click(slackID("dave"), owen, views.ActionStepDone)
	e.ephemeral(slackID("dave"), "You may not answer this step")
	click(slackID("owen"), owen, views.ActionStepDone)
	// Both copies say who did it, and keep the request card they asked with.
	for _, m := range []slackfake.Message{owen, olga} {
		cur := e.waitUpdated(m, "Done by Owen")
		if !strings.Contains(cur.Text, "Please grant Maintainers in GitLab to Rita") || !strings.Contains(string(cur.Blocks), "deploys") ||
			strings.Contains(string(cur.Blocks), views.ActionStepDone) {
			t.Fatalf("answered owner's copy lost its words or kept its buttons: %q %s", cur.Text, cur.Blocks)
		}
	}
	click(slackID("olga"), olga, views.ActionStepDone)
	e.ephemeral(slackID("olga"), "already answered")

	mona := stepDM(slackID("mona"), views.ActionStepApprove)
	if !strings.Contains(mona.Text, "Confirm Rita may keep Maintainers") {
		t.Fatalf("approver's DM: %q", mona.Text)
	}
	click(slackID("rita"), mona, views.ActionStepApprove)
	e.ephemeral(slackID("rita"), "You may not answer this step")
	click(slackID("mona"), mona, views.ActionStepApprove)
	e.waitUpdated(mona, "Approved by Mona")

	e.dm(slackID("rita"), "You now have Maintainers in GitLab")
	// ...and the channel it names (a user and a channel in one step).
	if _, err := fake.WaitForMessage(ctx, "C0ACCESS", func(m slackfake.Message) bool {
		return strings.Contains(m.Text, "You now have Maintainers in GitLab")
	}); err != nil {
		t.Fatalf("no notification in channel C0ACCESS: %v", err)
	}
	key := provision.FlowKey(provision.Provision, req.ID)
	var fl *accessbot.ActionFlow
	rqMust(t, fake.WaitFor(ctx, func() bool {
		fl, err = st.GetActionFlowByKey(ctx, ten.ID, key)
		return err == nil && fl.Status == accessbot.FlowDone
	}))
	if fl.Steps[0].AnsweredBy != users["owen"].ID || fl.Steps[1].AnsweredBy != users["mona"].ID || fl.Steps[2].Note != "told Rita, <#C0ACCESS>" {
		t.Fatalf("steps %+v", fl.Steps)
	}

	// Can't do it: a reason is required (inline error), then the step and
	// the flow fail with it, and the owners' messages say who and why.
	req2 := *req
	req2.ID, req2.Status = "", accessbot.StatusApproved
	gl2 := &accessbot.Application{TenantID: ten.ID, Name: "Wiki", Connector: "manual", PrimaryOwnerID: users["owen"].ID,
		Provisioning: map[string]accessbot.ActionChain{"group": {Provision: []accessbot.ActionScript{{Type: "manual",
			Params: map[string]string{"title": "LDAP by hand", "text": "Add {{.Target.Email}} to the {{.Connection.Name}} LDAP group"}}}}}}
	rqMust(t, st.CreateApplication(ctx, gl2))
	conn2 := &accessbot.Connection{TenantID: ten.ID, AppID: gl2.ID, Name: "Editors", Type: "group"}
	rqMust(t, st.CreateConnection(ctx, conn2))
	req2.AppID, req2.ConnectionID = gl2.ID, conn2.ID
	rqMust(t, st.CreateRequest(ctx, &req2))
	rqMust(t, eng.Provision(ctx, &req2))
	m2, err := fake.WaitForMessage(ctx, slackfake.DMChannel(slackID("owen")), func(m slackfake.Message) bool {
		return strings.Contains(m.Text, "Add rita@acme.test to the Editors LDAP group") && strings.Contains(string(m.Blocks), views.ActionStepCant)
	})
	rqMust(t, err)
	click(slackID("owen"), m2, views.ActionStepCant)
	e.topView(slackID("owen"), views.CallbackStepReason)
	if ra := e.submit(slackID("owen"), map[string]map[string]slackfake.StateValue{views.BlockStepReason: {views.ActionStepReason: slackfake.PlainTextValue(" ")}}); ra.Errors[views.BlockStepReason] == "" {
		t.Fatalf("empty reason accepted: %+v", ra)
	}
	e.submit(slackID("owen"), map[string]map[string]slackfake.StateValue{views.BlockStepReason: {views.ActionStepReason: slackfake.PlainTextValue("no seats left")}})
	// The update keeps the step's own title and text (not generic words).
	if cur := e.waitUpdated(m2, "Owen could not do it. Reason: no seats left"); !strings.Contains(cur.Text, "Add rita@acme.test to the Editors LDAP group") ||
		!strings.Contains(string(cur.Blocks), "LDAP by hand") {
		t.Fatalf("answered step message lost its words: %q %s", cur.Text, cur.Blocks)
	}
	rqMust(t, fake.WaitFor(ctx, func() bool {
		f2, err := st.GetActionFlowByKey(ctx, ten.ID, provision.FlowKey(provision.Provision, req2.ID))
		return err == nil && f2.Status == accessbot.FlowFailed && f2.Steps[0].LastError == "no seats left"
	}))

	// A retried notification step (its job's answer lost) posts nothing twice.
	before := len(fake.Messages(slackfake.DMChannel(slackID("rita"))))
	k, _, op, _ := provision.ParseType("slack_notification")
	_, err = steps.Run(ctx, provision.Step{TenantID: ten.ID, FlowID: fl.ID, Index: 2, Type: "slack_notification", Kind: k, Op: op,
		Params: map[string]string{"to": "rita@acme.test", "text": "You now have Maintainers in GitLab"}, Key: fl.ID + ":2"})
	rqMust(t, err)
	if after := len(fake.Messages(slackfake.DMChannel(slackID("rita")))); after != before {
		t.Fatalf("retried step posted again: %d → %d messages", before, after)
	}
}
