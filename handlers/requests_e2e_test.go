package handlers_test

// End-to-end tests of access requests and approvals: the real bot (sockets,
// dispatcher, router, identity, Web API clients, handlers, notifier) and the
// real requests.Service against bot/slackfake and a real store.

import (
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/grants"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

// rqClock is the controllable clock of the requests service.
type rqClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *rqClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *rqClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

var rqT0 = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)

// rqEnv is one running bot with tenant "acme":
//   - rita (member) reports to mona (manager); ada is the admin;
//   - GitLab (owners owen and olga, at most 7 days) has Maintainers and
//     Developers; its chain is manager, then owners (any one);
//   - Entra ID has connections Admins (role), Readers (group), Old (group),
//     a resource "lake" and a connection form with a required nickname; the
//     tenant default chain is ada.
type rqEnv struct {
	t      testing.TB
	ctx    context.Context
	fake   *slackfake.Server
	st     store.Store
	svc    *requests.Service
	clock  *rqClock
	team   slackfake.Team
	tenant *accessbot.Tenant
	users  map[string]*accessbot.User // by first name
	gitlab *accessbot.Application
	entra  *accessbot.Application
	conns  map[string]*accessbot.Connection // by name
	lake   *accessbot.Resource
	// grants ends grants through dep, a recording Deprovisioner; its
	// Extender wraps the manual fulfilment (grants_e2e_test.go).
	grants *grants.Service
	dep    *recDeprovisioner
}

// slackID is the fake Slack id of a tenant user: "U" + upper-cased first name.
func slackID(name string) string { return "U" + strings.ToUpper(name) }

