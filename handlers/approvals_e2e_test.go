package handlers_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/store/storetest"
)

func TestE2EDenyWithReason(t *testing.T) {
	e := startRequests(t, "sqlite", requests.Policy{})
	r := e.createAccess("rita", "Maintainers")
	confirm := e.dm(slackID("rita"), "Your request for Maintainers")
	msg := e.approvalDM(slackID("mona"), r.ID)

	e.click(slackID("mona"), msg, views.ActionDeny, r.ID)
	e.topView(slackID("mona"), views.CallbackDenyReason, "Deny")
	if ra := e.submit(slackID("mona"), map[string]map[string]slackfake.StateValue{
		views.BlockDenyReason: {views.ActionDenyReason: slackfake.PlainTextValue("   ")}}); ra.ResponseAction != "errors" || ra.Errors[views.BlockDenyReason] == "" {
		t.Fatalf("deny without reason: %+v, want an inline error", ra)
	}
	if ra := e.submit(slackID("mona"), map[string]map[string]slackfake.StateValue{
		views.BlockDenyReason: {views.ActionDenyReason: slackfake.PlainTextValue("Not during the freeze")}}); ra.ResponseAction != "" {
		t.Fatalf("deny with reason: %+v, want the modal closed", ra)
	}
	e.waitUpdated(msg, "Denied by Mona")
	e.thread(confirm, "denied by Mona. Your request will not go ahead. Reason: Not during the freeze")
	if got := e.request(r.ID); got.Status != accessbot.StatusDenied {
		t.Fatalf("status %s, want denied", got.Status)
	}
	ds := e.decisions(r.ID)
	if len(ds) != 1 || ds[0].Decision != accessbot.DecisionDeny || ds[0].Reason != "Not during the freeze" {
		t.Fatalf("decisions %+v", ds)
	}
	// Level 2 is never asked.
	e.noDM(slackID("owen"), "Maintainers")
}

func TestE2ESelfApprovalRefused(t *testing.T) {
	e := startRequests(t, "sqlite", requests.Policy{})
	r := e.createAccess("rita", "Maintainers")
	msg := e.approvalDM(slackID("mona"), r.ID)
	// Rita presses Approve on a copy of the approval message (a forwarded
	// button, or a crafted payload): the server refuses.
	e.fake.SendInteractive(e.fake.BlockAction(e.team.ID, slackID("rita"), slackfake.Action{
		ActionID: views.ActionApprove, BlockID: actionsBlockID(t, msg), Value: r.ID}))
	e.ephemeral(slackID("rita"), "You can't approve or deny your own request")
	// So does Deny (no modal opens).
	e.fake.SendInteractive(e.fake.BlockAction(e.team.ID, slackID("rita"), slackfake.Action{
		ActionID: views.ActionDeny, BlockID: actionsBlockID(t, msg), Value: r.ID}))
	// A non-approver is refused too.
	e.fake.SendInteractive(e.fake.BlockAction(e.team.ID, slackID("dave"), slackfake.Action{
		ActionID: views.ActionApprove, BlockID: actionsBlockID(t, msg), Value: r.ID}))
	e.ephemeral(slackID("dave"), "You are not an approver")
	if ds := e.decisions(r.ID); len(ds) != 0 {
		t.Fatalf("decisions %+v, want none", ds)
	}
	if vs := e.fake.OpenViews(slackID("rita")); len(vs) != 0 {
		t.Fatalf("a deny modal opened for the requester: %+v", vs)
	}
	if got := e.request(r.ID); got.Status != accessbot.StatusPending || got.Level != 0 {
		t.Fatalf("request moved: %+v", got)
	}
}

