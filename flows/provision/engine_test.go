package provision_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/internal/metrics"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

// fixture is a tenant with a requester, an owner, an admin and an
// application whose group chain the test sets, on a running engine.
type fixture struct {
	st                      store.Store
	eng                     *provision.Engine
	q                       *jobs.Queue
	ten                     *accessbot.Tenant
	requester, owner, admin *accessbot.User
	app                     *accessbot.Application
	conn                    *accessbot.Connection
	calls                   *counter
}

// counter is a runner that counts calls per step key, failing while fail says so.
type counter struct {
	mu    sync.Mutex
	calls map[string]int
	fail  func(s provision.Step) error
}

func (c *counter) Run(_ context.Context, s provision.Step) (provision.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[s.Key]++
	if c.fail != nil {
		if err := c.fail(s); err != nil {
			return provision.Result{}, err
		}
	}
	return provision.Result{Outputs: map[string]string{"ticket": "T-" + s.Params["user"]}, Note: "sent " + s.Params["user"]}, nil
}

func (c *counter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.calls {
		n += v
	}
	return n
}

func newFixture(t *testing.T, driver string, chain accessbot.ActionChain) *fixture {
	t.Helper()
	ctx := context.Background()
	st := storetest.Open(t, driver)
	f := &fixture{st: st, calls: &counter{calls: map[string]int{}}}
	f.eng = provision.New(provision.Config{Store: st, StepAttempts: 3, Backoff: func(int) time.Duration { return 10 * time.Millisecond }, Log: zerolog.Nop()})
	f.eng.RegisterProvider(provision.KindWebhook, "acme", f.calls)
	f.eng.Register(provision.KindManual, provision.RunnerFunc(func(context.Context, provision.Step) (provision.Result, error) {
		return provision.Result{Wait: true, Note: "owners asked"}, nil
	}))
	workers := river.NewWorkers()
	f.eng.AddWorkers(workers)
	db := st.(interface{ DB() *sql.DB }).DB()
	q, err := jobs.New(jobs.Config{Driver: driver, DB: db, Workers: workers, PollInterval: 20 * time.Millisecond, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	f.q = q
	f.eng.SetQueue(q)
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = q.Stop(sctx)
	})
	f.ten = &accessbot.Tenant{Slug: "t-prov", Name: "T"}
	must(t, st.CreateTenant(ctx, f.ten))
	mk := func(email string, role accessbot.Role) *accessbot.User {
		u := &accessbot.User{TenantID: f.ten.ID, Email: email, Name: email, Role: role, Status: accessbot.UserActive}
		must(t, st.CreateUser(ctx, u))
		return u
	}
	f.requester, f.owner, f.admin = mk("req@example.com", accessbot.RoleMember), mk("owner@example.com", accessbot.RoleMember), mk("admin@example.com", accessbot.RoleAdmin)
	f.app = &accessbot.Application{TenantID: f.ten.ID, Name: "Acme", Connector: "manual", PrimaryOwnerID: f.owner.ID,
		Provisioning: map[string]accessbot.ActionChain{"group": chain}}
	must(t, st.CreateApplication(ctx, f.app))
	f.conn = &accessbot.Connection{TenantID: f.ten.ID, AppID: f.app.ID, Name: "devs", Type: "group"}
	must(t, st.CreateConnection(ctx, f.conn))
	return f
}

func (f *fixture) approved(t *testing.T, d time.Duration) *accessbot.AccessRequest {
	t.Helper()
	return f.approvedAt(t, d, time.Now().UTC())
}

// approvedAt is a request finally approved at now.
func (f *fixture) approvedAt(t *testing.T, d time.Duration, now time.Time) *accessbot.AccessRequest {
	t.Helper()
	r := &accessbot.AccessRequest{TenantID: f.ten.ID, Kind: accessbot.RequestUserAccess, RequesterID: f.requester.ID,
		TargetUserID: f.requester.ID, AppID: f.app.ID, ConnectionID: f.conn.ID, Duration: d, Justification: "need it",
		Status: accessbot.StatusApproved, DecidedAt: &now,
		Levels: []accessbot.ApprovalLevel{{Approvers: []accessbot.Approver{{Kind: accessbot.ApproverOwners}}, Rule: accessbot.RuleAny}}}
	must(t, f.st.CreateRequest(context.Background(), r))
	return r
}

