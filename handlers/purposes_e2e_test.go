package handlers_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/connectors/catalog"
	"github.com/accessbot/accessbot/connectors/outbound"
	"github.com/accessbot/accessbot/connectors/runners"
	"github.com/accessbot/accessbot/connectors/webhook/webhookfake"
	"github.com/accessbot/accessbot/flows/grants"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/flows/purposes"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store"
)

const oncallChannel = "C0ONCALL"

// purposeEnv is rqEnv with the real provisioning engine (River on the
// store), the webhook runner against the webhook receiver fake, and the
// purposes service on its own clock.
type purposeEnv struct {
	*rqEnv
	hook    *webhookfake.Server
	svc     *purposes.Service
	clock   *rqClock
	purpose *accessbot.Purpose
}

func startPurposes(t *testing.T) *purposeEnv {
	t.Helper()
	hook, err := webhookfake.NewServer(webhookfake.Options{}, false)
	rqMust(t, err)
	t.Cleanup(hook.Close)
	pe := &purposeEnv{hook: hook, clock: &rqClock{now: time.Now().UTC().Truncate(time.Second)}}
	build := func(st store.Store, n *handlers.Notifier) requests.Provisioner {
		eng := provision.New(provision.Config{Store: st, StepAttempts: 3, Backoff: func(int) time.Duration { return 10 * time.Millisecond }, Log: zerolog.Nop()})
		eng.Register(provision.KindManual, n.Fulfilment())
		runners.Register(eng, runners.NewWebhook(catalog.NewLoader(st, nil, outbound.Options{DialTimeout: time.Second}), zerolog.Nop()), nil, nil)
		workers := river.NewWorkers()
		eng.AddWorkers(workers)
		q, err := jobs.New(jobs.Config{Driver: "sqlite", DB: st.(interface{ DB() *sql.DB }).DB(), Workers: workers,
			PollInterval: 20 * time.Millisecond, Log: zerolog.Nop()})
		rqMust(t, err)
		eng.SetQueue(q)
		rqMust(t, q.Start(context.Background()))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = q.Stop(ctx)
		})
		gs, err := grants.New(grants.Config{Store: st, Deprovisioner: eng, Clock: pe.clock.Now, Log: zerolog.Nop()})
		rqMust(t, err)
		pe.svc, err = purposes.New(purposes.Config{Store: st, Provisioner: eng, Revoker: gs, Notifier: n.Purposes(st), Clock: pe.clock.Now, Log: zerolog.Nop()})
		rqMust(t, err)
		return pe.svc.Approvals(eng)
	}
	pe.rqEnv = startRequestsWith(t, "sqlite", requests.Policy{}, rqOpts{prov: []rqProvisioner{build},
		deps: func(e *rqEnv, d *handlers.Deps) {
			d.Purposes = handlers.NewPurposes(pe.svc, e.svc, e.st, pe.clock.Now, zerolog.Nop())
		}})
	e := pe.rqEnv
	rqMust(t, e.st.PutOutboundAllow(e.ctx, e.tenant.ID, []string{"127.0.0.1"}))
	rqMust(t, e.st.PutConnector(e.ctx, &store.Connector{TenantID: e.tenant.ID, Name: "hooks", Type: "webhook",
		Settings: map[string]string{"url": hook.URL() + "/{endpoint}"}}))
	chain := accessbot.ActionChain{
		Provision:   []accessbot.ActionScript{{Type: "hooks_webhook_add", Params: map[string]string{"user": "{{.Target.Email}}", "group": "{{.Connection.Name}}"}}},
		Deprovision: []accessbot.ActionScript{{Type: "hooks_webhook_remove", Params: map[string]string{"user": "{{.Target.Email}}", "group": "{{.Connection.Name}}"}}},
	}
	for _, app := range []*accessbot.Application{e.gitlab, e.entra} {
		app.Provisioning = map[string]accessbot.ActionChain{"group": chain, "role": chain}
		rqMust(t, e.st.UpdateApplication(e.ctx, app))
	}
	pe.purpose = &accessbot.Purpose{TenantID: e.tenant.ID, Name: "oncall-db", Description: "On-call database access",
		Connections: []accessbot.PurposeConnection{{AppID: e.gitlab.ID, ConnectionID: e.conns["Maintainers"].ID}, {AppID: e.entra.ID, ConnectionID: e.conns["Readers"].ID}},
		MaxSession:  4 * time.Hour, AssignChain: "default", Channel: oncallChannel}
	rqMust(t, e.st.UpsertPurpose(e.ctx, pe.purpose))
	return pe
}

