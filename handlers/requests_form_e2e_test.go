package handlers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers/views"
)

// openRequestForm opens /access request for user, picks GitLab and returns
// the form once it shows GitLab's entitlements.
func (e *rqEnv) openRequestForm(user string) slackfake.View {
	e.t.Helper()
	e.ack(e.fake.SendSlashCommand(e.fake.SlashCommand(e.team.ID, user, "request")), nil)
	form := e.topView(user, views.CallbackRequestForm)
	e.fake.SendInteractive(e.fake.BlockActionInView(e.team.ID, user, form.ID, slackfake.Action{ActionID: views.ActionReqApp,
		BlockID: views.BlockReqApp, Type: "external_select", Value: e.gitlab.ID, Text: "GitLab"}))
	return e.topView(user, views.CallbackRequestForm, "Maintainers (group)")
}

// requestValues is a filled-in GitLab Maintainers form; extra overrides blocks.
func (e *rqEnv) requestValues(form slackfake.View, duration string, extra map[string]map[string]slackfake.StateValue) map[string]map[string]slackfake.StateValue {
	e.t.Helper()
	dur, err := e.fake.Choose(form.ID, views.BlockReqDuration, views.ActionReqDuration, duration)
	rqMust(e.t, err)
	ent, err := e.fake.Choose(form.ID, views.BlockReqEntitlement, views.ActionReqEntitlement, e.conns["Maintainers"].ID)
	rqMust(e.t, err)
	out := map[string]map[string]slackfake.StateValue{
		views.BlockReqApp:           {views.ActionReqApp: slackfake.ExternalSelectValue(e.gitlab.ID, "GitLab")},
		views.BlockReqEntitlement:   {views.ActionReqEntitlement: ent},
		views.BlockReqDuration:      {views.ActionReqDuration: dur},
		views.BlockReqJustification: {views.ActionReqJustification: slackfake.PlainTextValue("Release 4.2 needs merge rights.")},
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func (e *rqEnv) requestsBy(user string) []accessbot.AccessRequest {
	e.t.Helper()
	rs, err := e.st.ListRequestsByRequester(e.ctx, e.tenant.ID, e.users[user].ID, 0)
	rqMust(e.t, err)
	return rs
}

// A manager asks for one of their reports; a non-manager cannot, and a
// forged target (not a report, another tenant's user) is refused by the server.
func TestE2ERequestForDirectReport(t *testing.T) {
	e := startRequests(t, "sqlite", requests.Policy{})
	mona, rita := slackID("mona"), slackID("rita")

	// Rita manages nobody: her form has no "For" choice.
	ritaForm := e.openRequestForm(rita)
	if strings.Contains(string(ritaForm.JSON), views.BlockReqTarget) {
		t.Fatalf("a non-manager's form offers a target: %s", ritaForm.JSON)
	}
	// A forged target on her submission is refused inline; nothing stored.
	forged := e.requestValues(ritaForm, views.DurationValue(8*time.Hour), map[string]map[string]slackfake.StateValue{
		views.BlockReqTarget: {views.ActionReqTarget: selectValue(e.users["dave"].ID)}})
	ra := e.submit(rita, forged)
	if ra.ResponseAction != "errors" || !strings.Contains(strings.Join(values(ra.Errors), " "), "only for yourself or your direct reports") {
		t.Fatalf("non-manager with a forged target: %+v", ra)
	}
	for k := range ra.Errors {
		if k == views.BlockReqTarget {
			t.Fatalf("error keyed to %s, a block rita's form does not have: %+v", k, ra.Errors)
		}
	}
	e.fake.CloseViews(rita)

	// Mona manages Rita: the form offers Me and Rita, and nobody else.
	form := e.openRequestForm(mona)
	if !strings.Contains(string(form.JSON), views.BlockReqTarget) || !strings.Contains(string(form.JSON), e.users["rita"].ID) ||
		strings.Contains(string(form.JSON), e.users["dave"].ID) {
		t.Fatalf("manager's form should offer exactly her reports: %s", form.JSON)
	}
	// Dave is not her report: a value the menu never offered is refused on the server.
	if _, err := e.fake.Choose(form.ID, views.BlockReqTarget, views.ActionReqTarget, e.users["dave"].ID); err == nil {
		t.Fatal("the fake let a test pick an option the menu does not offer")
	}
	for _, who := range []string{e.users["dave"].ID, "0195-not-a-user"} {
		bad := e.requestValues(form, views.DurationValue(8*time.Hour), map[string]map[string]slackfake.StateValue{
			views.BlockReqTarget: {views.ActionReqTarget: selectValue(who)}})
		if ra := e.submit(mona, bad); ra.ResponseAction != "errors" || ra.Errors[views.BlockReqTarget] == "" {
			t.Fatalf("target %s: %+v, want an inline error on the target", who, ra)
		}
	}
	if rs := append(e.requestsBy("mona"), e.requestsBy("rita")...); len(rs) != 0 {
		t.Fatalf("refused forms stored requests: %+v", rs)
	}

	// For Rita: preview, create; Rita is the target, Mona the requester.
	target, err := e.fake.Choose(form.ID, views.BlockReqTarget, views.ActionReqTarget, e.users["rita"].ID)
	rqMust(t, err)
	ra = e.submit(mona, e.requestValues(form, views.DurationValue(8*time.Hour), map[string]map[string]slackfake.StateValue{
		views.BlockReqTarget: {views.ActionReqTarget: target}}))
	if ra.ResponseAction != "update" || ra.View.CallbackID != views.CallbackRequestPreview || !strings.Contains(string(ra.View.Blocks), "Rita") {
		t.Fatalf("preview for a report: %+v", ra)
	}
	if ra := e.submit(mona, nil); ra.ResponseAction != "update" || ra.View.CallbackID != views.CallbackRequestDone {
		t.Fatalf("create: %+v", ra)
	}
	r := e.onlyRequest("mona")
	if r.TargetUserID != e.users["rita"].ID || r.RequesterID != e.users["mona"].ID || r.Status != accessbot.StatusPending {
		t.Fatalf("stored %+v, want mona asking for rita", r)
	}
	// Mona is Rita's manager but asked herself: she never approves it.
	e.noDM(mona, r.ID)
	if _, err := e.svc.Decide(e.ctx, requests.DecideInput{TenantID: e.tenant.ID, RequestID: r.ID, ActorID: e.users["mona"].ID,
		Level: r.Level, Decision: accessbot.DecisionApprove}); err == nil {
		t.Fatal("the requester approved her own request for a report")
	}
}

func values(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// A custom duration in hours: bad numbers and more than the application's
// maximum are refused inline on the hours field; a good one is stored.
func TestE2ERequestCustomDuration(t *testing.T) {
	e := startRequests(t, "sqlite", requests.Policy{})
	rita := slackID("rita")
	form := e.openRequestForm(rita)
	hours := func(h string) map[string]map[string]slackfake.StateValue {
		return e.requestValues(form, views.DurationCustom, map[string]map[string]slackfake.StateValue{
			views.BlockReqCustomHours: {views.ActionReqCustomHours: slackfake.PlainTextValue(h)}})
	}
	for _, c := range []struct{ hours, want string }{
		{"", "Type a number of hours"},
		{"soon", "Type a number of hours"},
		{"NaN", "Type a number of hours"},
		{"-3", "Type a number of hours"},
		{"0.25", "Type a number of hours"},
		{"1e9", "Type a number of hours"},
		{"200", "at most 7 days"}, // GitLab allows at most 168 hours
	} {
		ra := e.submit(rita, hours(c.hours))
		if ra.ResponseAction != "errors" || !strings.Contains(ra.Errors[views.BlockReqCustomHours], c.want) {
			t.Fatalf("custom %q hours: %+v, want %q on the hours field", c.hours, ra, c.want)
		}
	}
	if rs := e.requestsBy("rita"); len(rs) != 0 {
		t.Fatalf("refused durations stored requests: %+v", rs)
	}
	ra := e.submit(rita, hours(" 36 "))
	if ra.ResponseAction != "update" || !strings.Contains(string(ra.View.Blocks), "36 hours") {
		t.Fatalf("36 hours: %+v", ra)
	}
	if ra := e.submit(rita, nil); ra.View.CallbackID != views.CallbackRequestDone {
		t.Fatalf("create: %+v", ra)
	}
	if r := e.onlyRequest("rita"); r.Duration != 36*time.Hour {
		t.Fatalf("stored duration %v, want 36h", r.Duration)
	}
}

// Details opens the full request (card, chain, history) for those involved,
// and nobody else.
func TestE2EDetailsModal(t *testing.T) {
	e := startRequests(t, "sqlite", requests.Policy{})
	r := e.createAccess("rita", "Maintainers")
	mona := e.approvalDM(slackID("mona"), r.ID)

	e.click(slackID("mona"), mona, views.ActionDetails, r.ID)
	v := e.topView(slackID("mona"), views.CallbackRequestDetails, "Maintainers", "GitLab", "Approval chain", "Owen, Olga", "No decisions yet", "Release 4.2")
	if strings.Contains(string(v.JSON), `"submit"`) && !strings.Contains(string(v.JSON), `"submit":null`) {
		t.Fatalf("the details modal should only be closed: %s", v.JSON)
	}
	e.click(slackID("mona"), mona, views.ActionApprove, r.ID)
	owen := e.approvalDM(slackID("owen"), r.ID)
	e.click(slackID("owen"), owen, views.ActionDetails, r.ID)
	e.topView(slackID("owen"), views.CallbackRequestDetails, "Mona", "level 2 of 2")

	// The requester may look too (from /access mine).
	e.fake.SendInteractive(e.fake.BlockAction(e.team.ID, slackID("rita"), slackfake.Action{ActionID: views.ActionDetails, Value: r.ID}))
	e.topView(slackID("rita"), views.CallbackRequestDetails, "Maintainers")

	// Dave has nothing to do with it: no modal, the request stays hidden.
	e.fake.SendInteractive(e.fake.BlockAction(e.team.ID, slackID("dave"), slackfake.Action{ActionID: views.ActionDetails, Value: r.ID}))
	e.ephemeral(slackID("dave"), "I can't find that request.")
	if vs := e.fake.OpenViews(slackID("dave")); len(vs) != 0 {
		t.Fatalf("details opened for an outsider: %+v", vs)
	}
}