func (f *fixture) waitFlow(t *testing.T, key string, want accessbot.FlowStatus) *accessbot.ActionFlow {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		fl, err := f.st.GetActionFlowByKey(context.Background(), f.ten.ID, key)
		if err == nil && fl.Status == want {
			return fl
		}
		if time.Now().After(deadline) {
			t.Fatalf("flow %s: want %s, have %+v (err %v)", key, want, fl, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func stepCount(t *testing.T, script, outcome string) float64 {
	t.Helper()
	var m dto.Metric
	if err := metrics.FlowSteps.WithLabelValues(script, outcome).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestApprovedRequestRunsItsChain(t *testing.T) {
	t.Parallel()
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t, driver, accessbot.ActionChain{Provision: []accessbot.ActionScript{
				{Type: "none"},
				{Type: "acme_webhook_add", Params: map[string]string{"user": "{{.Target.Email}}"}},
				{Type: "sleep", Params: map[string]string{"duration": "1s"}},
				{Type: "manual"},
				{Type: "acme_webhook_confirm", Params: map[string]string{"user": "{{.Outputs.ticket}}"}},
			}})
			// Approved 3h ago (say the provision job waited): the grant's 8h
			// count from when the flow finished, not from the approval.
			req := f.approvedAt(t, 8*time.Hour, time.Now().UTC().Add(-3*time.Hour))
			webhooksDone, manualWaiting := stepCount(t, "webhook", "done"), stepCount(t, "manual", "waiting")
			must(t, f.eng.Provision(ctx, req))
			must(t, f.eng.Provision(ctx, req)) // a retried provision job finds the flow
			key := provision.FlowKey(provision.Provision, req.ID)
			// While the sleep step is current, an answer to it is "not yet", not "already".
			for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				fl, err := f.st.GetActionFlowByKey(ctx, f.ten.ID, key)
				if err == nil && fl.Current == 2 && !fl.Status.Finished() {
					if err := f.eng.Resolve(ctx, f.ten.ID, fl.ID, 2, f.admin.ID, provision.OutcomeDone, ""); !errors.Is(err, provision.ErrNotYetWaiting) {
						t.Fatalf("answer to the running step: %v, want ErrNotYetWaiting", err)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("flow never reached its sleep step: %+v %v", fl, err)
				}
			}
			fl := f.waitFlow(t, key, accessbot.FlowWaiting)
			if fl.Current != 3 || fl.Steps[2].Status != accessbot.FlowDone || fl.Steps[1].Note != "sent req@example.com" {
				t.Fatalf("waiting flow: %+v", fl)
			}
			if got := fl.Steps[2].FinishedAt.Sub(*fl.Steps[2].StartedAt); got < time.Second {
				t.Fatalf("sleep step took %s, want at least 1s", got)
			}
			err := f.eng.Resolve(ctx, f.ten.ID, fl.ID, 3, f.requester.ID, provision.OutcomeDone, "")
			if !errors.Is(err, provision.ErrForbidden) {
				t.Fatalf("requester answered the manual step: %v", err)
			}
			must(t, f.eng.Resolve(ctx, f.ten.ID, fl.ID, 3, f.owner.ID, provision.OutcomeDone, ""))
			err = f.eng.Resolve(ctx, f.ten.ID, fl.ID, 3, f.admin.ID, provision.OutcomeDone, "")
			if !errors.Is(err, provision.ErrAlreadyAnswered) {
				t.Fatalf("second answer: %v, want ErrAlreadyAnswered", err)
			}
			fl = f.waitFlow(t, key, accessbot.FlowDone)
			if fl.Steps[4].Note != "sent T-req@example.com" || fl.Steps[3].AnsweredBy != f.owner.ID || fl.Steps[3].Note != "done by owner@example.com" {
				t.Fatalf("done flow: %+v", fl.Steps)
			}
			if n := f.calls.total(); n != 2 {
				t.Fatalf("webhook runner called %d times, want 2", n)
			}
			// accessbot_flow_steps_total by script type and outcome (at
			// least: the other driver's subtest counts too).
			if d := stepCount(t, "webhook", "done") - webhooksDone; d < 2 {
				t.Errorf("accessbot_flow_steps_total{script=webhook,outcome=done} moved by %v, want at least 2", d)
			}
			if d := stepCount(t, "manual", "waiting") - manualWaiting; d < 1 {
				t.Errorf("accessbot_flow_steps_total{script=manual,outcome=waiting} moved by %v, want at least 1", d)
			}
			ents, err := f.st.ListEntitlements(ctx, f.ten.ID, f.requester.ID)
			must(t, err)
			if len(ents) != 1 || ents[0].RequestID != req.ID || ents[0].ExpiresAt == nil ||
				ents[0].ExpiresAt.Sub(fl.FinishedAt.Add(8*time.Hour)).Abs() > time.Second || fl.EntitlementID != ents[0].ID ||
				ents[0].GrantedAt.Sub(*fl.FinishedAt).Abs() > time.Second {
				t.Fatalf("grants %+v, want one from request %s granted when the flow finished (%s) and ending 8h later (approved %s)",
					ents, req.ID, fl.FinishedAt, req.DecidedAt)
			}
			audit, err := f.st.ListAudit(ctx, f.ten.ID, fl.ID)
			must(t, err)
			var actions []string
			for _, a := range audit {
				actions = append(actions, a.Action)
			}
			want := "flow.started flow.step_done flow.step_done flow.step_done flow.step_waiting flow.step_answered flow.step_done flow.done"
			if strings.Join(actions, " ") != want {
				t.Fatalf("audit %v, want %s", actions, want)
			}

			// Deprovisioning the grant runs the default chain (manual) and removes it.
			id, err := f.eng.Deprovision(ctx, f.ten.ID, ents[0].ID, f.admin.ID, "review revoke")
			must(t, err)
			id2, err := f.eng.Deprovision(ctx, f.ten.ID, ents[0].ID, f.admin.ID, "again")
			must(t, err)
			if id2 != id {
				t.Fatalf("second Deprovision started flow %s, want the first %s", id2, id)
			}
			dk := provision.FlowKey(provision.Deprovision, ents[0].ID)
			f.waitFlow(t, dk, accessbot.FlowWaiting)
			must(t, f.eng.Resolve(ctx, f.ten.ID, id, 0, f.owner.ID, provision.OutcomeDone, ""))
			f.waitFlow(t, dk, accessbot.FlowDone)
			if ents, _ := f.st.ListEntitlements(ctx, f.ten.ID, f.requester.ID); len(ents) != 0 {
				t.Fatalf("grant still there after deprovisioning: %+v", ents)
			}
		})
	}
}

