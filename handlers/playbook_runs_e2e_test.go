package handlers_test

// End-to-end tests of the "Run playbook" menus: the real bot (sockets,
// router, identity) against bot/slackfake, a real store and job queue, and
// a TLS playbook receiver (webhookfake) that verifies every signature.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/connectors/outbound"
	"github.com/accessbot/accessbot/connectors/webhook/webhookfake"
	"github.com/accessbot/accessbot/flows/digest"
	"github.com/accessbot/accessbot/flows/playbooks"
	"github.com/accessbot/accessbot/flows/reviews"
	"github.com/accessbot/accessbot/flows/schedule"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

const (
	pbToken   = secrets.Secret("tok-e2e-never-shown")
	pbSigning = secrets.Secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
)

type pbEnv struct {
	t      *testing.T
	ctx    context.Context
	fake   *slackfake.Server
	st     store.Store
	tenant *accessbot.Tenant
	users  map[string]*accessbot.User
	app    *accessbot.Application
	recv   *webhookfake.Server
	keys   *secrets.Keyring
	digest *handlers.Digest
	notify *handlers.Notifier
	rsvc   *reviews.Service
	pb     map[string]*accessbot.Playbook
	logs   *lockedBuffer // every log line, at debug
}

// startPlaybookMenus: ada (admin), olga (owner of GitLab), rita (requester,
// holds GitLab admins), owen (approver), cy (member with no part in
// anything); playbooks: GitLab's finding playbook gitlab-ticket, the global
// page-security, an inactive finding playbook, a request and a review
// playbook. Deliveries go to a TLS receiver checking token and signature.
func startPlaybookMenus(t *testing.T) *pbEnv {
	t.Helper()
	fake := slackfake.New(slackfake.WithPingInterval(200*time.Millisecond), slackfake.WithTriggerTTL(0))
	t.Cleanup(fake.Close)
	team := fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme"})
	st := storetest.Open(t, "sqlite")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second) // -race on a loaded machine
	t.Cleanup(cancel)
	e := &pbEnv{t: t, ctx: ctx, fake: fake, st: st, users: map[string]*accessbot.User{}, pb: map[string]*accessbot.Playbook{}}
	e.tenant = &accessbot.Tenant{Slug: "acme", Name: "Acme"}
	must(t, st.CreateTenant(ctx, e.tenant))
	for _, name := range []string{"ada", "olga", "rita", "owen", "cy"} {
		u := &accessbot.User{TenantID: e.tenant.ID, Email: name + "@acme.test", Name: name, Status: accessbot.UserActive, Role: accessbot.RoleMember}
		if name == "ada" {
			u.Role = accessbot.RoleAdmin
		}
		must(t, st.CreateUser(ctx, u))
		e.users[name] = u
		if _, err := fake.AddUser(slackfake.User{ID: rvSlack(name), TeamID: "T1", Name: name, RealName: name, Email: u.Email}); err != nil {
			t.Fatal(err)
		}
	}
	e.app = &accessbot.Application{TenantID: e.tenant.ID, Name: "GitLab", Connector: "manual", PrimaryOwnerID: e.users["olga"].ID}
	must(t, st.CreateApplication(ctx, e.app))
	must(t, st.InTx(ctx, func(q store.Queries) error {
		if _, err := q.ReplaceIdentities(ctx, e.tenant.ID, e.app.ID, []accessbot.Identity{{ExternalID: "rita", Email: "rita@acme.test", Status: accessbot.IdentityActive}},
			accessbot.SnapshotKeep{}, time.Now()); err != nil {
			return err
		}
		if _, err := q.ReplaceAppEntitlements(ctx, e.tenant.ID, e.app.ID, []accessbot.AppEntitlement{{ExternalID: "admins", Name: "admins"}},
			accessbot.SnapshotKeep{}, time.Now()); err != nil {
			return err
		}
		_, err := q.ReplaceRelations(ctx, e.tenant.ID, e.app.ID, []accessbot.RelationKey{{IdentityExternalID: "rita", EntitlementExternalID: "admins"}},
			accessbot.SnapshotKeep{}, time.Now())
		return err
	}))
	if _, err := bot.BindSingleWorkspace(ctx, st, secrets.Secret(team.BotToken), "acme", slackapi.Options{APIURL: fake.URL(), Guard: slackapi.Strict{}}); err != nil {
		t.Fatal(err)
	}

	// The playbook receiver and service, on a real job queue.
	recv, err := webhookfake.NewServer(webhookfake.Options{SigningSecrets: []secrets.Secret{pbSigning}, Bearer: pbToken}, true)
	must(t, err)
	t.Cleanup(recv.Close)
	e.recv = recv
	must(t, st.PutOutboundAllow(ctx, e.tenant.ID, []string{"127.0.0.1"}))
	e.keys, err = secrets.NewKeyring(secrets.Key{ID: "k1", Key: make([]byte, 32)})
	must(t, err)
	e.logs = &lockedBuffer{}
	log := zerolog.New(e.logs).Level(zerolog.DebugLevel)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", e.logs.String())
		}
	})
	roots := recv.HTTPServer().Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	svc := playbooks.New(playbooks.Config{Store: st, Keys: e.keys, HTTP: outbound.Options{RootCAs: roots, Timeout: 10 * time.Second},
		MaxAttempts: 2, RetryDelay: func(int) time.Duration { return 10 * time.Millisecond }, Log: log})
	workers := river.NewWorkers()
	svc.AddWorkers(workers)
	q, err := jobs.New(jobs.Config{Driver: "sqlite", DB: st.(interface{ DB() *sql.DB }).DB(), Workers: workers, PollInterval: 20 * time.Millisecond, Log: log})
	must(t, err)
	svc.SetEnqueuer(q)
	qctx, stopQ := context.WithCancel(context.Background())
	qdone := make(chan error, 1)
	go func() { qdone <- q.Run(qctx, 5*time.Second) }()
	t.Cleanup(func() { stopQ(); <-qdone })

	e.playbook("gitlab-ticket", accessbot.PlaybookFinding, e.app.ID, true)
	e.playbook("page-security", accessbot.PlaybookFinding, "", true)
	e.playbook("dormant", accessbot.PlaybookFinding, "", false)
	e.playbook("ticket-on-request", accessbot.PlaybookRequest, "", true)
	e.playbook("review-hook", accessbot.PlaybookReview, "", true)

	// The Slack side as run wires it.
	var app *bot.App
	clients := handlers.ChatClientsFunc(func(ctx context.Context, teamID string) (handlers.ChatAPI, error) {
		return app.Clients.For(ctx, teamID)
	})
	svc.SetReporter(handlers.NewPlaybookReporter(st, handlers.ReviewNotifierConfig{Clients: clients, Log: log}))
	menus := handlers.NewPlaybookMenus(svc, st, log)
	e.digest = handlers.NewDigest(handlers.DigestConfig{Store: st, Clients: clients, Playbooks: menus, TopItems: 1, Log: log})
	e.notify = handlers.NewNotifier(handlers.NotifierConfig{Store: st, Clients: clients, Log: log}).WithPlaybooks(menus)
	e.rsvc = reviews.New(st, nil, nil, reviews.DefaultPolicy(), log)
	app, err = bot.NewApp(bot.AppConfig{
		Store: st, AppToken: secrets.Secret(fake.AppToken()), BotToken: secrets.Secret(team.BotToken),
		APIURL: fake.URL(), Connections: 1, PingInterval: 5 * time.Second, Pacing: &slackapi.Pacing{}, Guard: slackapi.Strict{}, Log: log,
		Register: func(r *bot.Router, id bot.Resolver) error {
			must(t, handlers.Register(r, handlers.Deps{Identity: id, PlaybookMenus: menus, Playbooks: handlers.NewPlaybooks(st, e.keys, nil, log),
				Reviews: handlers.NewReviews(e.rsvc, st, nil, log).WithPlaybooks(menus)}))
			return handlers.RegisterDigest(r, e.digest)
		},
	})
	must(t, err)
	runApp(t, ctx, fake, app)
	return e
}