// hooks counts the receiver's deliveries of type ("hooks.add") for group.
func (pe *purposeEnv) hooks(typ, group string) int {
	n := 0
	for _, d := range pe.hook.Deliveries() {
		var m struct {
			Type string            `json:"type"`
			Data map[string]string `json:"data"`
		}
		if json.Unmarshal(d.Body, &m) == nil && m.Type == typ && m.Data["group"] == group && d.Rejected == "" {
			n++
		}
	}
	return n
}

func (pe *purposeEnv) waitHooks(typ string, want int) {
	pe.t.Helper()
	err := pe.fake.WaitFor(pe.ctx, func() bool { return pe.hooks(typ, "Maintainers") == want && pe.hooks(typ, "Readers") == want })
	if err != nil {
		pe.t.Fatalf("%s deliveries: Maintainers %d, Readers %d, want %d each", typ, pe.hooks(typ, "Maintainers"), pe.hooks(typ, "Readers"), want)
	}
}

// channel returns the messages in the on-call channel containing want.
func (pe *purposeEnv) channel(want string) []slackfake.Message {
	var out []slackfake.Message
	for _, m := range pe.fake.Messages(oncallChannel) {
		if strings.Contains(m.Text, want) {
			out = append(out, m)
		}
	}
	return out
}

func (pe *purposeEnv) waitChannel(want string) {
	pe.t.Helper()
	if err := pe.fake.WaitFor(pe.ctx, func() bool { return len(pe.channel(want)) > 0 }); err != nil {
		pe.t.Fatalf("no message %q in %s; have %+v", want, oncallChannel, pe.fake.Messages(oncallChannel))
	}
}

func (pe *purposeEnv) command(user, text string) {
	pe.ack(pe.fake.SendSlashCommand(pe.fake.SlashCommand(pe.team.ID, user, text)), nil)
}

func (pe *purposeEnv) clickAction(user, actionID, value string) {
	pe.fake.SendInteractive(pe.fake.BlockAction(pe.team.ID, user, slackfake.Action{ActionID: actionID, BlockID: views.BlockSessionActions, Value: value}))
}

func (pe *purposeEnv) session(user string) *accessbot.PurposeSession {
	pe.t.Helper()
	ss, err := pe.st.ListPurposeSessions(pe.ctx, pe.tenant.ID, pe.users[user].ID, nil)
	rqMust(pe.t, err)
	if len(ss) == 0 {
		pe.t.Fatalf("%s has no session", user)
	}
	return &ss[len(ss)-1]
}