// Two owners click Approve at once, the winner's click is redelivered, and
// a stale button is pressed later: one decision, one audit entry, and the
// others are told who decided.
func TestE2ERacingApproversRedeliveryAndStaleButton(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			e := startRequests(t, driver, requests.Policy{})
			r := e.createAccess("rita", "Maintainers")
			mona := e.approvalDM(slackID("mona"), r.ID)
			e.click(slackID("mona"), mona, views.ActionApprove, r.ID)
			owen := e.approvalDM(slackID("owen"), r.ID)
			olga := e.approvalDM(slackID("olga"), r.ID)

			var envs []string
			var mu sync.Mutex
			var wg sync.WaitGroup
			for _, c := range []struct {
				user string
				m    slackfake.Message
			}{{slackID("owen"), owen}, {slackID("olga"), olga}} {
				wg.Go(func() {
					env := e.click(c.user, c.m, views.ActionApprove, r.ID)
					mu.Lock()
					envs = append(envs, env)
					mu.Unlock()
				})
			}
			wg.Wait()
			for _, env := range envs {
				rqMust(t, e.fake.Redeliver(env))
			}
			if err := e.fake.WaitFor(e.ctx, func() bool { return e.request(r.ID).Status == accessbot.StatusApproved }); err != nil {
				t.Fatal(err)
			}
			// The loser hears who won.
			err := e.fake.WaitFor(e.ctx, func() bool {
				for _, m := range e.fake.AllMessages() {
					if m.Source == "response_url" && strings.Contains(m.Text, "already approved by") {
						return true
					}
				}
				return false
			})
			if err != nil {
				t.Fatalf("the losing approver was not told: %v", err)
			}
			var winner string
			for _, d := range e.decisions(r.ID) {
				if d.Level == 1 {
					if winner != "" {
						t.Fatalf("two level-2 decisions: %+v", e.decisions(r.ID))
					}
					winner = d.ApproverID
				}
			}
			if n := e.auditCount(r.ID, requests.ActionApproved); n != 2 {
				t.Fatalf("%d approval audit entries, want 2 (one per level)", n)
			}
			name := "Owen"
			if winner == e.users["olga"].ID {
				name = "Olga"
			}
			for _, m := range []slackfake.Message{owen, olga} {
				e.waitUpdated(m, "Approved by "+name)
			}

			// A stale button: Mona presses her level-1 Approve again later.
			e.click(slackID("mona"), mona, views.ActionApprove, r.ID)
			e.ephemeral(slackID("mona"), "already approved by Mona")
			if n := len(e.decisions(r.ID)); n != 2 {
				t.Fatalf("%d decisions after the stale click, want 2", n)
			}
		})
	}
}