func TestFailedStepRetriedByAdmin(t *testing.T) {
	t.Parallel()
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t, driver, accessbot.ActionChain{Provision: []accessbot.ActionScript{
				{Type: "acme_webhook_add", Params: map[string]string{"user": "{{.Target.Email}}"}},
			}})
			var broken sync.Mutex
			down := true
			f.calls.fail = func(provision.Step) error {
				broken.Lock()
				defer broken.Unlock()
				if down {
					return errors.New("503 from acme")
				}
				return nil
			}
			req := f.approved(t, 0)
			must(t, f.eng.Provision(ctx, req))
			key := provision.FlowKey(provision.Provision, req.ID)
			fl := f.waitFlow(t, key, accessbot.FlowFailed)
			if fl.Steps[0].Attempts != 3 || !strings.Contains(fl.Steps[0].LastError, "503 from acme") {
				t.Fatalf("failed step: %+v", fl.Steps[0])
			}
			if err := f.eng.Admin(ctx, f.ten.ID, fl.ID, f.owner.ID, provision.AdminRetry); !errors.Is(err, provision.ErrForbidden) {
				t.Fatalf("non-admin retry: %v", err)
			}
			broken.Lock()
			down = false
			broken.Unlock()
			must(t, f.eng.Admin(ctx, f.ten.ID, fl.ID, f.admin.ID, provision.AdminRetry))
			fl = f.waitFlow(t, key, accessbot.FlowDone)
			if fl.Steps[0].LastError != "" {
				t.Fatalf("retried step: %+v", fl.Steps[0])
			}
			if ents, _ := f.st.ListEntitlements(ctx, f.ten.ID, f.requester.ID); len(ents) != 1 || ents[0].ExpiresAt != nil {
				t.Fatalf("grants %+v, want one permanent", ents)
			}
		})
	}
}

func TestStepWithoutRunnerFailsAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, "sqlite", accessbot.ActionChain{Provision: []accessbot.ActionScript{{Type: "gitlab_issue_create"}}})
	req := f.approved(t, 0)
	must(t, f.eng.Provision(ctx, req))
	fl := f.waitFlow(t, provision.FlowKey(provision.Provision, req.ID), accessbot.FlowFailed)
	if fl.Steps[0].Attempts != 1 || !strings.Contains(fl.Steps[0].LastError, `no runner for "gitlab_issue_create"`) {
		t.Fatalf("step: %+v", fl.Steps[0])
	}
	must(t, f.eng.Admin(ctx, f.ten.ID, fl.ID, f.admin.ID, provision.AdminMarkDone))
	if fl = f.waitFlow(t, provision.FlowKey(provision.Provision, req.ID), accessbot.FlowDone); fl.Steps[0].Note != "marked done by admin@example.com" {
		t.Fatalf("marked-done step %+v: want the admin named", fl.Steps[0])
	}
}

// paced is a jobs.Busy error: Slack's pace is full (slackapi.ErrPaceExceeded
// is one, with a 5 s wait; this one waits 10 ms).
type paced struct{}

func (paced) Error() string          { return "slack pacing: wait would exceed the allowed time" }
func (paced) BusyFor() time.Duration { return 10 * time.Millisecond }

// TestPacedStepWaitsWithoutFailing: a step whose runner meets a full Slack
// pace more often than the step may fail is snoozed each time, not failed:
// no attempt is spent, no retry is audited, and the step then succeeds.
func TestPacedStepWaitsWithoutFailing(t *testing.T) {
	t.Parallel()
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t, driver, accessbot.ActionChain{Provision: []accessbot.ActionScript{
				{Type: "acme_webhook_add", Params: map[string]string{"user": "{{.Target.Email}}"}},
			}})
			refused := 0
			f.calls.fail = func(provision.Step) error {
				if refused < 5 { // more than StepAttempts (3)
					refused++
					return fmt.Errorf("post to owner: %w", paced{})
				}
				return nil
			}
			req := f.approved(t, 0)
			must(t, f.eng.Provision(ctx, req))
			fl := f.waitFlow(t, provision.FlowKey(provision.Provision, req.ID), accessbot.FlowDone)
			if n := f.calls.total(); n != 6 {
				t.Fatalf("runner called %d times, want 6 (5 paced, 1 done)", n)
			}
			if s := fl.Steps[0]; s.Attempts != 1 || s.LastError != "" {
				t.Fatalf("step %+v: want one attempt and no error", s)
			}
			audit, err := f.st.ListAudit(ctx, f.ten.ID, fl.ID)
			must(t, err)
			for _, a := range audit {
				if a.Action == provision.ActionStepRetried || a.Action == provision.ActionStepFailed {
					t.Fatalf("a paced run was audited as %s", a.Action)
				}
			}
		})
	}
}