// TestE2EPurposeAssignStartEndsByItself is the "done means": rita
// asks for the purpose, the default chain's approver (ada) approves, rita
// starts it from Slack (the modal asks length and reason); both
// applications' provisioning webhooks run; the channel is told; the Home
// tab shows it with Stop and Extend. The session ends by itself after its
// length, even though nobody ticked until an hour later: the deprovisioning
// webhooks run once each, the channel is told once, rita is told.
func TestE2EPurposeAssignStartEndsByItself(t *testing.T) {
	pe := startPurposes(t)
	rita, dave := slackID("rita"), slackID("dave")

	pe.command(rita, "purposes")
	pe.ephemeral(rita, "Purposes (1)")
	pe.clickAction(rita, views.ActionPurposeAssign, pe.purpose.ID)
	pe.topView(rita, views.CallbackPurposeAsk, "oncall-db")
	if ra := pe.submit(rita, map[string]map[string]slackfake.StateValue{views.BlockPurposeWhy: {views.ActionPurposeWhy: slackfake.PlainTextValue("I join the on-call rota.")}}); ra.ResponseAction == "errors" {
		t.Fatalf("assignment request refused: %+v", ra)
	}
	r := pe.onlyRequest("rita")
	if r.Kind != accessbot.RequestPurposeAssign || len(r.Levels) != 1 {
		t.Fatalf("assignment request %+v, want one through the default chain", r)
	}
	pe.click(slackID("ada"), pe.approvalDM(slackID("ada"), r.ID), views.ActionApprove, r.ID)
	if err := pe.fake.WaitFor(pe.ctx, func() bool {
		_, err := pe.st.GetPurposeAssignment(pe.ctx, pe.tenant.ID, pe.purpose.ID, pe.users["rita"].ID)
		return err == nil
	}); err != nil {
		t.Fatal("the approved request did not assign the purpose")
	}

	// Dave is not assigned; rita's start without a length opens the modal.
	pe.command(dave, "start oncall-db 1h incident 4711 on the primary")
	pe.ephemeral(dave, "You are not assigned to oncall-db")
	// Without a length, he is told so at once, not after filling a modal.
	pe.command(dave, "start oncall-db")
	pe.ephemeral(dave, "You are not assigned to oncall-db")
	if vs := pe.fake.OpenViews(dave); len(vs) > 0 {
		t.Fatal("a start modal opened for someone not assigned")
	}
	pe.command(rita, "start oncall-db")
	pe.topView(rita, views.CallbackPurposeStart, "oncall-db", "Maintainers")
	if ra := pe.submit(rita, map[string]map[string]slackfake.StateValue{
		views.BlockPurposeFor: {views.ActionPurposeFor: selectValue("600")},
		views.BlockPurposeWhy: {views.ActionPurposeWhy: slackfake.PlainTextValue("incident 4711 on the primary")},
	}); ra.ResponseAction != "errors" || !strings.Contains(ra.Errors[views.BlockPurposeFor], "at most 4 hours") {
		t.Fatalf("10 hours of a 4-hour purpose: %+v, want an inline error", ra)
	}
	if ra := pe.submit(rita, map[string]map[string]slackfake.StateValue{
		views.BlockPurposeFor: {views.ActionPurposeFor: selectValue("60")},
		views.BlockPurposeWhy: {views.ActionPurposeWhy: slackfake.PlainTextValue("incident 4711 on the primary")},
	}); ra.ResponseAction == "errors" {
		t.Fatalf("start refused: %+v", ra)
	}
	pe.waitHooks("hooks.add", 1)
	pe.waitChannel("Rita started *oncall-db*")
	ses := pe.session("rita")
	if ses.Status != accessbot.SessionActive || ses.EndsAt.Sub(ses.StartedAt) != time.Hour {
		t.Fatalf("session %+v, want active for an hour", ses)
	}

	pe.fake.SendEvent(pe.fake.AppHomeOpened(pe.team.ID, rita))
	if err := pe.fake.WaitFor(pe.ctx, func() bool {
		v, ok := pe.fake.HomeView(rita)
		j := string(v.JSON)
		return ok && strings.Contains(j, "My purposes") && strings.Contains(j, views.ActionSessionStop) && strings.Contains(j, views.ActionSessionExtend)
	}); err != nil {
		t.Fatal("the Home tab does not show the session with Stop and Extend")
	}

	// Nobody ticks until an hour after the end; then, repeatedly.
	for _, at := range []time.Duration{2 * time.Hour, 2*time.Hour + time.Minute, 2*time.Hour + 5*time.Minute} {
		pe.clock.Set(ses.StartedAt.Add(at))
		rqMust(t, pe.svc.Tick(pe.ctx, pe.clock.Now()))
	}
	pe.waitHooks("hooks.remove", 1)
	pe.waitChannel("reached its end")
	pe.dm(rita, "Your *oncall-db* session reached its end")
	if err := pe.fake.WaitFor(pe.ctx, func() bool {
		held, err := pe.st.ListEntitlements(pe.ctx, pe.tenant.ID, pe.users["rita"].ID)
		return err == nil && len(held) == 0
	}); err != nil {
		t.Fatal("grants remain after the session ended")
	}
	pe.clock.Set(ses.StartedAt.Add(3 * time.Hour))
	rqMust(t, pe.svc.Tick(pe.ctx, pe.clock.Now()))
	time.Sleep(300 * time.Millisecond) // a second flow or post, if any, would show by now
	t.Logf("[counts] add=%d/%d remove=%d/%d started_posts=%d ended_posts=%d", pe.hooks("hooks.add", "Maintainers"), pe.hooks("hooks.add", "Readers"),
		pe.hooks("hooks.remove", "Maintainers"), pe.hooks("hooks.remove", "Readers"), len(pe.channel("started")), len(pe.channel("reached its end")))
	pe.waitHooks("hooks.remove", 1)
	if len(pe.channel("started")) != 1 || len(pe.channel("reached its end")) != 1 {
		t.Fatalf("channel messages %+v, want one start and one end", pe.fake.Messages(oncallChannel))
	}
	if cur := pe.session("rita"); cur.Status != accessbot.SessionEnded || cur.EndReason != purposes.ReasonExpired {
		t.Fatalf("session after its end %+v", cur)
	}
}