func (e *pbEnv) playbook(name string, typ accessbot.PlaybookType, appID string, active bool) {
	e.t.Helper()
	p := &accessbot.Playbook{TenantID: e.tenant.ID, Name: name, Type: typ, URL: e.recv.URL(), AppID: appID, Active: active}
	must(e.t, e.st.CreatePlaybook(e.ctx, p))
	p.TokenSecret, p.SigningSecret = playbooks.TokenSecretName(p.ID), playbooks.SigningSecretName(p.ID)
	must(e.t, playbooks.PutSecret(e.ctx, e.st, e.keys, e.tenant.ID, p.TokenSecret, pbToken))
	must(e.t, playbooks.PutSecret(e.ctx, e.st, e.keys, e.tenant.ID, p.SigningSecret, pbSigning))
	must(e.t, e.st.UpdatePlaybook(e.ctx, p))
	e.pb[name] = p
}

// choose picks playbook name in the "Run playbook" menu of blockID on the
// message (channel, ts), as user: the option must be on the message.
func (e *pbEnv) choose(user, channel, ts, blockID, value string) {
	e.t.Helper()
	a, err := e.fake.ChooseOnMessage(channel, ts, blockID, views.ActionPlaybookRun, value)
	must(e.t, err)
	if _, err := e.fake.AwaitAck(e.ctx, e.fake.SendInteractive(e.fake.MessageAction("T1", rvSlack(user), channel, ts, a))); err != nil {
		e.t.Fatal(err)
	}
}