func TestE2ECrossTenantRequestRefused(t *testing.T) {
	e := startRequests(t, "sqlite", requests.Policy{})
	other := &accessbot.Tenant{Slug: "globex", Name: "Globex"}
	rqMust(t, e.st.CreateTenant(e.ctx, other))
	boss := &accessbot.User{TenantID: other.ID, Email: "boss@globex.test", Name: "Boss", Status: accessbot.UserActive, Role: accessbot.RoleAdmin}
	rqMust(t, e.st.CreateUser(e.ctx, boss))
	worker := &accessbot.User{TenantID: other.ID, Email: "w@globex.test", Name: "Worker", Status: accessbot.UserActive, ManagerID: boss.ID}
	rqMust(t, e.st.CreateUser(e.ctx, worker))
	app := &accessbot.Application{TenantID: other.ID, Name: "Vault"}
	rqMust(t, e.st.CreateApplication(e.ctx, app))
	conn := &accessbot.Connection{TenantID: other.ID, AppID: app.ID, Name: "ops", Type: "group"}
	rqMust(t, e.st.CreateConnection(e.ctx, conn))
	rqMust(t, e.st.UpsertApprovalChain(e.ctx, &accessbot.ApprovalChain{TenantID: other.ID, Name: "default",
		Levels: []accessbot.ApprovalLevel{{Approvers: []accessbot.Approver{{Kind: accessbot.ApproverManager}}}}}))
	theirs, err := e.svc.Create(e.ctx, requests.UserAccess{TenantID: other.ID, RequesterID: worker.ID, AppID: app.ID,
		ConnectionID: conn.ID, Duration: time.Hour, Justification: "Need the ops vault today."})
	rqMust(t, err)

	// Acme's admin presses buttons carrying Globex's request id.
	actions := []string{views.ActionApprove, views.ActionDeny, views.ActionDetails, views.ActionCancel, views.ActionWhyApprovers}
	for _, action := range actions {
		e.fake.SendInteractive(e.fake.BlockAction(e.team.ID, slackID("ada"), slackfake.Action{
			ActionID: action, BlockID: views.ApprovalActionsBlockID(0, 0), Value: theirs.ID}))
	}
	err = e.fake.WaitFor(e.ctx, func() bool {
		n := 0
		for _, m := range e.fake.AllMessages() {
			if m.Channel == slackfake.DMChannel(slackID("ada")) && m.Text == "I can't find that request." {
				n++
			}
		}
		return n == len(actions)
	})
	if err != nil {
		t.Fatalf("cross-tenant clicks were not all refused: %v", err)
	}
	got, err := e.st.GetRequest(e.ctx, other.ID, theirs.ID)
	rqMust(t, err)
	if ds, _ := e.st.ListDecisions(e.ctx, other.ID, theirs.ID); got.Status != accessbot.StatusPending || len(ds) != 0 {
		t.Fatalf("the other tenant's request changed: %+v %+v", got, ds)
	}
	if vs := e.fake.OpenViews(slackID("ada")); len(vs) != 0 {
		t.Fatalf("a modal opened for another tenant's request: %+v", vs)
	}
}

// chooseConnKind picks the kind on the connection form as a person does:
// the radio_buttons input dispatches a block action whose selected_option
// (and the view's state) carry the choice. It returns the state value.
func (e *rqEnv) chooseConnKind(user, viewID, kind string) slackfake.StateValue {
	e.t.Helper()
	sv, err := e.fake.Choose(viewID, views.BlockConnKind, views.ActionConnKind, kind)
	rqMust(e.t, err)
	if sv["type"] != "radio_buttons" {
		e.t.Fatalf("the connection kind is a %v, want radio_buttons", sv["type"])
	}
	e.fake.SendInteractive(e.fake.ViewAction(e.team.ID, user, viewID,
		map[string]map[string]slackfake.StateValue{views.BlockConnKind: {views.ActionConnKind: sv}},
		sv.AsAction(views.BlockConnKind, views.ActionConnKind)))
	return sv
}

// chooseConnApp picks the application (an external_select) on the connection form.
func (e *rqEnv) chooseConnApp(user, viewID string, kind slackfake.StateValue, app *accessbot.Application) slackfake.StateValue {
	e.t.Helper()
	sv, err := e.fake.Choose(viewID, views.BlockConnApp, views.ActionConnApp, app.ID)
	rqMust(e.t, err)
	e.fake.SendInteractive(e.fake.ViewAction(e.team.ID, user, viewID,
		map[string]map[string]slackfake.StateValue{views.BlockConnKind: {views.ActionConnKind: kind}, views.BlockConnApp: {views.ActionConnApp: sv}},
		sv.AsAction(views.BlockConnApp, views.ActionConnApp)))
	return sv
}

// withChoices adds the kind radio and application select to submitted values, as Slack's state has them.
func withChoices(values map[string]map[string]slackfake.StateValue, kind, app slackfake.StateValue) map[string]map[string]slackfake.StateValue {
	out := map[string]map[string]slackfake.StateValue{
		views.BlockConnKind: {views.ActionConnKind: kind},
		views.BlockConnApp:  {views.ActionConnApp: app},
	}
	for k, v := range values {
		out[k] = v
	}
	return out
}