// TestE2EAdminStopsSession: an admin lists active sessions and stops
// rita's with a reason, which rita is told; a member can neither list nor
// stop it; the holder's own Extend is capped.
func TestE2EAdminStopsSession(t *testing.T) {
	pe := startPurposes(t)
	rita, ada, dave := slackID("rita"), slackID("ada"), slackID("dave")
	rqMust(t, pe.st.AssignPurpose(pe.ctx, &accessbot.PurposeAssignment{TenantID: pe.tenant.ID, PurposeID: pe.purpose.ID, UserID: pe.users["rita"].ID}))
	pe.command(rita, "start oncall-db 4h incident 4711 on the primary")
	pe.ephemeral(rita, "oncall-db started until")
	pe.waitHooks("hooks.add", 1)
	ses := pe.session("rita")

	// Extend at the start of a full-length session: nothing fits the cap.
	pe.clickAction(rita, views.ActionSessionExtend, ses.ID)
	pe.ephemeral(rita, "cannot be extended now")
	pe.clickAction(dave, views.ActionSessionExtend, ses.ID)
	pe.ephemeral(dave, "Only the session's holder can extend it")

	pe.command(dave, "sessions")
	pe.ephemeral(dave, "Only accessbot admins")
	pe.clickAction(dave, views.ActionSessionStop, ses.ID)
	pe.ephemeral(dave, "Only the session's holder or an accessbot admin")
	pe.command(ada, "sessions")
	pe.ephemeral(ada, "Active sessions (1)")
	pe.clickAction(ada, views.ActionSessionStop, ses.ID)
	pe.topView(ada, views.CallbackSessionStop, "Rita")
	if ra := pe.submit(ada, map[string]map[string]slackfake.StateValue{views.BlockPurposeWhy: {views.ActionPurposeWhy: slackfake.PlainTextValue("incident 4711 closed")}}); ra.ResponseAction == "errors" {
		t.Fatalf("stop refused: %+v", ra)
	}
	pe.dm(rita, "Ada stopped your *oncall-db* session: incident 4711 closed")
	pe.waitChannel("Ada stopped Rita's *oncall-db*: incident 4711 closed")
	pe.waitHooks("hooks.remove", 1)
	cur := pe.session("rita")
	if cur.EndedBy != pe.users["ada"].ID || cur.EndReason != "incident 4711 closed" {
		t.Fatalf("stopped session %+v", cur)
	}
	audit, err := pe.st.ListAudit(pe.ctx, pe.tenant.ID, ses.ID)
	rqMust(t, err)
	var actions []string
	for _, a := range audit {
		actions = append(actions, a.Action)
	}
	if got := strings.Join(actions, ","); !strings.Contains(got, purposes.ActionStarted) || !strings.Contains(got, purposes.ActionStopped) {
		t.Fatalf("audit %s, want the start and the stop", got)
	}
}