func rqMust(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// rqProvisioner builds the provisioner of a test env from its store and
// notifier; the default is the notifier's Fulfilment.
type rqProvisioner func(st store.Store, n *handlers.Notifier) requests.Provisioner

func startRequests(t *testing.T, driver string, policy requests.Policy, prov ...rqProvisioner) *rqEnv {
	t.Helper()
	return startRequestsWith(t, driver, policy, rqOpts{prov: prov})
}

// rqOpts tunes startRequestsWith for fuzzing, which outlives 30 s and must
// not log through its *testing.F.
type rqOpts struct {
	timeout time.Duration // default 90 s
	log     io.Writer     // default the test's log, at info level
	prov    []rqProvisioner
	// deps adds handlers beside the requests' (purposes_e2e_test.go).
	deps func(e *rqEnv, d *handlers.Deps)
}

func startRequestsWith(t testing.TB, driver string, policy requests.Policy, o rqOpts) *rqEnv {
	t.Helper()
	if o.timeout == 0 {
		// A ceiling, not a wait: the action-chain test's steps run as River
		// jobs, which take a while on a loaded CI machine.
		o.timeout = 90 * time.Second
	}
	prov := o.prov
	fake := slackfake.New(slackfake.WithPingInterval(200*time.Millisecond), slackfake.WithTriggerTTL(0))
	t.Cleanup(fake.Close)
	team := fake.AddTeam(slackfake.Team{ID: "T1", Name: "Acme"})
	st := storetest.Open(t, driver)
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	t.Cleanup(cancel)
	e := &rqEnv{t: t, ctx: ctx, fake: fake, st: st, team: team, clock: &rqClock{now: rqT0},
		users: map[string]*accessbot.User{}, conns: map[string]*accessbot.Connection{}}
	e.tenant = &accessbot.Tenant{Slug: "acme", Name: "Acme Corp"}
	rqMust(t, st.CreateTenant(ctx, e.tenant))
	for _, u := range []struct {
		name, manager string
		role          accessbot.Role
	}{{"ada", "", accessbot.RoleAdmin}, {"mona", "", accessbot.RoleMember}, {"rita", "mona", accessbot.RoleMember},
		{"owen", "", accessbot.RoleMember}, {"olga", "", accessbot.RoleMember}, {"dave", "", accessbot.RoleMember}} {
		user := &accessbot.User{TenantID: e.tenant.ID, Email: u.name + "@acme.test", Name: strings.ToUpper(u.name[:1]) + u.name[1:],
			Status: accessbot.UserActive, Role: u.role}
		if u.manager != "" {
			user.ManagerID = e.users[u.manager].ID
		}
		rqMust(t, st.CreateUser(ctx, user))
		e.users[u.name] = user
		if _, err := fake.AddUser(slackfake.User{ID: slackID(u.name), TeamID: "T1", Name: u.name, RealName: user.Name, Email: user.Email}); err != nil {
			t.Fatal(err)
		}
	}
	e.gitlab = &accessbot.Application{TenantID: e.tenant.ID, Name: "GitLab", Connector: "gitlab",
		PrimaryOwnerID: e.users["owen"].ID, SecondaryOwnerID: e.users["olga"].ID, MaxDuration: 7 * 24 * time.Hour}
	rqMust(t, st.CreateApplication(ctx, e.gitlab))
	e.entra = &accessbot.Application{TenantID: e.tenant.ID, Name: "Entra ID", Connector: "azuread",
		ConnectionSchema: []accessbot.SchemaField{{Name: "nick", Label: "Mail nickname", Type: "text", Required: true},
			{Name: "vis", Label: "Visibility", Type: "select", Options: []string{"private", "public"}}}}
	rqMust(t, st.CreateApplication(ctx, e.entra))
	for _, c := range []struct {
		app        *accessbot.Application
		name, kind string
	}{{e.gitlab, "Maintainers", "group"}, {e.gitlab, "Developers", "group"},
		{e.entra, "Admins", "role"}, {e.entra, "Readers", "group"}, {e.entra, "Old", "group"}} {
		conn := &accessbot.Connection{TenantID: e.tenant.ID, AppID: c.app.ID, Name: c.name, Type: c.kind}
		rqMust(t, st.CreateConnection(ctx, conn))
		e.conns[c.name] = conn
	}
	e.lake = &accessbot.Resource{TenantID: e.tenant.ID, AppID: e.entra.ID, Name: "lake", Type: "storage"}
	rqMust(t, st.CreateResource(ctx, e.lake))
	rqMust(t, st.UpsertApprovalChain(ctx, &accessbot.ApprovalChain{TenantID: e.tenant.ID, Name: "gitlab", AppID: e.gitlab.ID,
		Levels: []accessbot.ApprovalLevel{
			{Approvers: []accessbot.Approver{{Kind: accessbot.ApproverManager}}, Rule: accessbot.RuleAny},
			{Approvers: []accessbot.Approver{{Kind: accessbot.ApproverOwners}}, Rule: accessbot.RuleAny},
		}}))
	rqMust(t, st.UpsertApprovalChain(ctx, &accessbot.ApprovalChain{TenantID: e.tenant.ID, Name: "default",
		Levels: []accessbot.ApprovalLevel{{Approvers: []accessbot.Approver{{Kind: accessbot.ApproverUser, UserID: e.users["ada"].ID}}}}}))
	if _, err := bot.BindSingleWorkspace(ctx, st, secrets.Secret(team.BotToken), "acme",
		slackapi.Options{APIURL: fake.URL(), Guard: slackapi.Strict{}}); err != nil {
		t.Fatal(err)
	}

	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	if o.log != nil {
		log = zerolog.New(o.log).Level(zerolog.InfoLevel)
	}
	// The notifier needs the App's clients, which exist once NewApp returns.
	var app *bot.App
	notifier := handlers.NewNotifier(handlers.NotifierConfig{Store: st, Log: log,
		Clients: handlers.ChatClientsFunc(func(ctx context.Context, teamID string) (handlers.ChatAPI, error) {
			return app.Clients.For(ctx, teamID)
		})})
	var p requests.Provisioner = notifier.Fulfilment()
	if len(prov) > 0 {
		p = prov[0](st, notifier)
	}
	e.dep = &recDeprovisioner{}
	gs, err := grants.New(grants.Config{Store: st, Deprovisioner: e.dep, Notifier: notifier, Clock: e.clock.Now, Log: log})
	rqMust(t, err)
	e.grants = gs
	e.svc = requests.New(st, notifier, gs.Extender(p), e.clock.Now, policy, log)
	app, err = bot.NewApp(bot.AppConfig{
		Store: st, AppToken: secrets.Secret(fake.AppToken()), BotToken: secrets.Secret(team.BotToken),
		APIURL: fake.URL(), Connections: 1, PingInterval: 5 * time.Second,
		Pacing: &slackapi.Pacing{}, Guard: slackapi.Strict{}, Log: log,
		Register: func(r *bot.Router, id bot.Resolver) error {
			deps := handlers.Deps{Identity: id, Requests: handlers.NewRequests(e.svc, st, log).WithClickedMessages(notifier).WithClock(e.clock.Now), HomeVersions: st, Now: e.clock.Now}
			if eng, ok := p.(*provision.Engine); ok {
				deps.Flows = handlers.NewFlows(eng, st)
			}
			if o.deps != nil {
				o.deps(e, &deps)
			}
			return handlers.Register(r, deps)
		},
	})
	rqMust(t, err)
	runApp(t, ctx, fake, app)
	return e
}

// ack waits for the ack of env and decodes its payload into v (if any).
func (e *rqEnv) ack(env string, v any) json.RawMessage {
	e.t.Helper()
	a, err := e.fake.AwaitAck(e.ctx, env)
	if err != nil {
		e.t.Fatalf("no ack for %s: %v", env, err)
	}
	if v != nil && len(a.Payload) > 0 {
		if err := json.Unmarshal(a.Payload, v); err != nil {
			e.t.Fatalf("ack payload %s: %v", a.Payload, err)
		}
	}
	return a.Payload
}

// responseAction is a view_submission ack.
type responseAction struct {
	ResponseAction string            `json:"response_action"`
	Errors         map[string]string `json:"errors"`
	View           struct {
		CallbackID      string          `json:"callback_id"`
		PrivateMetadata string          `json:"private_metadata"`
		Blocks          json.RawMessage `json:"blocks"`
	} `json:"view"`
}

// topView waits until user's top modal has callbackID (and contains want) and returns it.
func (e *rqEnv) topView(user, callbackID string, want ...string) slackfake.View {
	e.t.Helper()
	return waitTopView(e.t, e.ctx, e.fake, user, callbackID, want...)
}

// submit sends a view_submission of user's top view and returns the ack.
func (e *rqEnv) submit(user string, values map[string]map[string]slackfake.StateValue) responseAction {
	e.t.Helper()
	env := e.fake.SendInteractive(e.fake.ViewSubmission(e.team.ID, user, "", values))
	var ra responseAction
	e.ack(env, &ra)
	return ra
}

// suggest sends a block_suggestion for action in the user's top view and returns the option values.
func (e *rqEnv) suggest(user, viewID, blockID, actionID, query string) []string {
	e.t.Helper()
	v, _ := e.fake.ViewByID(viewID)
	env, err := e.fake.Send(slackfake.TypeInteractive, map[string]any{
		"type": "block_suggestion", "team": map[string]any{"id": e.team.ID, "domain": "acme"},
		"user":       map[string]any{"id": user, "username": user, "team_id": e.team.ID},
		"api_app_id": e.fake.AppID(), "action_id": actionID, "block_id": blockID, "value": query,
		"container": map[string]any{"type": "view", "view_id": viewID}, "view": v.JSON,
	})
	rqMust(e.t, err)
	var p struct {
		Options []struct {
			Value string `json:"value"`
		} `json:"options"`
	}
	e.ack(env, &p)
	var out []string
	for _, o := range p.Options {
		out = append(out, o.Value)
	}
	return out
}

func selectValue(value string) slackfake.StateValue { return slackfake.StaticSelectValue(value, value) }

func multiValue(values ...string) slackfake.StateValue {
	var opts []map[string]any
	for _, v := range values {
		opts = append(opts, map[string]any{"text": map[string]any{"type": "plain_text", "text": v}, "value": v})
	}
	return slackfake.StateValue{"type": "multi_static_select", "selected_options": opts}
}

// dm waits for a live message in user's DM whose text contains want.
func (e *rqEnv) dm(user, want string) slackfake.Message {
	e.t.Helper()
	m, err := e.fake.WaitForMessage(e.ctx, slackfake.DMChannel(user), func(m slackfake.Message) bool {
		return strings.Contains(m.Text, want)
	})
	if err != nil {
		var got []string
		for _, m := range e.fake.Messages(slackfake.DMChannel(user)) {
			got = append(got, m.Text)
		}
		e.t.Fatalf("no DM to %s containing %q; got %q", user, want, got)
	}
	return m
}

// noDM fails if user's DM holds a message containing text.
func (e *rqEnv) noDM(user, text string) {
	e.t.Helper()
	for _, m := range e.fake.AllMessages() {
		if m.Channel == slackfake.DMChannel(user) && strings.Contains(m.Text, text) {
			e.t.Fatalf("unexpected DM to %s: %q", user, m.Text)
		}
	}
}

// approvalDM waits for the approval message of request id in user's DM.
func (e *rqEnv) approvalDM(user, id string) slackfake.Message {
	e.t.Helper()
	m, err := e.fake.WaitForMessage(e.ctx, slackfake.DMChannel(user), func(m slackfake.Message) bool {
		return m.ThreadTS == "" && strings.Contains(string(m.Blocks), id) && strings.Contains(string(m.Blocks), views.BlockApprovalActions)
	})
	if err != nil {
		e.t.Fatalf("no approval DM for %s to %s", id, user)
	}
	return m
}

// actionsBlockID finds the block id of the Approve/Deny/Details buttons in a message.
func actionsBlockID(t testing.TB, m slackfake.Message) string {
	t.Helper()
	var blocks []struct {
		BlockID string `json:"block_id"`
	}
	rqMust(t, json.Unmarshal(m.Blocks, &blocks))
	for _, b := range blocks {
		if strings.HasPrefix(b.BlockID, views.BlockApprovalActions) {
			return b.BlockID
		}
	}
	t.Fatalf("message has no approval buttons: %s", m.Blocks)
	return ""
}

// click sends a button click by user on message m.
func (e *rqEnv) click(user string, m slackfake.Message, actionID, value string) string {
	return e.fake.SendInteractive(e.fake.BlockActionOnMessage(e.team.ID, user, m.Channel, m.TS,
		slackfake.Action{ActionID: actionID, BlockID: actionsBlockID(e.t, m), Value: value}))
}

// waitUpdated waits until message (channel, ts) contains want.
func (e *rqEnv) waitUpdated(m slackfake.Message, want string) slackfake.Message {
	e.t.Helper()
	var cur slackfake.Message
	err := e.fake.WaitFor(e.ctx, func() bool {
		cur, _ = e.fake.Message(m.Channel, m.TS)
		return cur.Edits > 0 && strings.Contains(cur.Text, want)
	})
	if err != nil {
		e.t.Fatalf("message %s/%s never updated to %q; now %q (%d edits)", m.Channel, m.TS, want, cur.Text, cur.Edits)
	}
	return cur
}

// runJobRetrying runs j until it is not refused for a notification another
// run is still sending (10 s at most), as a job queue's retry would.
func (e *rqEnv) runJobRetrying(j requests.Job) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := e.svc.RunJob(e.ctx, j)
		if err == nil {
			return
		}
		if !strings.Contains(err.Error(), "being sent by another run") || time.Now().After(deadline) {
			e.t.Fatalf("%s job: %v", j.Kind, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// thread waits for a reply in the thread of m containing want.
func (e *rqEnv) thread(m slackfake.Message, want string) {
	e.t.Helper()
	_, err := e.fake.WaitForMessage(e.ctx, m.Channel, func(r slackfake.Message) bool {
		return r.ThreadTS == m.TS && strings.Contains(r.Text, want)
	})
	if err != nil {
		var got []string
		for _, r := range e.fake.Messages(m.Channel) {
			if r.ThreadTS == m.TS {
				got = append(got, r.Text)
			}
		}
		e.t.Fatalf("no reply %q in thread %s; replies %q", want, m.TS, got)
	}
}

// ephemeral waits for an answer to user (response_url or ephemeral) containing want.
func (e *rqEnv) ephemeral(user, want string) {
	e.t.Helper()
	err := e.fake.WaitFor(e.ctx, func() bool {
		for _, m := range e.fake.AllMessages() {
			if (m.Recipient == user || m.Source == "response_url" && m.Channel == slackfake.DMChannel(user)) && strings.Contains(m.Text, want) {
				return true
			}
		}
		return false
	})
	if err != nil {
		e.t.Fatalf("no answer to %s containing %q", user, want)
	}
}

func (e *rqEnv) request(id string) *accessbot.AccessRequest {
	e.t.Helper()
	r, err := e.st.GetRequest(e.ctx, e.tenant.ID, id)
	rqMust(e.t, err)
	return r
}

func (e *rqEnv) decisions(id string) []accessbot.Decision {
	e.t.Helper()
	ds, err := e.st.ListDecisions(e.ctx, e.tenant.ID, id)
	rqMust(e.t, err)
	return ds
}

func (e *rqEnv) auditCount(id, action string) int {
	e.t.Helper()
	es, err := e.st.ListAudit(e.ctx, e.tenant.ID, id)
	rqMust(e.t, err)
	n := 0
	for _, a := range es {
		if a.Action == action {
			n++
		}
	}
	return n
}

// onlyRequest returns the one request user made.
func (e *rqEnv) onlyRequest(user string) *accessbot.AccessRequest {
	e.t.Helper()
	rs, err := e.st.ListRequestsByRequester(e.ctx, e.tenant.ID, e.users[user].ID, 0)
	rqMust(e.t, err)
	if len(rs) != 1 {
		e.t.Fatalf("%s has %d requests, want 1", user, len(rs))
	}
	return &rs[0]
}

// createAccess creates a GitLab Maintainers request for rita through the service.
func (e *rqEnv) createAccess(requester, conn string) *accessbot.AccessRequest {
	e.t.Helper()
	r, err := e.svc.Create(e.ctx, requests.UserAccess{TenantID: e.tenant.ID, RequesterID: e.users[requester].ID,
		AppID: e.gitlab.ID, ConnectionID: e.conns[conn].ID, Duration: 8 * time.Hour, Justification: "Release 4.2 needs merge rights."})
	rqMust(e.t, err)
	return r
}

func TestE2ERequestModalTwoLevels(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			e := startRequests(t, driver, requests.Policy{})
			rita := slackID("rita")

			// The modal: slash command → views.open.
			e.ack(e.fake.SendSlashCommand(e.fake.SlashCommand(e.team.ID, rita, "request")), nil)
			form := e.topView(rita, views.CallbackRequestForm, "Choose an application")

			// Type-ahead: block_suggestion answered from ListApplications.
			if got := e.suggest(rita, form.ID, views.BlockReqApp, views.ActionReqApp, "git"); !slices.Equal(got, []string{e.gitlab.ID}) {
				t.Fatalf("suggestions for \"git\" = %v, want only GitLab", got)
			}
			if got := e.suggest(rita, form.ID, views.BlockReqApp, views.ActionReqApp, ""); len(got) != 2 {
				t.Fatalf("suggestions for \"\" = %v, want both applications", got)
			}

			// Choosing the application updates the view with its entitlements.
			e.fake.SendInteractive(e.fake.BlockActionInView(e.team.ID, rita, form.ID, slackfake.Action{ActionID: views.ActionReqApp,
				BlockID: views.BlockReqApp, Type: "external_select", Value: e.gitlab.ID, Text: "GitLab"}))
			e.topView(rita, views.CallbackRequestForm, "Maintainers (group)", "GitLab allows at most 7 days")

			base := map[string]map[string]slackfake.StateValue{
				views.BlockReqApp:         {views.ActionReqApp: slackfake.ExternalSelectValue(e.gitlab.ID, "GitLab")},
				views.BlockReqEntitlement: {views.ActionReqEntitlement: selectValue(e.conns["Maintainers"].ID)},
				views.BlockReqDuration:    {views.ActionReqDuration: selectValue(views.DurationValue(8 * time.Hour))},
			}
			// An empty justification comes back inline, keyed by block_id.
			bad := map[string]map[string]slackfake.StateValue{views.BlockReqJustification: {views.ActionReqJustification: slackfake.PlainTextValue("  ")}}
			for k, v := range base {
				bad[k] = v
			}
			if ra := e.submit(rita, bad); ra.ResponseAction != "errors" || !strings.Contains(ra.Errors[views.BlockReqJustification], "Say why") {
				t.Fatalf("empty justification: %+v", ra)
			}
			// Permanent access is beyond GitLab's maximum.
			perm := map[string]map[string]slackfake.StateValue{views.BlockReqJustification: {views.ActionReqJustification: slackfake.PlainTextValue("Release 4.2 needs merge rights.")}}
			for k, v := range base {
				perm[k] = v
			}
			perm[views.BlockReqDuration] = map[string]slackfake.StateValue{views.ActionReqDuration: selectValue(views.DurationPermanent)}
			if ra := e.submit(rita, perm); ra.ResponseAction != "errors" || !strings.Contains(ra.Errors[views.BlockReqDuration], "time-bound") {
				t.Fatalf("permanent access: %+v", ra)
			}

			good := perm
			good[views.BlockReqDuration] = map[string]slackfake.StateValue{views.ActionReqDuration: selectValue(views.DurationValue(8 * time.Hour))}
			ra := e.submit(rita, good)
			if ra.ResponseAction != "update" || ra.View.CallbackID != views.CallbackRequestPreview {
				t.Fatalf("form submit: %+v, want an update to the preview", ra)
			}
			for _, want := range []string{"Maintainers", "GitLab", "8 hours", "1 of 2", "Mona", "Owen, Olga (any one)", "Release 4.2"} {
				if !strings.Contains(string(ra.View.Blocks), want) {
					t.Fatalf("preview lacks %q: %s", want, ra.View.Blocks)
				}
			}
			if strings.Contains(ra.View.PrivateMetadata, "Mona") || len(ra.View.PrivateMetadata) > 3000 {
				t.Fatalf("private_metadata should carry only ids and values: %s", ra.View.PrivateMetadata)
			}
			e.topView(rita, views.CallbackRequestPreview)

			// Create request.
			if ra := e.submit(rita, nil); ra.ResponseAction != "update" || ra.View.CallbackID != views.CallbackRequestDone {
				t.Fatalf("preview submit: %+v, want the done view", ra)
			}
			r := e.onlyRequest("rita")
			if r.Status != accessbot.StatusPending || r.Duration != 8*time.Hour || len(r.Levels) != 2 || r.ConnectionID != e.conns["Maintainers"].ID {
				t.Fatalf("stored request %+v", r)
			}
			confirm := e.dm(rita, "Your request for Maintainers in GitLab")

			// A duplicate open request is refused, pointing to the existing one.
			e.ack(e.fake.SendSlashCommand(e.fake.SlashCommand(e.team.ID, rita, "request")), nil)
			form = e.topView(rita, views.CallbackRequestForm)
			e.fake.SendInteractive(e.fake.BlockActionInView(e.team.ID, rita, form.ID, slackfake.Action{ActionID: views.ActionReqApp,
				BlockID: views.BlockReqApp, Type: "external_select", Value: e.gitlab.ID, Text: "GitLab"}))
			e.topView(rita, views.CallbackRequestForm, "Maintainers (group)")
			if ra := e.submit(rita, good); ra.ResponseAction != "errors" || !strings.Contains(ra.Errors[views.BlockReqEntitlement], r.ID) {
				t.Fatalf("duplicate: %+v, want an inline error naming %s", ra, r.ID)
			}

			// Level 1: the manager.
			monaMsg := e.approvalDM(slackID("mona"), r.ID)
			if !strings.Contains(monaMsg.Text, "level 1 of 2") {
				t.Fatalf("approval DM text %q", monaMsg.Text)
			}
			e.noDM(slackID("owen"), r.ID)
			e.click(slackID("mona"), monaMsg, views.ActionApprove, r.ID)
			e.waitUpdated(monaMsg, "Approved by Mona")
			e.thread(confirm, "Level 1 of 2: approved by Mona")

			// Level 2: both owners get a copy; one decides, both copies change.
			owenMsg := e.approvalDM(slackID("owen"), r.ID)
			olgaMsg := e.approvalDM(slackID("olga"), r.ID)
			if !strings.Contains(owenMsg.Text, "level 2 of 2") {
				t.Fatalf("level 2 DM text %q", owenMsg.Text)
			}
			e.thread(confirm, "Level 2 of 2 is now with Owen, Olga")
			e.click(slackID("olga"), olgaMsg, views.ActionApprove, r.ID)
			for _, m := range []slackfake.Message{owenMsg, olgaMsg} {
				got := e.waitUpdated(m, "Approved by Olga")
				if strings.Contains(string(got.Blocks), views.ActionApprove) {
					t.Fatalf("decided copy %s still has buttons: %s", m.Channel, got.Blocks)
				}
			}
			// Mona's level-1 copy still says her decision.
			if cur, _ := e.fake.Message(monaMsg.Channel, monaMsg.TS); !strings.Contains(cur.Text, "Approved by Mona") {
				t.Fatalf("level-1 copy changed to %q", cur.Text)
			}
			e.thread(confirm, "Level 2 of 2: approved by Olga. Your request is fully approved, and the application owners have been asked to grant it.")
			e.waitUpdated(confirm, "Approved")
			if r := e.request(r.ID); r.Status != accessbot.StatusApproved {
				t.Fatalf("status %s, want approved", r.Status)
			}
			if ds := e.decisions(r.ID); len(ds) != 2 {
				t.Fatalf("%d decisions, want 2", len(ds))
			}
			// The clicked copies were replaced through their clicks'
			// response_url (not counted against chat.update), and not
			// updated again; the others by chat.update.
			updated, replaced := map[string]int{}, map[string]int{}
			for _, c := range e.fake.Calls("chat.update") {
				updated[c.Param("channel")+"/"+c.Param("ts")]++
			}
			for _, c := range e.fake.Calls("response_url") {
				if strings.Contains(string(c.JSON), `"replace_original":true`) {
					replaced[c.Param("channel")+"/"+c.Param("ts")]++
				}
			}
			// A click that lands while the level's first sync is still
			// writing that copy overlaps it, and the notifier then updates
			// the copy once more by chat.update, as it must (the two writes
			// may reach Slack in either order; see shownMemo). The test
			// clicks as soon as the DM shows, so one such overlap is
			// allowed across the two clicks; a notifier that updates every
			// clicked copy again fails.
			again := 0
			for _, m := range []slackfake.Message{monaMsg, olgaMsg} {
				k := m.Channel + "/" + m.TS
				if replaced[k] != 1 {
					t.Errorf("clicked copy %s: %d replaces by response_url, want 1", k, replaced[k])
				}
				again += updated[k]
			}
			if again > 1 {
				t.Errorf("clicked copies updated again by chat.update %d times, want at most 1: %v", again, updated)
			}
			for _, m := range []slackfake.Message{owenMsg, confirm} {
				if k := m.Channel + "/" + m.TS; updated[k] == 0 {
					t.Errorf("no chat.update of %s; updated %v", k, updated)
				}
			}
		})
	}
}

