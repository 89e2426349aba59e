package handlers_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers/views"
)

// globex is a second tenant with an application, a connection and a pending request.
type globex struct {
	tenant  *accessbot.Tenant
	worker  *accessbot.User
	app     *accessbot.Application
	conn    *accessbot.Connection
	request *accessbot.AccessRequest
}

func (e *rqEnv) addGlobex() globex {
	e.t.Helper()
	g := globex{tenant: &accessbot.Tenant{Slug: "globex", Name: "Globex"}}
	rqMust(e.t, e.st.CreateTenant(e.ctx, g.tenant))
	boss := &accessbot.User{TenantID: g.tenant.ID, Email: "boss@globex.test", Name: "Boss", Status: accessbot.UserActive, Role: accessbot.RoleAdmin}
	rqMust(e.t, e.st.CreateUser(e.ctx, boss))
	g.worker = &accessbot.User{TenantID: g.tenant.ID, Email: "w@globex.test", Name: "Worker", Status: accessbot.UserActive, ManagerID: boss.ID}
	rqMust(e.t, e.st.CreateUser(e.ctx, g.worker))
	g.app = &accessbot.Application{TenantID: g.tenant.ID, Name: "Vault"}
	rqMust(e.t, e.st.CreateApplication(e.ctx, g.app))
	g.conn = &accessbot.Connection{TenantID: g.tenant.ID, AppID: g.app.ID, Name: "ops", Type: "group"}
	rqMust(e.t, e.st.CreateConnection(e.ctx, g.conn))
	rqMust(e.t, e.st.UpsertApprovalChain(e.ctx, &accessbot.ApprovalChain{TenantID: g.tenant.ID, Name: "default",
		Levels: []accessbot.ApprovalLevel{{Approvers: []accessbot.Approver{{Kind: accessbot.ApproverManager}}}}}))
	r, err := e.svc.Create(e.ctx, requests.UserAccess{TenantID: g.tenant.ID, RequesterID: g.worker.ID, AppID: g.app.ID,
		ConnectionID: g.conn.ID, Duration: time.Hour, Justification: "Need the ops vault today."})
	rqMust(e.t, err)
	g.request = r
	return g
}

// untouched fails if Globex's request moved or Globex gained requests.
func (g globex) untouched(e *rqEnv) {
	e.t.Helper()
	got, err := e.st.GetRequest(e.ctx, g.tenant.ID, g.request.ID)
	rqMust(e.t, err)
	ds, err := e.st.ListDecisions(e.ctx, g.tenant.ID, g.request.ID)
	rqMust(e.t, err)
	rs, err := e.st.ListRequestsByRequester(e.ctx, g.tenant.ID, g.worker.ID, 0)
	rqMust(e.t, err)
	if got.Status != accessbot.StatusPending || len(ds) != 0 || len(rs) != 1 {
		e.t.Fatalf("the other tenant changed: %+v, %d decisions, %d requests", got, len(ds), len(rs))
	}
}

// tamper sets the submitted view's private_metadata (or callback_id) as a
// hostile client could.
func tamper(t *testing.T, p slackfake.InteractionPayload, field, value string) slackfake.InteractionPayload {
	t.Helper()
	var v map[string]any
	rqMust(t, json.Unmarshal(p.View, &v))
	v[field] = value
	js, err := json.Marshal(v)
	rqMust(t, err)
	p.View = js
	return p
}

// submitRaw sends a prepared view_submission and returns its ack.
func (e *rqEnv) submitRaw(p slackfake.InteractionPayload) (responseAction, string) {
	e.t.Helper()
	var ra responseAction
	raw := e.ack(e.fake.SendInteractive(p), &ra)
	return ra, string(raw)
}