// TestE2EPurposeStartThroughItsChain: a purpose whose starts are approved
// files rita's start as a request through its start chain; nothing is
// provisioned until ada approves, then the session begins with the asked
// length.
func TestE2EPurposeStartThroughItsChain(t *testing.T) {
	pe := startPurposes(t)
	rita := slackID("rita")
	pe.purpose.StartChain = "default"
	rqMust(t, pe.st.UpsertPurpose(pe.ctx, pe.purpose))
	rqMust(t, pe.st.AssignPurpose(pe.ctx, &accessbot.PurposeAssignment{TenantID: pe.tenant.ID, PurposeID: pe.purpose.ID, UserID: pe.users["rita"].ID}))
	pe.command(rita, "start oncall-db 2h incident 4711 on the primary")
	pe.ephemeral(rita, "was sent for approval")
	r := pe.onlyRequest("rita")
	if r.Kind != accessbot.RequestPurposeStart || r.Duration != 2*time.Hour {
		t.Fatalf("start request %+v", r)
	}
	pe.command(rita, "start oncall-db 2h incident 4711 on the primary")
	pe.ephemeral(rita, "already asked to start oncall-db")
	if n := len(pe.hook.Deliveries()); n != 0 {
		t.Fatalf("%d webhook deliveries before the start was approved", n)
	}
	pe.click(slackID("ada"), pe.approvalDM(slackID("ada"), r.ID), views.ActionApprove, r.ID)
	pe.waitHooks("hooks.add", 1)
	pe.waitChannel("Rita started *oncall-db*")
	ses := pe.session("rita")
	if ses.Status != accessbot.SessionActive || ses.EndsAt.Sub(ses.StartedAt) != 2*time.Hour || ses.Reason != "incident 4711 on the primary" {
		t.Fatalf("session %+v, want active for the 2 hours asked", ses)
	}
}