// forge sends a menu choice that the message does not offer.
func (e *pbEnv) forge(user, channel, ts, blockID, value string) {
	e.t.Helper()
	a := slackfake.StaticSelectValue(value, "forged").AsAction(blockID, views.ActionPlaybookRun)
	if _, err := e.fake.AwaitAck(e.ctx, e.fake.SendInteractive(e.fake.MessageAction("T1", rvSlack(user), channel, ts, a))); err != nil {
		e.t.Fatal(err)
	}
}

// told waits for a message shown to user only (ephemeral, or in their DM)
// whose text contains want, and returns it.
func (e *pbEnv) told(user, want string) slackfake.Message {
	e.t.Helper()
	var got slackfake.Message
	if err := e.fake.WaitFor(e.ctx, func() bool {
		for _, m := range e.fake.AllMessages() {
			if ((m.Ephemeral && m.Recipient == rvSlack(user)) || m.Channel == slackfake.DMChannel(rvSlack(user))) && strings.Contains(m.Text, want) {
				got = m
				return true
			}
		}
		return false
	}); err != nil {
		e.t.Fatalf("%s was never told %q", user, want)
	}
	return got
}

// countTold counts the messages to user containing want.
func (e *pbEnv) countTold(user, want string) int {
	n := 0
	for _, m := range e.fake.AllMessages() {
		if ((m.Ephemeral && m.Recipient == rvSlack(user)) || m.Channel == slackfake.DMChannel(rvSlack(user))) && strings.Contains(m.Text, want) {
			n++
		}
	}
	return n
}

// delivered waits for the n-th delivery and returns its event.
func (e *pbEnv) delivered(n int) (webhookfake.Delivery, playbooks.Body) {
	e.t.Helper()
	if err := e.fake.WaitFor(e.ctx, func() bool { return len(e.recv.Deliveries()) >= n }); err != nil {
		e.t.Fatalf("%d deliveries; want %d", len(e.recv.Deliveries()), n)
	}
	d := e.recv.Deliveries()[n-1]
	var env struct {
		Data playbooks.Body `json:"data"`
	}
	must(e.t, json.Unmarshal(d.Body, &env))
	if d.Rejected != "" {
		e.t.Fatalf("the receiver rejected delivery %d: %s", n, d.Rejected)
	}
	return d, env.Data
}

// messageWith finds the message in channel whose blocks contain want.
func (e *pbEnv) messageWith(channel, want string) slackfake.Message {
	e.t.Helper()
	m, err := e.fake.WaitForMessage(e.ctx, channel, func(m slackfake.Message) bool { return !m.Ephemeral && strings.Contains(string(m.Blocks), want) })
	if err != nil {
		e.t.Fatalf("no message in %s with %q: %v", channel, want, err)
	}
	return m
}

