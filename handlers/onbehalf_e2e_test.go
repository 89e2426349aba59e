package handlers_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/store/storetest"
)

// clickCancel clicks the Cancel button of message m as user.
func (e *rqEnv) clickCancel(user string, m slackfake.Message, id string) string {
	e.t.Helper()
	var blocks []struct {
		BlockID string `json:"block_id"`
	}
	rqMust(e.t, json.Unmarshal(m.Blocks, &blocks))
	for _, b := range blocks {
		if strings.HasPrefix(b.BlockID, views.BlockListItem) {
			return e.fake.SendInteractive(e.fake.BlockActionOnMessage(e.team.ID, user, m.Channel, m.TS,
				slackfake.Action{ActionID: views.ActionCancel, BlockID: b.BlockID, Value: id}))
		}
	}
	e.t.Fatalf("message has no Cancel button: %s", m.Blocks)
	return ""
}

// A manager asks for a skip-level report once the tenant's policy says
// managers: reporting_line (and not before); the report is told in a DM and
// may cancel; the report is never an approver of a request made for them,
// even when the chain names them; nobody else may cancel it.
func TestE2EManagerRequestsForSkipLevelReport(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			e := startRequests(t, driver, requests.Policy{})
			// Dave reports to Rita, who reports to Mona: Dave is Mona's skip-level report.
			dave := *e.users["dave"]
			dave.ManagerID = e.users["rita"].ID
			rqMust(t, e.st.UpdateUser(e.ctx, &dave))
			mona := slackID("mona")

			// Default policy: direct reports only. The form lists Rita, not Dave,
			// and a forged Dave is refused on the server.
			form := e.openRequestForm(mona)
			if !strings.Contains(string(form.JSON), e.users["rita"].ID) || strings.Contains(string(form.JSON), dave.ID) {
				t.Fatalf("direct_reports form: %s", form.JSON)
			}
			forged := e.requestValues(form, views.DurationValue(8*time.Hour), map[string]map[string]slackfake.StateValue{
				views.BlockReqTarget: {views.ActionReqTarget: selectValue(dave.ID)}})
			if ra := e.submit(mona, forged); ra.ResponseAction != "errors" || !strings.Contains(ra.Errors[views.BlockReqTarget], "your direct reports") {
				t.Fatalf("skip-level under direct_reports: %+v", ra)
			}
			e.fake.CloseViews(mona)

			rqMust(t, e.st.PutRequestPolicy(e.ctx, &accessbot.RequestPolicy{TenantID: e.tenant.ID,
				OnBehalf: accessbot.OnBehalf{Managers: accessbot.ReachReportingLine}}))
			form = e.openRequestForm(mona)
			if !strings.Contains(string(form.JSON), dave.ID) || !strings.Contains(string(form.JSON), "reporting line") {
				t.Fatalf("reporting_line form should offer Dave: %s", form.JSON)
			}
			target, err := e.fake.Choose(form.ID, views.BlockReqTarget, views.ActionReqTarget, dave.ID)
			rqMust(t, err)
			ra := e.submit(mona, e.requestValues(form, views.DurationValue(8*time.Hour), map[string]map[string]slackfake.StateValue{
				views.BlockReqTarget: {views.ActionReqTarget: target}}))
			// GitLab's chain: the manager (of Dave: Rita), then the owners.
			if ra.View.CallbackID != views.CallbackRequestPreview || !strings.Contains(string(ra.View.Blocks), "Dave") || !strings.Contains(string(ra.View.Blocks), "Rita") {
				t.Fatalf("preview for a skip-level report: %+v %s", ra, ra.View.Blocks)
			}
			if ra := e.submit(mona, nil); ra.View.CallbackID != views.CallbackRequestDone {
				t.Fatalf("create: %+v", ra)
			}
			r := e.onlyRequest("mona")
			if r.TargetUserID != dave.ID || !slices.Equal(requests.LevelApprovers(r, 0), []string{e.users["rita"].ID}) {
				t.Fatalf("stored %+v, want Mona asking for Dave, Rita approving level 1", r)
			}
			told := e.dm(slackID("dave"), "Mona asked for this access for you: Maintainers in GitLab")
			e.approvalDM(slackID("rita"), r.ID)

			// Rita is neither requester nor target: she cannot cancel it.
			e.clickCancel(slackID("rita"), told, r.ID)
			e.ephemeral(slackID("rita"), "Only the person who asked, or the person it is for")
			if got := e.request(r.ID); got.Status != accessbot.StatusPending {
				t.Fatalf("Rita cancelled: %s", got.Status)
			}
			// Dave cancels from his DM; the DM loses its button.
			e.clickCancel(slackID("dave"), told, r.ID)
			if err := e.fake.WaitFor(e.ctx, func() bool { return e.request(r.ID).Status == accessbot.StatusCancelled }); err != nil {
				t.Fatalf("Dave's cancel: %v (status %s)", err, e.request(r.ID).Status)
			}
			if n := e.auditCount(r.ID, requests.ActionCancelled); n != 1 {
				t.Fatalf("%d cancel audit entries", n)
			}
			upd := e.waitUpdated(told, "Cancelled")
			if strings.Contains(string(upd.Blocks), views.ActionCancel) {
				t.Fatalf("the cancelled request's DM still has its button: %s", upd.Blocks)
			}

			// A chain naming the target: Dave is left out of the approvers, and
			// his click is refused.
			e.chainFor("Developers", accessbot.ApprovalLevel{Rule: accessbot.RuleAny, Approvers: e.approversOf("dave", "owen")})
			r2, err := e.svc.Create(e.ctx, requests.UserAccess{TenantID: e.tenant.ID, RequesterID: e.users["mona"].ID, TargetUserID: dave.ID,
				AppID: e.gitlab.ID, ConnectionID: e.conns["Developers"].ID, Duration: 8 * time.Hour, Justification: "Pairing on the release."})
			rqMust(t, err)
			if got := requests.LevelApprovers(r2, 0); !slices.Equal(got, []string{e.users["owen"].ID}) {
				t.Fatalf("approvers %v, want Owen alone (Dave is the target)", got)
			}
			owenMsg := e.approvalDM(slackID("owen"), r2.ID)
			e.click(slackID("dave"), owenMsg, views.ActionApprove, r2.ID)
			e.ephemeral(slackID("dave"), "a request made for you")
			if ds := e.decisions(r2.ID); len(ds) != 0 {
				t.Fatalf("the target's click counted: %+v", ds)
			}
		})
	}
}