// With no provisioning engine, final approval asks the application's owners
// by DM to grant the access by hand (who approved it, for how long, until
// when), and the requester is told exactly that. A retried provision job
// asks nobody twice.
func TestE2EApprovedRequestAsksOwnersToGrant(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			e := startRequests(t, driver, requests.Policy{})
			r := e.createAccess("rita", "Maintainers")
			confirm := e.dm(slackID("rita"), "Your request for Maintainers")
			e.click(slackID("mona"), e.approvalDM(slackID("mona"), r.ID), views.ActionApprove, r.ID)
			olga := e.approvalDM(slackID("olga"), r.ID)
			e.clock.Set(rqT0.Add(time.Hour))
			e.click(slackID("olga"), olga, views.ActionApprove, r.ID)

			want := "Please grant Maintainers in GitLab to Rita (request " + r.ID +
				"; approved by Mona, Olga; duration: 8 hours, until 2025-03-03 18:00 UTC: please remove it then)."
			for _, owner := range []string{"owen", "olga"} {
				if m := e.dm(slackID(owner), "Please grant"); m.Text != want {
					t.Fatalf("%s was asked %q, want %q", owner, m.Text, want)
				}
			}
			e.thread(confirm, "approved by Olga. Your request is fully approved, and the application owners have been asked to grant it.")
			e.noDM(slackID("rita"), "handed over")

			// The provision job again, as after a retry: nobody is asked twice.
			// An unchanged confirmation is not updated again, so the
			// application is renamed first. The click's own jobs may still
			// be recording their posts: a retry waits for them, as River's
			// would.
			e.waitUpdated(confirm, "Approved")
			e.gitlab.Name = "GitLab EE"
			rqMust(t, e.st.UpdateApplication(e.ctx, e.gitlab))
			e.runJobRetrying(requests.Job{Kind: requests.JobProvision, TenantID: e.tenant.ID, RequestID: r.ID})
			e.runJobRetrying(requests.Job{Kind: requests.JobRequestFinished, TenantID: e.tenant.ID, RequestID: r.ID})
			e.waitUpdated(confirm, "GitLab EE")
			for _, owner := range []string{"owen", "olga"} {
				n := 0
				for _, m := range e.fake.Messages(slackfake.DMChannel(slackID(owner))) {
					if strings.Contains(m.Text, "Please grant") {
						n++
					}
				}
				if n != 1 {
					t.Fatalf("%s was asked %d times, want once", owner, n)
				}
			}
		})
	}
}