// connectionFlow drives /access connection for kind and returns the created request.
func (e *rqEnv) connectionFlow(kind string, values map[string]map[string]slackfake.StateValue, previewWants ...string) *accessbot.AccessRequest {
	e.t.Helper()
	rita := slackID("rita")
	e.ack(e.fake.SendSlashCommand(e.fake.SlashCommand(e.team.ID, rita, "connection")), nil)
	form := e.topView(rita, views.CallbackConnectionForm, "Groups, roles, policies", "Create a connection", "Add a new group, role or policy to an application.",
		"Change what a connection grants", "Delete a connection")
	kindState := e.chooseConnKind(rita, form.ID, kind)
	e.topView(rita, views.CallbackConnectionForm, views.BlockConnApp)
	appState := e.chooseConnApp(rita, form.ID, kindState, e.entra)
	values = withChoices(values, kindState, appState)
	switch kind {
	case views.ConnKindCreate:
		e.topView(rita, views.CallbackConnectionForm, "Mail nickname")
	case views.ConnKindAssign:
		e.topView(rita, views.CallbackConnectionForm, views.BlockConnGrants, "lake (storage)")
	default:
		e.topView(rita, views.CallbackConnectionForm, views.BlockConnConnection)
	}
	ra := e.submit(rita, values)
	if ra.ResponseAction != "update" || ra.View.CallbackID != views.CallbackConnectionPreview {
		e.t.Fatalf("%s form submit: %+v, want the preview", kind, ra)
	}
	for _, w := range previewWants {
		if !strings.Contains(string(ra.View.Blocks), w) {
			e.t.Fatalf("%s preview lacks %q: %s", kind, w, ra.View.Blocks)
		}
	}
	if ra := e.submit(rita, nil); ra.ResponseAction != "update" || ra.View.CallbackID != views.CallbackRequestDone {
		e.t.Fatalf("%s preview submit: %+v", kind, ra)
	}
	rs, err := e.st.ListRequestsByRequester(e.ctx, e.tenant.ID, e.users["rita"].ID, 1)
	rqMust(e.t, err)
	return &rs[0]
}

