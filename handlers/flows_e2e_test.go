package handlers_test

import (
	"context"
	"database/sql"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store"
)

// An approved request runs its application's action chain: a webhook step,
// then a manual step that asks the owners and waits. The requester follows
// it in one message in the request's thread, updated as each step runs.
// A failed step reaches the admin with Retry, which (clicked by the admin,
// not by anyone else) runs it again; the admin's Home lists it meanwhile.
func TestE2EApprovedRequestRunsItsActionChain(t *testing.T) {
	var eng *provision.Engine
	var calls, failing atomic.Int32
	failing.Store(1)
	e := startRequests(t, "sqlite", requests.Policy{}, func(st store.Store, n *handlers.Notifier) requests.Provisioner {
		eng = provision.New(provision.Config{Store: st, StepAttempts: 1, Log: zerolog.Nop(), Clock: time.Now})
		eng.Register(provision.KindManual, n.Fulfilment())
		eng.SetNotifier(n.Flows())
		eng.RegisterProvider(provision.KindWebhook, "acme", provision.RunnerFunc(func(_ context.Context, s provision.Step) (provision.Result, error) {
			calls.Add(1)
			if failing.Load() == 1 {
				return provision.Result{}, provision.Permanent(errTest("acme answered 500"))
			}
			return provision.Result{Note: "added " + s.Params["user"]}, nil
		}))
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
		return eng
	})
	e.gitlab.Provisioning = map[string]accessbot.ActionChain{"group": {Provision: []accessbot.ActionScript{
		{Type: "acme_webhook_add", Params: map[string]string{"user": "{{.Target.Email}}"}},
		{Type: "manual"},
	}}}
	rqMust(t, e.st.UpdateApplication(e.ctx, e.gitlab))

	r := e.createAccess("rita", "Maintainers")
	confirm := e.dm(slackID("rita"), "Your request for Maintainers")
	e.click(slackID("mona"), e.approvalDM(slackID("mona"), r.ID), views.ActionApprove, r.ID)
	e.click(slackID("olga"), e.approvalDM(slackID("olga"), r.ID), views.ActionApprove, r.ID)

	flowMsg := e.flowMessage(confirm, "Granting GitLab / Maintainers: failed")
	if !strings.Contains(flowMsg.Text, "acme answered 500") {
		t.Fatalf("the requester's flow message does not show the error: %q", flowMsg.Text)
	}
	// Ada (admin) is told, with the buttons; Dave (not admin) cannot retry.
	alert := e.dm(slackID("ada"), "failed")
	// Ada's Home tab lists the failed flow; Dave's has no such list.
	e.fake.SendEvent(e.fake.AppHomeOpened(e.team.ID, slackID("ada")))
	if err := e.fake.WaitFor(e.ctx, func() bool {
		v, ok := e.fake.HomeView(slackID("ada"))
		return ok && strings.Contains(string(v.JSON), "Provisioning: failed and waiting") &&
			strings.Contains(string(v.JSON), "Granting GitLab / Maintainers: failed") && strings.Contains(string(v.JSON), "acme answered 500")
	}); err != nil {
		v, _ := e.fake.HomeView(slackID("ada"))
		t.Fatalf("the admin's Home does not list the failed flow: %s", v.JSON)
	}
	e.fake.SendEvent(e.fake.AppHomeOpened(e.team.ID, slackID("dave")))
	if err := e.fake.WaitFor(e.ctx, func() bool { _, ok := e.fake.HomeView(slackID("dave")); return ok }); err != nil {
		t.Fatal("dave's Home was never published")
	}
	if v, _ := e.fake.HomeView(slackID("dave")); strings.Contains(string(v.JSON), "Provisioning: failed") {
		t.Fatalf("a non-admin's Home lists flows: %s", v.JSON)
	}
	retry := func(user string) {
		e.fake.SendInteractive(e.fake.BlockActionOnMessage(e.team.ID, user, alert.Channel, alert.TS,
			slackfake.Action{ActionID: views.ActionFlowRetry, BlockID: views.BlockFlowAdmin, Value: flowID(t, e, r.ID)}))
	}
	retry(slackID("dave"))
	e.ephemeral(slackID("dave"), "only accessbot admins")
	// Mark done and Cancel flow are checked on the server too.
	for _, act := range []string{views.ActionFlowMarkDone, views.ActionFlowCancel} {
		e.fake.SendInteractive(e.fake.BlockActionOnMessage(e.team.ID, slackID("dave"), alert.Channel, alert.TS,
			slackfake.Action{ActionID: act, BlockID: views.BlockFlowAdmin, Value: flowID(t, e, r.ID)}))
	}
	if err := e.fake.WaitFor(e.ctx, func() bool {
		n := 0
		for _, m := range e.fake.AllMessages() {
			if (m.Recipient == slackID("dave") || m.Source == "response_url" && m.Channel == slackfake.DMChannel(slackID("dave"))) &&
				strings.Contains(m.Text, "only accessbot admins") {
				n++
			}
		}
		return n >= 3
	}); err != nil {
		t.Fatal("a non-admin's Mark done and Cancel flow were not both refused")
	}
	if f, _ := e.st.GetActionFlowByKey(e.ctx, e.tenant.ID, provision.FlowKey(provision.Provision, r.ID)); f.Status != accessbot.FlowFailed {
		t.Fatalf("after a non-admin's clicks the flow is %s, want still failed", f.Status)
	}
	failing.Store(0)
	retry(slackID("ada"))
	e.waitUpdated(flowMsg, "Granting GitLab / Maintainers: waiting")
	cur := e.waitUpdated(flowMsg, "added rita@acme.test")
	if !strings.Contains(cur.Text, "2. manual waiting: asked 2 owner(s)") {
		t.Fatalf("flow message: %q", cur.Text)
	}
	e.dm(slackID("owen"), "Please grant Maintainers in GitLab to Rita")

	f, err := e.st.GetActionFlowByKey(e.ctx, e.tenant.ID, provision.FlowKey(provision.Provision, r.ID))
	rqMust(t, err)
	rqMust(t, eng.Resolve(e.ctx, e.tenant.ID, f.ID, 1, e.users["owen"].ID, provision.OutcomeDone, ""))
	if cur := e.waitUpdated(flowMsg, "Granting GitLab / Maintainers: done"); !strings.Contains(cur.Text, "2. manual done: done by Owen") {
		t.Fatalf("the done manual step does not say who did it: %q", cur.Text)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("webhook runner called %d times, want 2 (one failure, one retry)", n)
	}
	ents, err := e.st.ListEntitlements(e.ctx, e.tenant.ID, e.users["rita"].ID)
	rqMust(t, err)
	if len(ents) != 1 || ents[0].RequestID != r.ID {
		t.Fatalf("grants %+v, want one from request %s", ents, r.ID)
	}
	// One flow message in the thread, however many steps ran.
	n := 0
	for _, m := range e.fake.Messages(confirm.Channel) {
		if m.ThreadTS == confirm.TS && strings.Contains(m.Text, "Granting") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d flow messages in the thread, want 1", n)
	}
}

type errTest string

func (e errTest) Error() string { return string(e) }

func flowID(t *testing.T, e *rqEnv, requestID string) string {
	t.Helper()
	f, err := e.st.GetActionFlowByKey(e.ctx, e.tenant.ID, provision.FlowKey(provision.Provision, requestID))
	rqMust(t, err)
	return f.ID
}

// flowMessage waits for the flow's message in the thread of m to read want.
func (e *rqEnv) flowMessage(m slackfake.Message, want string) slackfake.Message {
	e.t.Helper()
	var found slackfake.Message
	err := e.fake.WaitFor(e.ctx, func() bool {
		for _, r := range e.fake.Messages(m.Channel) {
			if r.ThreadTS == m.TS && strings.Contains(r.Text, want) {
				found = r
				return true
			}
		}
		return false
	})
	if err != nil {
		e.t.Fatalf("no flow message %q in thread %s", want, m.TS)
	}
	return found
}