// TestE2EPurposeExtendThroughItsChain: when a purpose's starts are
// approved, so is more time: rita's Extend asks why, files a request
// through the start chain and leaves the session's end alone; a second
// ask is refused as a duplicate; ada's approval card says what it is, and
// her approval moves the end once, audited with the request.
func TestE2EPurposeExtendThroughItsChain(t *testing.T) {
	pe := startPurposes(t)
	rita, ada := slackID("rita"), slackID("ada")
	pe.purpose.StartChain = "default"
	rqMust(t, pe.st.UpsertPurpose(pe.ctx, pe.purpose))
	rqMust(t, pe.st.AssignPurpose(pe.ctx, &accessbot.PurposeAssignment{TenantID: pe.tenant.ID, PurposeID: pe.purpose.ID, UserID: pe.users["rita"].ID}))
	pe.rqEnv.clock.Set(pe.clock.Now()) // one clock for the requests and the sessions
	pe.command(rita, "start oncall-db 2h incident 4711 on the primary")
	start := pe.onlyRequest("rita")
	pe.click(ada, pe.approvalDM(ada, start.ID), views.ActionApprove, start.ID)
	pe.waitHooks("hooks.add", 1)
	ses := pe.session("rita")
	end := ses.EndsAt

	// An hour in, 3 hours more fit the 4-hour cap from now.
	pe.clock.Set(ses.StartedAt.Add(time.Hour))
	pe.rqEnv.clock.Set(pe.clock.Now())
	pe.clickAction(rita, views.ActionSessionExtend, ses.ID)
	pe.topView(rita, views.CallbackSessionExt, "Starts of this purpose are approved", views.BlockPurposeWhy)
	if _, err := pe.svc.Extend(pe.ctx, pe.tenant.ID, ses.ID, pe.users["rita"].ID, time.Hour); !errors.Is(err, purposes.ErrNeedsApproval) {
		t.Fatalf("a direct extension of an approved purpose: %v, want ErrNeedsApproval", err)
	}
	extend := map[string]map[string]slackfake.StateValue{
		views.BlockPurposeFor: {views.ActionPurposeFor: selectValue("60")},
		views.BlockPurposeWhy: {views.ActionPurposeWhy: slackfake.PlainTextValue("the failover runs longer")},
	}
	if ra := pe.submit(rita, map[string]map[string]slackfake.StateValue{views.BlockPurposeFor: {views.ActionPurposeFor: selectValue("60")},
		views.BlockPurposeWhy: {views.ActionPurposeWhy: slackfake.PlainTextValue("more")}}); ra.ResponseAction != "errors" || ra.Errors[views.BlockPurposeWhy] == "" {
		t.Fatalf("an extension without a reason: %+v, want an inline error", ra)
	}
	if ra := pe.submit(rita, extend); ra.ResponseAction == "errors" {
		t.Fatalf("extension refused: %+v", ra)
	}
	if cur := pe.session("rita"); !cur.EndsAt.Equal(end) {
		t.Fatalf("the end moved to %s before the extension was approved", cur.EndsAt)
	}
	pe.clickAction(rita, views.ActionSessionExtend, ses.ID)
	pe.topView(rita, views.CallbackSessionExt, "Starts of this purpose are approved")
	if ra := pe.submit(rita, extend); ra.ResponseAction != "errors" || !strings.Contains(ra.Errors[views.BlockPurposeFor], "already asked") {
		t.Fatalf("a second ask: %+v, want a duplicate error", ra)
	}
	rs, err := pe.st.ListRequestsByRequester(pe.ctx, pe.tenant.ID, pe.users["rita"].ID, 0)
	rqMust(t, err)
	var exts []accessbot.AccessRequest
	for _, r := range rs {
		if r.ID != start.ID && r.Kind == accessbot.RequestPurposeStart {
			exts = append(exts, r)
		}
	}
	if len(exts) != 1 || exts[0].Duration != time.Hour || exts[0].Justification != "the failover runs longer" {
		t.Fatalf("extension requests %+v, want one of an hour", exts)
	}
	ext := &exts[0]
	card := pe.approvalDM(ada, ext.ID)
	if !strings.Contains(string(card.Blocks), "1 hour more on purpose *oncall-db*") {
		t.Fatalf("the approval card does not say it is more time: %s", card.Blocks)
	}
	pe.click(ada, card, views.ActionApprove, ext.ID)
	if err := pe.fake.WaitFor(pe.ctx, func() bool { return pe.session("rita").EndsAt.Equal(end.Add(time.Hour)) }); err != nil {
		t.Fatalf("after the approval the session ends %s, want %s", pe.session("rita").EndsAt, end.Add(time.Hour))
	}
	pe.waitChannel("Rita extended *oncall-db* until")
	// A retry of the approved request does nothing more.
	again, err := pe.st.GetRequest(pe.ctx, pe.tenant.ID, ext.ID)
	rqMust(t, err)
	rqMust(t, pe.svc.Approvals(nil).Provision(pe.ctx, again))
	if cur := pe.session("rita"); !cur.EndsAt.Equal(end.Add(time.Hour)) {
		t.Fatalf("a retried approval moved the end again, to %s", cur.EndsAt)
	}
	audit, err := pe.st.ListAudit(pe.ctx, pe.tenant.ID, ses.ID)
	rqMust(t, err)
	n := 0
	for _, a := range audit {
		if a.Action == purposes.ActionExtended && strings.Contains(string(a.After), ext.ID) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d extension audit entries naming the request, want 1", n)
	}
}