func TestE2EConnectionRequests(t *testing.T) {
	e := startRequests(t, "sqlite", requests.Policy{})

	t.Run("creation", func(t *testing.T) {
		base := map[string]map[string]slackfake.StateValue{
			views.BlockConnName:                 {views.ActionConnName: slackfake.PlainTextValue("Admins")},
			views.BlockConnType:                 {views.ActionConnType: selectValue("group")},
			views.BlockConnDescription:          {views.ActionConnDescription: slackfake.PlainTextValue("Reads the lake")},
			views.BlockConnFieldPrefix + "nick": {views.ActionConnField: slackfake.PlainTextValue("datareaders")},
			views.BlockConnFieldPrefix + "vis":  {views.ActionConnField: selectValue("private")},
		}
		// A taken name comes back inline on the name block (the form then stays open).
		rita := slackID("rita")
		e.ack(e.fake.SendSlashCommand(e.fake.SlashCommand(e.team.ID, rita, "connection")), nil)
		form := e.topView(rita, views.CallbackConnectionForm)
		kindState := e.chooseConnKind(rita, form.ID, views.ConnKindCreate)
		e.topView(rita, views.CallbackConnectionForm, views.BlockConnApp)
		appState := e.chooseConnApp(rita, form.ID, kindState, e.entra)
		e.topView(rita, views.CallbackConnectionForm, "Mail nickname")
		if ra := e.submit(rita, withChoices(base, kindState, appState)); ra.ResponseAction != "errors" || !strings.Contains(ra.Errors[views.BlockConnName], "already has a connection named") {
			t.Fatalf("taken name: %+v", ra)
		}
		missing := map[string]map[string]slackfake.StateValue{}
		for k, v := range base {
			missing[k] = v
		}
		missing[views.BlockConnName] = map[string]slackfake.StateValue{views.ActionConnName: slackfake.PlainTextValue("data-readers")}
		delete(missing, views.BlockConnFieldPrefix+"nick")
		if ra := e.submit(rita, withChoices(missing, kindState, appState)); ra.ResponseAction != "errors" || !strings.Contains(ra.Errors[views.BlockConnFieldPrefix+"nick"], "Mail nickname is required") {
			t.Fatalf("missing schema field: %+v", ra)
		}
		e.fake.CloseViews(rita)

		good := base
		good[views.BlockConnName] = map[string]slackfake.StateValue{views.ActionConnName: slackfake.PlainTextValue("data-readers")}
		r := e.connectionFlow(views.ConnKindCreate, good, "data-readers", "Mail nickname", "datareaders")
		want := `{"name":"data-readers","type":"group","description":"Reads the lake","fields":{"nick":"datareaders","vis":"private"}}`
		if r.Kind != accessbot.RequestConnectionCreate || string(r.Payload) != want {
			t.Fatalf("stored %s %s\nwant %s", r.Kind, r.Payload, want)
		}
		e.approvalDM(slackID("ada"), r.ID)
	})

	t.Run("assignment", func(t *testing.T) {
		values := map[string]map[string]slackfake.StateValue{
			views.BlockConnConnection: {views.ActionConnConnection: selectValue(e.conns["Admins"].ID)},
			views.BlockConnGrants:     {views.ActionConnGrants: multiValue("r:"+e.lake.ID, "c:"+e.conns["Readers"].ID)},
			views.BlockConnRevokes:    {views.ActionConnRevokes: multiValue("c:" + e.conns["Old"].ID)},
		}
		// A grant that is also a revoke is refused inline.
		rita := slackID("rita")
		e.ack(e.fake.SendSlashCommand(e.fake.SlashCommand(e.team.ID, rita, "connection")), nil)
		form := e.topView(rita, views.CallbackConnectionForm)
		kindState := e.chooseConnKind(rita, form.ID, views.ConnKindAssign)
		e.topView(rita, views.CallbackConnectionForm, views.BlockConnApp)
		appState := e.chooseConnApp(rita, form.ID, kindState, e.entra)
		e.topView(rita, views.CallbackConnectionForm, views.BlockConnGrants)
		both := map[string]map[string]slackfake.StateValue{
			views.BlockConnConnection: values[views.BlockConnConnection],
			views.BlockConnGrants:     {views.ActionConnGrants: multiValue("r:" + e.lake.ID)},
			views.BlockConnRevokes:    {views.ActionConnRevokes: multiValue("r:" + e.lake.ID)},
		}
		if ra := e.submit(rita, withChoices(both, kindState, appState)); ra.ResponseAction != "errors" || !strings.Contains(ra.Errors[views.BlockConnRevokes], "both granted and revoked") {
			t.Fatalf("grant and revoke: %+v", ra)
		}
		e.fake.CloseViews(rita)

		r := e.connectionFlow(views.ConnKindAssign, values, "lake (storage)", "Readers (group)", "Old (group)")
		want := `{"grants":[{"type":"storage","source_name":"lake"},{"type":"group","source_name":"Readers"}],"revokes":[{"type":"group","source_name":"Old"}]}`
		if r.Kind != accessbot.RequestConnectionAssign || r.ConnectionID != e.conns["Admins"].ID || string(r.Payload) != want {
			t.Fatalf("stored %s %s %s\nwant %s", r.Kind, r.ConnectionID, r.Payload, want)
		}
	})

	t.Run("deletion", func(t *testing.T) {
		r := e.connectionFlow(views.ConnKindDelete, map[string]map[string]slackfake.StateValue{
			views.BlockConnConnection:    {views.ActionConnConnection: selectValue(e.conns["Old"].ID)},
			views.BlockConnJustification: {views.ActionConnJustification: slackfake.PlainTextValue("Nobody uses it.")},
		}, "Connection deletion", "Old (group)", "Nobody uses it.")
		want := `{"name":"Old","type":"group"}`
		if r.Kind != accessbot.RequestConnectionDelete || r.ConnectionID != e.conns["Old"].ID || string(r.Payload) != want {
			t.Fatalf("stored %s %s %s\nwant %s", r.Kind, r.ConnectionID, r.Payload, want)
		}
		if r.Justification != "Nobody uses it." {
			t.Fatalf("justification %q", r.Justification)
		}
	})
}

