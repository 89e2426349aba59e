package provision_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/provision"
)

// TestAdminCannotApproveOwnAccess: a tenant admin may answer any waiting
// step, but not an approval step (slack_approval, email_approval) of a
// flow for their own access, nor mark it done once its approver denied it:
// both would be approving their own request. The named approver still
// answers, and an admin still answers an approval of someone else's access.
func TestAdminCannotApproveOwnAccess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, typ := range []string{"slack_approval", "email_approval"} {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, "sqlite", accessbot.ActionChain{Provision: []accessbot.ActionScript{
				{Type: typ, Params: map[string]string{"approver": "owner@example.com"}},
			}})
			wait := provision.RunnerFunc(func(context.Context, provision.Step) (provision.Result, error) {
				return provision.Result{Wait: true, Note: "approver asked"}, nil
			})
			f.eng.Register(provision.KindSlack, wait)
			f.eng.Register(provision.KindEmail, wait)

			// The admin's own request, approved.
			now := time.Now().UTC()
			own := &accessbot.AccessRequest{TenantID: f.ten.ID, Kind: accessbot.RequestUserAccess, RequesterID: f.admin.ID,
				TargetUserID: f.admin.ID, AppID: f.app.ID, ConnectionID: f.conn.ID, Justification: "need it",
				Status: accessbot.StatusApproved, DecidedAt: &now,
				Levels: []accessbot.ApprovalLevel{{Approvers: []accessbot.Approver{{Kind: accessbot.ApproverOwners}}, Rule: accessbot.RuleAny}}}
			must(t, f.st.CreateRequest(ctx, own))
			must(t, f.eng.Provision(ctx, own))
			key := provision.FlowKey(provision.Provision, own.ID)
			fl := f.waitFlow(t, key, accessbot.FlowWaiting)
			if err := f.eng.Resolve(ctx, f.ten.ID, fl.ID, 0, f.admin.ID, provision.OutcomeDone, ""); !errors.Is(err, provision.ErrOwnApproval) {
				t.Fatalf("admin approving their own access: %v, want ErrOwnApproval", err)
			}
			must(t, f.eng.Resolve(ctx, f.ten.ID, fl.ID, 0, f.owner.ID, provision.OutcomeFailed, "not needed"))
			fl = f.waitFlow(t, key, accessbot.FlowFailed)
			if s := fl.Steps[0]; s.Note != "denied by owner@example.com" || s.LastError != "not needed" {
				t.Fatalf("denied step %+v: want who denied it and why", s)
			}
			if err := f.eng.Admin(ctx, f.ten.ID, fl.ID, f.admin.ID, provision.AdminMarkDone); !errors.Is(err, provision.ErrOwnApproval) {
				t.Fatalf("admin marking the denied approval of their own access done: %v, want ErrOwnApproval", err)
			}
			if ents, _ := f.st.ListEntitlements(ctx, f.ten.ID, f.admin.ID); len(ents) != 0 {
				t.Fatalf("the admin granted themselves %+v", ents)
			}
			must(t, f.eng.Admin(ctx, f.ten.ID, fl.ID, f.admin.ID, provision.AdminCancel)) // stopping it is fine

			// Someone else's access: the admin answers for the approver.
			other := f.approved(t, 0)
			must(t, f.eng.Provision(ctx, other))
			okey := provision.FlowKey(provision.Provision, other.ID)
			ofl := f.waitFlow(t, okey, accessbot.FlowWaiting)
			if err := f.eng.Resolve(ctx, f.ten.ID, ofl.ID, 0, f.requester.ID, provision.OutcomeDone, ""); !errors.Is(err, provision.ErrForbidden) {
				t.Fatalf("requester approving their own access: %v, want ErrForbidden", err)
			}
			must(t, f.eng.Resolve(ctx, f.ten.ID, ofl.ID, 0, f.admin.ID, provision.OutcomeDone, ""))
			if ofl = f.waitFlow(t, okey, accessbot.FlowDone); ofl.Steps[0].Note != "approved by admin@example.com" {
				t.Fatalf("approved step %+v: want who approved it", ofl.Steps[0])
			}
		})
	}
}