// TestE2EHolderStartsFromHomeAndStops: rita's Home tab offers Start… for
// her purpose; the modal asks length and reason; she extends it within the
// cap (announced); her Stop on the Home tab ends it at once: the deprovisioning webhooks run, the channel is told
// she stopped it, and the stop is audited with her as the actor.
func TestE2EHolderStartsFromHomeAndStops(t *testing.T) {
	pe := startPurposes(t)
	rita := slackID("rita")
	rqMust(t, pe.st.AssignPurpose(pe.ctx, &accessbot.PurposeAssignment{TenantID: pe.tenant.ID, PurposeID: pe.purpose.ID, UserID: pe.users["rita"].ID}))
	pe.fake.SendEvent(pe.fake.AppHomeOpened(pe.team.ID, rita))
	if err := pe.fake.WaitFor(pe.ctx, func() bool {
		v, ok := pe.fake.HomeView(rita)
		return ok && strings.Contains(string(v.JSON), views.ActionPurposeStart) && strings.Contains(string(v.JSON), pe.purpose.ID)
	}); err != nil {
		t.Fatal("the Home tab offers no Start for rita's purpose")
	}
	pe.fake.SendInteractive(pe.fake.BlockAction(pe.team.ID, rita, slackfake.Action{ActionID: views.ActionPurposeStart, BlockID: views.BlockSessionActions + ".0", Value: pe.purpose.ID}))
	pe.topView(rita, views.CallbackPurposeStart, "oncall-db")
	if ra := pe.submit(rita, map[string]map[string]slackfake.StateValue{
		views.BlockPurposeFor: {views.ActionPurposeFor: selectValue("120")},
		views.BlockPurposeWhy: {views.ActionPurposeWhy: slackfake.PlainTextValue("schema migration on the primary")},
	}); ra.ResponseAction == "errors" {
		t.Fatalf("start refused: %+v", ra)
	}
	pe.waitHooks("hooks.add", 1)
	pe.waitChannel("Rita started *oncall-db*")
	ses := pe.session("rita")
	if ses.EndsAt.Sub(ses.StartedAt) != 2*time.Hour || ses.Reason != "schema migration on the primary" {
		t.Fatalf("session %+v, want 2 hours for the reason given", ses)
	}

	// An hour in, one more hour fits (2 of 4 used, ending in 1): no
	// approval, the channel is told.
	pe.clock.Set(ses.StartedAt.Add(time.Hour))
	pe.clickAction(rita, views.ActionSessionExtend, ses.ID)
	pe.topView(rita, views.CallbackSessionExt, "Extend *oncall-db*")
	if ra := pe.submit(rita, map[string]map[string]slackfake.StateValue{views.BlockPurposeFor: {views.ActionPurposeFor: selectValue("60")}}); ra.ResponseAction == "errors" {
		t.Fatalf("extension refused: %+v", ra)
	}
	if cur := pe.session("rita"); !cur.EndsAt.Equal(ses.EndsAt.Add(time.Hour)) {
		t.Fatalf("extended session ends %s, want %s", cur.EndsAt, ses.EndsAt.Add(time.Hour))
	}
	pe.waitChannel("Rita extended *oncall-db* until")

	pe.clickAction(rita, views.ActionSessionStop, ses.ID)
	pe.ephemeral(rita, "oncall-db stopped: your access is being removed")
	pe.waitHooks("hooks.remove", 1)
	pe.waitChannel("Rita stopped *oncall-db*")
	if err := pe.fake.WaitFor(pe.ctx, func() bool { return pe.session("rita").Status == accessbot.SessionEnded }); err != nil {
		t.Fatalf("session %+v after the holder's stop, want ended", pe.session("rita"))
	}
	audit, err := pe.st.ListAudit(pe.ctx, pe.tenant.ID, ses.ID)
	rqMust(t, err)
	stopped := false
	for _, a := range audit {
		stopped = stopped || (a.Action == purposes.ActionStopped && a.ActorID == pe.users["rita"].ID)
	}
	if !stopped {
		t.Fatalf("audit %+v lacks rita's stop", audit)
	}
}
