package provision_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

var _ requests.TxProvisioner = (*provision.Engine)(nil)

// holdJobs is a requests.Enqueuer that keeps the request jobs (it never
// runs them: no provision job ever runs), or fails, which rolls back the
// transaction it was called in.
type holdJobs struct {
	fail bool
	jobs []requests.Job
}

func (h *holdJobs) Enqueue(_ context.Context, _ store.Queries, js []requests.Job) error {
	if h.fail {
		return errors.New("job table unavailable")
	}
	h.jobs = append(h.jobs, js...)
	return nil
}

// TestFlowStartsInTheApprovalsTransaction: the final approval creates the
// ActionFlow and queues its first step in its own transaction. The flow
// runs to the end with no provision job run at all; and when that
// transaction fails, neither the approval nor the flow is left.
func TestFlowStartsInTheApprovalsTransaction(t *testing.T) {
	t.Parallel()
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			f := newFixture(t, driver, accessbot.ActionChain{Provision: []accessbot.ActionScript{
				{Type: "acme_webhook_add", Params: map[string]string{"user": "{{.Target.Email}}"}},
			}})
			enq := &holdJobs{}
			svc := requests.New(f.st, nil, f.eng, nil, requests.Policy{}, zerolog.Nop(), requests.WithEnqueuer(enq))
			pending := func() *accessbot.AccessRequest {
				r := &accessbot.AccessRequest{TenantID: f.ten.ID, Kind: accessbot.RequestUserAccess, RequesterID: f.requester.ID,
					TargetUserID: f.requester.ID, AppID: f.app.ID, ConnectionID: f.conn.ID, Justification: "need it", Status: accessbot.StatusPending,
					Levels: []accessbot.ApprovalLevel{{Approvers: []accessbot.Approver{{Kind: accessbot.ApproverUser, UserID: f.owner.ID}}, Rule: accessbot.RuleAny}}}
				must(t, f.st.CreateRequest(ctx, r))
				return r
			}
			approve := func(r *accessbot.AccessRequest) error {
				_, err := svc.Decide(ctx, requests.DecideInput{TenantID: f.ten.ID, RequestID: r.ID, ActorID: f.owner.ID, Decision: accessbot.DecisionApprove})
				return err
			}

			r := pending()
			must(t, approve(r))
			key := provision.FlowKey(provision.Provision, r.ID)
			if _, err := f.st.GetActionFlowByKey(ctx, f.ten.ID, key); err != nil {
				t.Fatalf("no flow right after the approval committed: %v", err)
			}
			fl := f.waitFlow(t, key, accessbot.FlowDone)
			if n := f.calls.total(); n != 1 || len(fl.Steps) != 1 {
				t.Fatalf("step runs %d, flow %+v", n, fl)
			}
			hasProvision := false
			for _, j := range enq.jobs {
				hasProvision = hasProvision || j.Kind == requests.JobProvision
			}
			if !hasProvision {
				t.Fatalf("jobs %+v: the provision job (a no-op now) should still be queued", enq.jobs)
			}
			// The job, when it runs, finds the flow and starts no other.
			must(t, svc.RunJob(ctx, requests.Job{Kind: requests.JobProvision, TenantID: f.ten.ID, RequestID: r.ID}))
			if again, err := f.st.GetActionFlowByKey(ctx, f.ten.ID, key); err != nil || again.ID != fl.ID {
				t.Fatalf("after the provision job: flow %+v (%v), want %s", again, err, fl.ID)
			}

			// A failed approval transaction leaves no flow behind.
			r2 := pending()
			enq.fail = true
			if err := approve(r2); err == nil {
				t.Fatal("approval with a failing job table succeeded")
			}
			if _, err := f.st.GetActionFlowByKey(ctx, f.ten.ID, provision.FlowKey(provision.Provision, r2.ID)); !errors.Is(err, accessbot.ErrNotFound) {
				t.Fatalf("flow of a rolled-back approval: %v, want none", err)
			}
			if got, err := f.st.GetRequest(ctx, f.ten.ID, r2.ID); err != nil || got.Status != accessbot.StatusPending {
				t.Fatalf("request after the rolled-back approval: %+v (%v), want pending", got, err)
			}
		})
	}
}