// Reminder, escalation and expiry, driven by calling Tick with a chosen time.
func TestE2ETickReminderEscalationExpiry(t *testing.T) {
	e := startRequests(t, "sqlite", requests.Policy{ReminderAfter: time.Hour, EscalateAfter: 2 * time.Hour, ExpireAfter: 24 * time.Hour})
	r := e.createAccess("rita", "Maintainers")
	confirm := e.dm(slackID("rita"), "Your request for Maintainers")
	mona := e.approvalDM(slackID("mona"), r.ID)

	tick := func(at time.Duration, want requests.TickResult) {
		t.Helper()
		got, err := e.svc.Tick(e.ctx, rqT0.Add(at))
		rqMust(t, err)
		if got != want {
			t.Fatalf("Tick(T0+%v) = %+v, want %+v", at, got, want)
		}
	}
	tick(59*time.Minute, requests.TickResult{})
	tick(time.Hour, requests.TickResult{Reminded: 1})
	e.thread(mona, "Reminder: Rita's request for Maintainers in GitLab (level 1 of 2) still waits for you")
	tick(90*time.Minute, requests.TickResult{}) // one reminder only

	tick(2*time.Hour, requests.TickResult{Escalated: 1})
	ada := e.approvalDM(slackID("ada"), r.ID)
	e.thread(confirm, "I asked the admins too: Ada")
	if !strings.Contains(string(ada.Blocks), "escalated to admins") {
		t.Fatalf("escalated DM does not say so: %s", ada.Blocks)
	}

	tick(24*time.Hour, requests.TickResult{Expired: 1})
	e.thread(confirm, "Expired: nobody decided in time")
	e.waitUpdated(mona, "Expired before anyone decided")
	e.waitUpdated(ada, "Expired before anyone decided")
	if got := e.request(r.ID); got.Status != accessbot.StatusExpired {
		t.Fatalf("status %s, want expired", got.Status)
	}
	// A late click on the expired request is told so.
	e.click(slackID("mona"), mona, views.ActionApprove, r.ID)
	e.ephemeral(slackID("mona"), "This request expired")
}

// A delegate receives an away approver's requests while the delegation lasts.
func TestE2EDelegation(t *testing.T) {
	e := startRequests(t, "sqlite", requests.Policy{})
	mona := e.users["mona"]
	until := rqT0.Add(5 * 24 * time.Hour)
	mona.DelegateID, mona.DelegateUntil = e.users["dave"].ID, &until
	rqMust(t, e.st.UpdateUser(e.ctx, mona))

	r := e.createAccess("rita", "Maintainers")
	msg := e.approvalDM(slackID("dave"), r.ID)
	e.noDM(slackID("mona"), r.ID)
	e.click(slackID("dave"), msg, views.ActionApprove, r.ID)
	e.waitUpdated(msg, "Approved by Dave")

	// After the delegation ends, Mona is asked again.
	e.clock.Set(until.Add(time.Hour))
	r2 := e.createAccess("rita", "Developers")
	e.approvalDM(slackID("mona"), r2.ID)
	e.noDM(slackID("dave"), r2.ID)
}