// Admins may request for anyone when admins: true; a named group may
// request its applications (only those) for anyone; others are refused.
func TestE2EOnBehalfAdminsAndGroups(t *testing.T) {
	e := startRequests(t, "sqlite", requests.Policy{})
	rqMust(t, e.st.PutRequestPolicy(e.ctx, &accessbot.RequestPolicy{TenantID: e.tenant.ID,
		OnBehalf: accessbot.OnBehalf{Admins: true, Groups: []accessbot.OnBehalfGroup{
			{Name: "helpdesk", MemberIDs: []string{e.users["owen"].ID}, AppIDs: []string{e.entra.ID}}}}}))
	// Ada (admin) gets a type-ahead over everyone.
	ada := slackID("ada")
	form := e.openRequestForm(ada)
	if got := e.suggest(ada, form.ID, views.BlockReqTarget, views.ActionReqTarget, "ol"); !slices.Equal(got, []string{e.users["olga"].ID}) {
		t.Fatalf("admin's suggestions for \"ol\" = %v", got)
	}
	ask := func(requester, target string, app *accessbot.Application, conn string) error {
		_, err := e.svc.Prepare(e.ctx, requests.UserAccess{TenantID: e.tenant.ID, RequesterID: e.users[requester].ID,
			TargetUserID: e.users[target].ID, AppID: app.ID, ConnectionID: e.conns[conn].ID, Duration: time.Hour, Justification: "Needed for the audit."})
		return err
	}
	for _, tc := range []struct {
		name, requester, target string
		app                     *accessbot.Application
		conn                    string
		ok                      bool
	}{
		{"admin for anyone", "ada", "rita", e.gitlab, "Maintainers", true},
		{"group member, group's application", "owen", "rita", e.entra, "Readers", true},
		{"group member, another application", "owen", "rita", e.gitlab, "Maintainers", false},
		{"nobody special", "dave", "rita", e.entra, "Readers", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ask(tc.requester, tc.target, tc.app, tc.conn)
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