// Hostile view submissions: tampered private_metadata, state naming another
// tenant's application, connection or request, an unknown form, oversized
// text. Each gets a clean answer and stores nothing.
func TestE2EHostileViewSubmissions(t *testing.T) {
	e := startRequests(t, "sqlite", requests.Policy{})
	g := e.addGlobex()
	rita := slackID("rita")

	// A preview whose draft is not ours to read.
	openPreview := func() {
		t.Helper()
		form := e.openRequestForm(rita)
		if ra := e.submit(rita, e.requestValues(form, views.DurationValue(8*time.Hour), nil)); ra.View.CallbackID != views.CallbackRequestPreview {
			t.Fatalf("no preview: %+v", ra)
		}
		e.topView(rita, views.CallbackRequestPreview)
	}
	openPreview()
	ra, raw := e.submitRaw(tamper(t, e.fake.ViewSubmission(e.team.ID, rita, "", nil), "private_metadata", "{not json"))
	if ra.ResponseAction != "update" || !strings.Contains(raw, "I could not read this preview") {
		t.Fatalf("unreadable draft: %s, want the preview back saying so", raw)
	}
	for _, meta := range []string{
		// Globex's application and connection.
		`{"a":"` + g.app.ID + `","c":"` + g.conn.ID + `","d":3600,"j":"Give me their vault please."}`,
		// Our application, their connection.
		`{"a":"` + e.gitlab.ID + `","c":"` + g.conn.ID + `","d":3600,"j":"Give me their vault please."}`,
		// Their user as the target.
		`{"a":"` + e.gitlab.ID + `","c":"` + e.conns["Developers"].ID + `","t":"` + g.worker.ID + `","d":3600,"j":"For someone else entirely."}`,
		// A duration beyond GitLab's maximum, and a justification no form allows.
		`{"a":"` + e.gitlab.ID + `","c":"` + e.conns["Developers"].ID + `","d":999999999,"j":"` + strings.Repeat("x", 2500) + `"}`,
	} {
		e.fake.CloseViews(rita)
		openPreview()
		ra, raw := e.submitRaw(tamper(t, e.fake.ViewSubmission(e.team.ID, rita, "", nil), "private_metadata", meta))
		if ra.ResponseAction != "update" || ra.View.CallbackID != views.CallbackRequestPreview || !strings.Contains(raw, views.BlockPreviewProblem) {
			t.Fatalf("draft %.80s: %s, want the preview back with the problem", meta, raw)
		}
		if strings.Contains(raw, "Vault") || strings.Contains(raw, "Worker") {
			t.Fatalf("the answer shows another tenant's names: %s", raw)
		}
	}

	// The request form with state naming Globex's application.
	e.fake.CloseViews(rita)
	form := e.openRequestForm(rita)
	forged := e.requestValues(form, views.DurationValue(8*time.Hour), map[string]map[string]slackfake.StateValue{
		views.BlockReqApp: {views.ActionReqApp: slackfake.ExternalSelectValue(g.app.ID, "Vault")}})
	if ra := e.submit(rita, forged); ra.ResponseAction != "errors" || len(ra.Errors) == 0 {
		t.Fatalf("form naming another tenant's application: %+v", ra)
	}

	// The connection preview naming Globex's connection, and a kind that does not exist.
	for _, meta := range []string{
		`{"k":"delete","a":"` + g.app.ID + `","c":"` + g.conn.ID + `","j":"Remove it."}`,
		`{"k":"delete","a":"` + e.entra.ID + `","c":"` + g.conn.ID + `","j":"Remove it."}`,
		`{"k":"explode","a":"` + e.entra.ID + `"}`,
	} {
		p := tamper(t, e.fake.ViewSubmission(e.team.ID, rita, "", nil), "callback_id", views.CallbackConnectionPreview)
		ra, raw := e.submitRaw(tamper(t, p, "private_metadata", meta))
		if strings.Contains(raw, "Vault") || ra.ResponseAction != "update" || !strings.Contains(raw, views.BlockPreviewProblem) {
			t.Fatalf("connection draft %s: %s, want the preview back with the problem", meta, raw)
		}
	}
	// The connection form with a grant naming Globex's connection.
	e.fake.CloseViews(rita)
	e.ack(e.fake.SendSlashCommand(e.fake.SlashCommand(e.team.ID, rita, "connection")), nil)
	cform := e.topView(rita, views.CallbackConnectionForm)
	kind := e.chooseConnKind(rita, cform.ID, views.ConnKindAssign)
	e.topView(rita, views.CallbackConnectionForm, views.BlockConnApp)
	app := e.chooseConnApp(rita, cform.ID, kind, e.entra)
	e.topView(rita, views.CallbackConnectionForm, views.BlockConnGrants)
	ra = e.submit(rita, withChoices(map[string]map[string]slackfake.StateValue{
		views.BlockConnConnection: {views.ActionConnConnection: selectValue(e.conns["Admins"].ID)},
		views.BlockConnGrants:     {views.ActionConnGrants: multiValue("c:" + g.conn.ID)},
	}, kind, app))
	if ra.ResponseAction != "errors" || !strings.Contains(ra.Errors[views.BlockConnGrants], "no longer exists") {
		t.Fatalf("grant naming another tenant's connection: %+v", ra)
	}

	// The deny modal re-pointed at Globex's request.
	r := e.createAccess("rita", "Developers")
	msg := e.approvalDM(slackID("mona"), r.ID)
	e.click(slackID("mona"), msg, views.ActionDeny, r.ID)
	e.topView(slackID("mona"), views.CallbackDenyReason)
	for _, meta := range []string{`{"id":"` + g.request.ID + `","l":0}`, `{"id":""}`, `[1,2]`} {
		p := e.fake.ViewSubmission(e.team.ID, slackID("mona"), "", map[string]map[string]slackfake.StateValue{
			views.BlockDenyReason: {views.ActionDenyReason: slackfake.PlainTextValue("Because I can.")}})
		ra, raw := e.submitRaw(tamper(t, p, "private_metadata", meta))
		if ra.ResponseAction != "errors" || ra.Errors[views.BlockDenyReason] != "I can't find that request." {
			t.Fatalf("deny metadata %s: %s", meta, raw)
		}
	}
	if got := e.request(r.ID); got.Status != accessbot.StatusPending || len(e.decisions(r.ID)) != 0 {
		t.Fatalf("our request moved: %+v", got)
	}

	// A form we never sent: the answer shows in place of it.
	if ra, raw := e.submitRaw(tamper(t, e.fake.ViewSubmission(e.team.ID, rita, "", nil), "callback_id", "drop_tables")); ra.ResponseAction != "update" || !strings.Contains(raw, "I don't know that form") {
		t.Fatalf("unknown form: %s", raw)
	}

	// Nothing of all this was stored: rita has only the request made through the service.
	if rs := e.requestsBy("rita"); len(rs) != 1 || rs[0].ID != r.ID {
		t.Fatalf("hostile submissions stored requests: %+v", rs)
	}
	g.untouched(e)
}