func TestRunPlaybookEndToEnd(t *testing.T) {
	e := startPlaybookMenus(t)
	ctx := e.ctx
	uniq := func(n int) {
		t.Helper()
		time.Sleep(300 * time.Millisecond) // nothing more may arrive
		if got := len(e.recv.Deliveries()); got != n {
			t.Fatalf("%d deliveries; want %d", got, n)
		}
	}

	// A critical finding about GitLab: its alert offers GitLab's finding
	// playbook first, then the global one; never the inactive one or
	// playbooks of other types.
	must(t, e.st.PutAlertSettings(ctx, &store.AlertSettings{TenantID: e.tenant.ID, Channels: []string{"C1"}, Since: time.Now().Add(-time.Hour)}))
	_, err := e.st.ReportFindings(ctx, e.tenant.ID, "terminated_active", []accessbot.FindingMatch{{Severity: accessbot.SeverityCritical,
		Subject: accessbot.Subject{Kind: accessbot.SubjectApplication, ID: e.app.ID, Display: "GitLab"}}}, time.Now())
	must(t, err)
	must(t, digest.New(e.st, e.digest, digest.Config{}).AlertCritical(ctx, time.Now()))
	alert := e.messageWith("C1", views.ActionPlaybookRun)
	blocks := string(alert.Blocks)
	if i, j := strings.Index(blocks, "gitlab-ticket"), strings.Index(blocks, "page-security"); i < 0 || j < i ||
		strings.Contains(blocks, "dormant") || strings.Contains(blocks, "ticket-on-request") {
		t.Fatalf("alert menu: want gitlab-ticket then page-security only:\n%s", blocks)
	}
	fs, err := e.st.ListFindings(ctx, e.tenant.ID, accessbot.FindingFilter{})
	must(t, err)
	f := fs[0]
	block := views.BlockDigestActionsPrefix + f.ID
	value := func(t accessbot.PlaybookType, obj, name string) string {
		return views.PlaybookRunValue(t, obj, e.pb[name].ID)
	}

	// cy is neither admin nor owner: refused, nothing sent.
	e.choose("cy", "C1", alert.TS, block, value(accessbot.PlaybookFinding, f.ID, "page-security"))
	e.told("cy", "Only tenant admins (or the owners")
	// olga owns GitLab: her run is queued, delivered, and she sees how it went.
	e.choose("olga", "C1", alert.TS, block, value(accessbot.PlaybookFinding, f.ID, "gitlab-ticket"))
	e.told("olga", "Running playbook *gitlab-ticket* on this finding")
	d, ev := e.delivered(1)
	if ev.Type != "finding.manual" || ev.Playbook.Name != "gitlab-ticket" || ev.Trigger.Kind != playbooks.TriggerManual ||
		ev.Trigger.ActorID != e.users["olga"].ID || ev.ObjectID != f.ID || ev.EventID != d.ID {
		t.Fatalf("manual finding event %+v", ev)
	}
	out := e.told("olga", "Playbook gitlab-ticket delivered · HTTP 200")
	if !out.Ephemeral || out.Channel != "C1" || strings.Contains(string(out.Blocks), pbToken.Reveal()) {
		t.Fatalf("outcome %+v; want an ephemeral in C1 without the token", out)
	}
	// A forged choice of the inactive playbook runs nothing.
	e.forge("ada", "C1", alert.TS, block, value(accessbot.PlaybookFinding, f.ID, "dormant"))
	e.told("ada", "Playbook dormant can no longer run on this finding")
	uniq(1)
	// Acknowledging the finding keeps its menu: the buttons become the
	// status line, the playbooks are still offered.
	if _, err := e.fake.AwaitAck(ctx, e.fake.SendInteractive(e.fake.BlockActionOnMessage("T1", rvSlack("ada"), "C1", alert.TS,
		slackfake.Action{ActionID: views.ActionFindingPrefix + "ack", BlockID: block, Value: f.ID}))); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fake.WaitForMessage(ctx, "C1", func(m slackfake.Message) bool {
		return m.TS == alert.TS && strings.Contains(string(m.Blocks), "Acknowledged by ada")
	}); err != nil {
		t.Fatalf("alert not updated: %v", err)
	}
	if _, err := e.fake.ChooseOnMessage("C1", alert.TS, views.BlockPlaybookRun+"."+f.ID, views.ActionPlaybookRun,
		value(accessbot.PlaybookFinding, f.ID, "page-security")); err != nil {
		t.Fatalf("the acknowledged alert lost its playbook menu: %v", err)
	}

	// The digest's thread items offer them in their menu; a finding about
	// an account is about the account's application.
	ids, err := e.st.ListIdentities(ctx, e.tenant.ID, e.app.ID, false)
	must(t, err)
	for _, rule := range []string{"orphan_account", "mfa_off"} { // one at the top, one in the thread
		_, err = e.st.ReportFindings(ctx, e.tenant.ID, rule, []accessbot.FindingMatch{{Severity: accessbot.SeverityHigh,
			Subject: accessbot.Subject{Kind: accessbot.SubjectIdentity, ID: ids[0].ID, Display: "rita"}}}, time.Now())
		must(t, err)
	}
	must(t, digest.New(e.st, e.digest, digest.Config{}).Run(ctx, schedule.Run{TenantID: e.tenant.ID, Job: digest.Job, Slot: time.Now()}))
	thread := e.messageWith("C1", views.ActionFindingMenu)
	var itemBlocks []struct {
		BlockID string `json:"block_id"`
	}
	must(t, json.Unmarshal(thread.Blocks, &itemBlocks))
	hf := accessbot.Finding{}
	for _, b := range itemBlocks {
		if id, ok := strings.CutPrefix(b.BlockID, views.BlockDigestItemPrefix); ok {
			hf.ID = id
		}
	}
	if hf.ID == "" {
		t.Fatalf("no item in the digest's thread: %s", thread.Blocks)
	}
	over, err := e.fake.ClickOverflow("T1", rvSlack("olga"), "C1", thread.TS, views.BlockDigestItemPrefix+hf.ID, views.ActionFindingMenu,
		views.ItemPlaybook+":"+hf.ID+":"+e.pb["gitlab-ticket"].ID)
	must(t, err)
	if _, err := e.fake.AwaitAck(ctx, e.fake.SendInteractive(over)); err != nil {
		t.Fatal(err)
	}
	_, ev = e.delivered(2)
	if ev.Type != "finding.manual" || ev.Playbook.Name != "gitlab-ticket" || ev.ObjectID != hf.ID || ev.Trigger.ActorID != e.users["olga"].ID {
		t.Fatalf("manual run from the thread: %+v", ev)
	}
	if err := e.fake.WaitFor(ctx, func() bool { return e.countTold("olga", "Playbook gitlab-ticket delivered") == 2 }); err != nil {
		t.Fatal("olga was not shown the thread run's outcome")
	}
	inThread := 0
	for _, m := range e.fake.AllMessages() {
		if m.Ephemeral && strings.Contains(m.Text, "gitlab-ticket delivered") && m.ThreadTS == thread.ThreadTS {
			inThread++
		}
	}
	if thread.ThreadTS == "" || inThread != 1 {
		t.Fatalf("%d outcomes in the digest's thread %q; want 1", inThread, thread.ThreadTS)
	}
	// Acknowledged from the thread, the item keeps only its "Run …" entries.
	ackPick, err := e.fake.ClickOverflow("T1", rvSlack("ada"), "C1", thread.TS, views.BlockDigestItemPrefix+hf.ID, views.ActionFindingMenu, "ack:"+hf.ID)
	must(t, err)
	if _, err := e.fake.AwaitAck(ctx, e.fake.SendInteractive(ackPick)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fake.WaitForMessage(ctx, "C1", func(m slackfake.Message) bool {
		return m.TS == thread.TS && strings.Contains(string(m.Blocks), "Acknowledged by ada")
	}); err != nil {
		t.Fatalf("thread item not updated: %v", err)
	}
	if _, err := e.fake.ChooseOnMessage("C1", thread.TS, views.BlockDigestItemPrefix+hf.ID, views.ActionFindingMenu,
		views.ItemPlaybook+":"+hf.ID+":"+e.pb["page-security"].ID); err != nil {
		t.Fatalf("the acknowledged thread item lost its Run entries: %v", err)
	}
	if _, err := e.fake.ChooseOnMessage("C1", thread.TS, views.BlockDigestItemPrefix+hf.ID, views.ActionFindingMenu, "ack:"+hf.ID); !errors.Is(err, slackfake.ErrNotOffered) {
		t.Fatalf("Acknowledge still offered after acknowledging: %v", err)
	}

	// A request: its requester's and its approver's messages offer the
	// request playbook; cy may not run it, owen may.
	conn := &accessbot.Connection{TenantID: e.tenant.ID, AppID: e.app.ID, Name: "maintainers", Type: "group"}
	must(t, e.st.CreateConnection(ctx, conn))
	req := &accessbot.AccessRequest{TenantID: e.tenant.ID, Kind: accessbot.RequestUserAccess, RequesterID: e.users["rita"].ID, AppID: e.app.ID,
		ConnectionID: conn.ID, Justification: "release", Status: accessbot.StatusPending,
		Levels: []accessbot.ApprovalLevel{{Approvers: []accessbot.Approver{{Kind: accessbot.ApproverUser, UserID: e.users["owen"].ID}}, Rule: accessbot.RuleAny}}}
	must(t, e.st.CreateRequest(ctx, req))
	must(t, e.notify.RequestCreated(ctx, req))
	must(t, e.notify.ApprovalNeeded(ctx, req, 0, []string{e.users["owen"].ID}))
	ritaDM, owenDM := slackfake.DMChannel(rvSlack("rita")), slackfake.DMChannel(rvSlack("owen"))
	mine := e.messageWith(ritaDM, views.ActionPlaybookRun)
	approval := e.messageWith(owenDM, views.ActionPlaybookRun)
	rblock := views.BlockPlaybookRun + "." + req.ID
	e.choose("cy", ritaDM, mine.TS, rblock, value(accessbot.PlaybookRequest, req.ID, "ticket-on-request"))
	e.told("cy", "Only the requester, the approvers and tenant admins")
	e.choose("owen", owenDM, approval.TS, rblock, value(accessbot.PlaybookRequest, req.ID, "ticket-on-request"))
	_, ev = e.delivered(3)
	if ev.Type != "request.manual" || ev.Trigger.ActorID != e.users["owen"].ID || ev.ObjectID != req.ID {
		t.Fatalf("manual request event %+v", ev)
	}
	e.told("owen", "Playbook ticket-on-request delivered · HTTP 200")

	// A run that fails: its runner sees the failure, the admins hear once.
	e.recv.InjectFaults(webhookfake.Fault{Status: 500}, webhookfake.Fault{Status: 500})
	e.choose("rita", ritaDM, mine.TS, rblock, value(accessbot.PlaybookRequest, req.ID, "ticket-on-request"))
	e.told("rita", "Playbook ticket-on-request failed · HTTP 500")
	e.told("ada", "Playbook ticket-on-request failed")
	time.Sleep(300 * time.Millisecond)
	if n := e.countTold("ada", "Playbook ticket-on-request failed"); n != 1 {
		t.Fatalf("admin told %d times of one failed run (two attempts); want once", n)
	}
	if n := e.countTold("rita", "Playbook ticket-on-request failed"); n != 1 {
		t.Fatalf("runner told %d times; want once", n)
	}

	// A review item: the modal offers the review playbook on each item;
	// its reviewer (GitLab's owner) runs it, cy may not.
	res, err := e.rsvc.Launch(ctx, reviews.LaunchInput{TenantID: e.tenant.ID, ActorID: e.users["ada"].ID, Name: "Q1",
		Scope: accessbot.ReviewScope{AppIDs: []string{e.app.ID}}, Levels: []accessbot.ReviewerRule{accessbot.ReviewerAppOwner}, DueAt: time.Now().Add(72 * time.Hour)})
	must(t, err)
	items, err := e.rsvc.PendingItems(ctx, e.tenant.ID, e.users["olga"].ID, res.Campaign.ID)
	must(t, err)
	if len(items) != 1 {
		t.Fatalf("%d items for olga", len(items))
	}
	e.fake.SendInteractive(e.fake.BlockAction("T1", rvSlack("olga"), slackfake.Action{ActionID: views.ActionReviewOpen, BlockID: views.BlockReviewDMActions, Value: res.Campaign.ID}))
	page := waitTopView(t, ctx, e.fake, rvSlack("olga"), views.CallbackReviewItems, "review-hook")
	iblock := views.BlockPlaybookRun + "." + items[0].ID
	pick := func(user string) {
		t.Helper()
		a := slackfake.StaticSelectValue(value(accessbot.PlaybookReview, items[0].ID, "review-hook"), "review-hook").AsAction(iblock, views.ActionPlaybookRun)
		if _, err := e.fake.AwaitAck(ctx, e.fake.SendInteractive(e.fake.ViewAction("T1", rvSlack(user), page.ID, nil, a))); err != nil {
			t.Fatal(err)
		}
	}
	pick("cy")
	e.told("cy", "Only the item's reviewer and tenant admins")
	pick("olga")
	_, ev = e.delivered(6) // 3 + the failed run's two attempts + this one
	if ev.Type != "review.manual" || ev.Trigger.ActorID != e.users["olga"].ID || ev.ObjectID != items[0].ID {
		t.Fatalf("manual review event %+v", ev)
	}
	// The outcome is shown in the modal itself (TestRunPlaybookInReviewModal).
	waitTopView(t, ctx, e.fake, rvSlack("olga"), views.CallbackReviewItems, "*review-hook*: delivered, HTTP 200 in ")
	uniq(6)

	// "/access playbooks" shows each playbook's last runs: both runs of
	// ticket-on-request, the failed one with its status and attempts.
	if _, err := e.fake.AwaitAck(ctx, e.fake.SendSlashCommand(e.fake.SlashCommand("T1", rvSlack("ada"), "playbooks"))); err != nil {
		t.Fatal(err)
	}
	list := waitTopView(t, ctx, e.fake, rvSlack("ada"), views.CallbackPlaybooks, "failed · HTTP 500", "2 attempts", "request.manual", "review.manual")
	if strings.Count(string(list.JSON), "delivered · HTTP 200") != 4 || strings.Contains(string(list.JSON), pbToken.Reveal()) {
		t.Fatalf("the list shows %d delivered runs; want 4 (two of gitlab-ticket, one of ticket-on-request, one of review-hook):\n%s",
			strings.Count(string(list.JSON), "delivered · HTTP 200"), list.JSON)
	}

	// Neither the token nor the signing key ever left for Slack or a log
	// line, through all of the above (a failed run included).
	key := strings.TrimPrefix(pbSigning.Reveal(), "whsec_")
	for _, c := range e.fake.Calls("") {
		for _, secret := range []string{pbToken.Reveal(), key} {
			if strings.Contains(c.Params.Encode(), secret) || strings.Contains(string(c.JSON), secret) {
				t.Fatalf("Slack call %s carries a playbook secret", c.Method)
			}
		}
	}
	for _, a := range e.fake.Acks() {
		if strings.Contains(string(a.Payload), pbToken.Reveal()) || strings.Contains(string(a.Payload), key) {
			t.Fatalf("an ack carries a playbook secret: %s", a.Payload)
		}
	}
	logs := e.logs.String()
	if strings.Contains(logs, pbToken.Reveal()) || strings.Contains(logs, key) {
		t.Fatal("a playbook secret is in the logs")
	}
	if !strings.Contains(logs, "playbook run finished") || !strings.Contains(logs, "webhook refused") {
		t.Fatalf("the logs lack the runs' lines: the grep above proves nothing:\n%s", logs)
	}

	// Each run is on record: who ran it, on what, how it ended.
	runs, err := e.st.ListPlaybookRuns(ctx, e.tenant.ID, e.pb["ticket-on-request"].ID, 10)
	must(t, err)
	if len(runs) != 2 {
		t.Fatalf("%d runs of ticket-on-request; want 2", len(runs))
	}
	for _, r := range runs {
		if r.Trigger != playbooks.TriggerManual || r.ObjectID != req.ID || (r.Status == accessbot.RunFailed) != (r.ActorID == e.users["rita"].ID) {
			t.Fatalf("run %+v", r)
		}
	}
}