func TestE2EListsAndAudit(t *testing.T) {
	e := startRequests(t, "sqlite", requests.Policy{})
	r := e.createAccess("rita", "Maintainers")
	e.approvalDM(slackID("mona"), r.ID)

	var ack struct {
		Text   string `json:"text"`
		Blocks []any  `json:"blocks"`
	}
	e.ack(e.fake.SendSlashCommand(e.fake.SlashCommand(e.team.ID, slackID("rita"), "mine")), &ack)
	if !strings.Contains(ack.Text, "Your access requests (1)") {
		t.Fatalf("mine: %q", ack.Text)
	}
	ack.Text = ""
	e.ack(e.fake.SendSlashCommand(e.fake.SlashCommand(e.team.ID, slackID("mona"), "approvals")), &ack)
	if !strings.Contains(ack.Text, "Waiting for your approval (1)") {
		t.Fatalf("approvals: %q", ack.Text)
	}
	// Approve from the ephemeral list (no level in a DM: the block id carries it).
	e.fake.SendInteractive(e.fake.BlockAction(e.team.ID, slackID("mona"), slackfake.Action{
		ActionID: views.ActionApprove, BlockID: views.ApprovalActionsBlockID(0, 1), Value: r.ID}))
	e.ephemeral(slackID("mona"), "You approved request "+r.ID)
	e.approvalDM(slackID("owen"), r.ID)

	// Cancel from /access mine.
	e.fake.SendInteractive(e.fake.BlockAction(e.team.ID, slackID("rita"), slackfake.Action{ActionID: views.ActionCancel, Value: r.ID}))
	e.ephemeral(slackID("rita"), "Cancelled request "+r.ID)
	if got := e.request(r.ID); got.Status != accessbot.StatusCancelled {
		t.Fatalf("status %s, want cancelled", got.Status)
	}

	// Audit: admins only.
	ack.Text = ""
	e.ack(e.fake.SendSlashCommand(e.fake.SlashCommand(e.team.ID, slackID("rita"), "audit "+r.ID)), &ack)
	if !strings.Contains(ack.Text, "only accessbot admins") {
		t.Fatalf("audit by a member: %q", ack.Text)
	}
	ack.Text = ""
	payload := e.ack(e.fake.SendSlashCommand(e.fake.SlashCommand(e.team.ID, slackID("ada"), "audit "+r.ID)), &ack)
	if !strings.Contains(ack.Text, "Audit of request "+r.ID+": 3 entries") {
		t.Fatalf("audit: %q", ack.Text)
	}
	for _, w := range []string{"request.created", "request.approved", "request.cancelled"} {
		if !strings.Contains(string(payload), w) {
			t.Fatalf("audit lacks %s: %s", w, payload)
		}
	}
	ack.Text = ""
	e.ack(e.fake.SendSlashCommand(e.fake.SlashCommand(e.team.ID, slackID("ada"), "audit 0195-nope")), &ack)
	if ack.Text != "I can't find that request." {
		t.Fatalf("audit of an unknown id: %q", ack.Text)
	}

	// The App Home shows both lists.
	r2 := e.createAccess("rita", "Developers")
	e.approvalDM(slackID("mona"), r2.ID)
	e.fake.SendEvent(e.fake.AppHomeOpened(e.team.ID, slackID("mona")))
	err := e.fake.WaitFor(e.ctx, func() bool {
		v, ok := e.fake.HomeView(slackID("mona"))
		return ok && strings.Contains(string(v.JSON), "Waiting for me (1)") && strings.Contains(string(v.JSON), r2.ID)
	})
	if err != nil {
		t.Fatalf("home never listed the waiting request: %v", err)
	}
	e.fake.SendEvent(e.fake.AppHomeOpened(e.team.ID, slackID("rita")))
	err = e.fake.WaitFor(e.ctx, func() bool {
		v, ok := e.fake.HomeView(slackID("rita"))
		return ok && strings.Contains(string(v.JSON), "My requests (2)")
	})
	if err != nil {
		t.Fatalf("home never listed my requests: %v", err)
	}
}