// block_suggestion with a 5,000-character query, from an unlinked
// workspace, and from a user whose email Slack hides: an answer each time.
func TestE2EHostileSuggestions(t *testing.T) {
	e := startRequests(t, "sqlite", requests.Policy{})
	rita := slackID("rita")
	e.ack(e.fake.SendSlashCommand(e.fake.SlashCommand(e.team.ID, rita, "request")), nil)
	form := e.topView(rita, views.CallbackRequestForm)

	start := time.Now()
	s, err := e.fake.Suggest(e.ctx, e.fake.BlockSuggestion(e.team.ID, rita, form.ID, views.BlockReqApp, views.ActionReqApp, strings.Repeat("ü", 5000)))
	rqMust(t, err)
	if len(s.Options) != 0 || time.Since(start) > 3*time.Second {
		t.Fatalf("5,000-character query: %d options after %v", len(s.Options), time.Since(start))
	}
	// A query with SQL LIKE wildcards matches literally, not everything.
	s, err = e.fake.Suggest(e.ctx, e.fake.BlockSuggestion(e.team.ID, rita, form.ID, views.BlockReqApp, views.ActionReqApp, "%"))
	rqMust(t, err)
	if len(s.Options) != 0 {
		t.Fatalf("query %q matched %d applications", "%", len(s.Options))
	}

	e.fake.AddTeam(slackfake.Team{ID: "T9", Name: "Stranger"})
	_, err = e.fake.AddUser(slackfake.User{ID: "USTRANGER", TeamID: "T9", Email: "x@stranger.test"})
	rqMust(t, err)
	s, err = e.fake.Suggest(e.ctx, e.fake.BlockSuggestion("T9", "USTRANGER", form.ID, views.BlockReqApp, views.ActionReqApp, "git"))
	rqMust(t, err)
	if len(s.Options) != 0 {
		t.Fatalf("an unlinked workspace got %d applications", len(s.Options))
	}

	rqMust(t, e.fake.SetEmailScope(e.team.ID, false))
	s, err = e.fake.Suggest(e.ctx, e.fake.BlockSuggestion(e.team.ID, slackID("dave"), form.ID, views.BlockReqApp, views.ActionReqApp, "git"))
	rqMust(t, err)
	if len(s.Options) != 0 {
		t.Fatalf("a user with no visible email got %d applications", len(s.Options))
	}
	// The same user pressing a button is told why, not ignored.
	e.fake.SendInteractive(e.fake.BlockAction(e.team.ID, slackID("dave"), slackfake.Action{ActionID: views.ActionDetails, Value: "x"}))
	e.ephemeral(slackID("dave"), "email")
}