// Escalation rewrites the original approvers' copies to say so (their
// buttons still work: they remain approvers of the level), and the decision
// that follows shows on every copy, the admins' included.
func TestE2EEscalationUpdatesEveryCopy(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			e := startRequests(t, driver, requests.Policy{EscalateAfter: 2 * time.Hour})
			r := e.createAccess("rita", "Maintainers")
			confirm := e.dm(slackID("rita"), "Your request for Maintainers")
			mona := e.approvalDM(slackID("mona"), r.ID)

			got, err := e.svc.Tick(e.ctx, rqT0.Add(2*time.Hour))
			rqMust(t, err)
			if got.Escalated != 1 {
				t.Fatalf("Tick = %+v, want one escalation", got)
			}
			ada := e.approvalDM(slackID("ada"), r.ID)
			e.thread(confirm, "I asked the admins too: Ada")
			const when = "Escalated to admins at 2025-03-03 11:00 UTC"
			updated := e.waitUpdated(mona, when)
			if !strings.Contains(string(updated.Blocks), views.ActionApprove) {
				t.Fatalf("escalated copy lost its buttons: %s", updated.Blocks)
			}
			if !strings.Contains(ada.Text, when) {
				t.Fatalf("admin's copy %q does not say when the level escalated", ada.Text)
			}

			// Mona, still an approver, decides on her escalated copy.
			e.click(slackID("mona"), updated, views.ActionApprove, r.ID)
			for _, m := range []slackfake.Message{mona, ada} {
				cur := e.waitUpdated(m, "Approved by Mona")
				if strings.Contains(string(cur.Blocks), views.ActionApprove) {
					t.Fatalf("decided copy in %s still has buttons: %s", m.Channel, cur.Blocks)
				}
			}
			e.thread(confirm, "Level 1 of 2: approved by Mona")
			if got := e.request(r.ID); got.Level != 1 || got.Status != accessbot.StatusPending {
				t.Fatalf("request after the level-1 approval: level %d, %s", got.Level, got.Status)
			}
		})
	}
}

// A deny reason is limited: the modal's max_length, and the server again for
// a payload that carries more, in characters rather than bytes.
func TestE2EDenyReasonLength(t *testing.T) {
	if views.MaxDenyReason != requests.MaxReason {
		t.Fatalf("the deny modal allows %d characters, the server %d", views.MaxDenyReason, requests.MaxReason)
	}
	e := startRequests(t, "sqlite", requests.Policy{})
	r := e.createAccess("rita", "Maintainers")
	msg := e.approvalDM(slackID("mona"), r.ID)
	e.click(slackID("mona"), msg, views.ActionDeny, r.ID)
	e.topView(slackID("mona"), views.CallbackDenyReason, `"max_length":2000`)

	deny := func(reason string) responseAction {
		return e.submit(slackID("mona"), map[string]map[string]slackfake.StateValue{
			views.BlockDenyReason: {views.ActionDenyReason: slackfake.PlainTextValue(reason)}})
	}
	if ra := deny(strings.Repeat("x", requests.MaxReason+1)); ra.ResponseAction != "errors" ||
		!strings.Contains(ra.Errors[views.BlockDenyReason], "2000 characters at most (it has 2001)") {
		t.Fatalf("over-long reason: %+v, want an inline error", ra)
	}
	if ds := e.decisions(r.ID); len(ds) != 0 {
		t.Fatalf("an over-long reason was recorded: %+v", ds)
	}
	// 2,000 two-byte characters (4,000 bytes) are within the limit.
	long := strings.Repeat("é", requests.MaxReason)
	if ra := deny(long); ra.ResponseAction != "" {
		t.Fatalf("reason of exactly %d characters: %+v, want the modal closed", requests.MaxReason, ra)
	}
	ds := e.decisions(r.ID)
	if len(ds) != 1 || ds[0].Reason != long {
		t.Fatalf("decisions %d, want one deny with the full reason", len(ds))
	}
}
