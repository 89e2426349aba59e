package provision_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/store/storetest"
)

// connRequest files an approved connection request of kind on conn (or, for
// a creation, none) with payload.
func (f *fixture) connRequest(t *testing.T, kind accessbot.RequestKind, connID string, payload any) *accessbot.AccessRequest {
	t.Helper()
	now := time.Now().UTC()
	b, err := json.Marshal(payload)
	must(t, err)
	r := &accessbot.AccessRequest{TenantID: f.ten.ID, Kind: kind, RequesterID: f.requester.ID, AppID: f.app.ID, ConnectionID: connID,
		Payload: b, Status: accessbot.StatusApproved, DecidedAt: &now,
		Levels: []accessbot.ApprovalLevel{{Approvers: []accessbot.Approver{{Kind: accessbot.ApproverOwners}}, Rule: accessbot.RuleAny}}}
	must(t, f.st.CreateRequest(context.Background(), r))
	return r
}

// effects are the flow.effect audit entries of a flow, by their "effect".
func (f *fixture) effects(t *testing.T, flowID string) []string {
	t.Helper()
	audit, err := f.st.ListAudit(context.Background(), f.ten.ID, flowID)
	must(t, err)
	var out []string
	for _, a := range audit {
		if a.Action == provision.ActionFlowEffect {
			var d struct{ Effect string }
			must(t, json.Unmarshal(a.After, &d))
			out = append(out, d.Effect)
		}
	}
	return out
}

// TestConnectionRequestsAct: approved connection requests run their own
// chains (connection_create, connection_assign, connection_delete) and then
// change accessbot's connections: the created one exists with its fields,
// the assignment is recorded (and the revoked one removed), and a deletion
// starts the deprovisioning chain of every holder before the row goes,
// including a grant whose provisioning finished while the deletion waited.
// A user_access flow that finishes after its connection was deleted ends
// done with no grant (never a grant of a missing connection, never stuck).
func TestConnectionRequestsAct(t *testing.T) {
	t.Parallel()
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			hook := func(op string) []accessbot.ActionScript {
				return []accessbot.ActionScript{{Type: "acme_webhook_" + op, Params: map[string]string{"user": "{{.Connection.Name}}"}}}
			}
			f := newFixture(t, driver, accessbot.ActionChain{Provision: []accessbot.ActionScript{{Type: "manual"}}, Deprovision: hook("remove")})
			f.app.Provisioning["connection_create"] = accessbot.ActionChain{Provision: hook("create")}
			f.app.Provisioning["connection_assign"] = accessbot.ActionChain{Provision: hook("assign")}
			f.app.Provisioning["connection_delete"] = accessbot.ActionChain{Provision: append(hook("delete"), accessbot.ActionScript{Type: "manual"})}
			must(t, f.st.UpdateApplication(ctx, f.app))
			run := func(r *accessbot.AccessRequest, want accessbot.FlowStatus) *accessbot.ActionFlow {
				t.Helper()
				must(t, f.eng.Provision(ctx, r))
				return f.waitFlow(t, provision.FlowKey(provision.Provision, r.ID), want)
			}

			// Create.
			cr := f.connRequest(t, accessbot.RequestConnectionCreate, "", map[string]any{"name": "ops", "type": "role", "description": "on call",
				"fields": map[string]string{"group_path": "acme/ops"}})
			fl := run(cr, accessbot.FlowDone)
			ops, err := f.st.GetConnectionByName(ctx, f.ten.ID, f.app.ID, "ops")
			must(t, err)
			if ops.Type != "role" || ops.Attributes["group_path"] != "acme/ops" || fl.ConnectionID != ops.ID || fl.Relationship != "connection_create" ||
				fl.Steps[0].Type != "acme_webhook_create" || fl.Steps[0].Note != "sent ops" {
				t.Fatalf("created connection %+v from flow %+v", ops, fl)
			}
			if got := f.effects(t, fl.ID); len(got) != 1 || got[0] != "connection_created" {
				t.Fatalf("effects %v", got)
			}

			// Assign: ops granted to devs, an older assignment revoked.
			must(t, f.st.AssignToConnection(ctx, &accessbot.ConnectionAssignment{TenantID: f.ten.ID, ConnectionID: f.conn.ID,
				MemberType: "project", MemberName: "legacy"}))
			ar := f.connRequest(t, accessbot.RequestConnectionAssign, f.conn.ID, map[string]any{
				"grants": []map[string]string{{"type": "role", "source_name": "ops"}}, "revokes": []map[string]string{{"type": "project", "source_name": "legacy"}}})
			fl = run(ar, accessbot.FlowDone)
			as, err := f.st.ListConnectionAssignments(ctx, f.ten.ID, f.conn.ID)
			must(t, err)
			if len(as) != 1 || as[0].MemberType != "role" || as[0].MemberName != "ops" || as[0].RequestID != ar.ID || fl.Relationship != "connection_assign" {
				t.Fatalf("assignments of devs %+v (flow %s)", as, fl.Relationship)
			}

			// Delete devs, with a holder (the admin, imported) and two
			// requests of devs in flight (waiting on their manual step).
			held := &accessbot.Entitlement{TenantID: f.ten.ID, UserID: f.admin.ID, ConnectionID: f.conn.ID, GrantedAt: time.Now().UTC()}
			must(t, f.st.CreateEntitlement(ctx, held))
			early := f.approved(t, 0) // finishes while the deletion waits
			earlyFlow := run(early, accessbot.FlowWaiting)
			lateReq := *f.approved(t, 0)
			lateReq.ID, lateReq.TargetUserID = "", f.owner.ID // the owner's own request: a second open one
			lateReq.RequesterID = f.owner.ID
			must(t, f.st.CreateRequest(ctx, &lateReq))
			lateFlow := run(&lateReq, accessbot.FlowWaiting)

			dr := f.connRequest(t, accessbot.RequestConnectionDelete, f.conn.ID, map[string]string{"name": "devs", "type": "group"})
			delFlow := run(dr, accessbot.FlowWaiting) // its webhook ran; the manual step waits
			must(t, f.eng.Resolve(ctx, f.ten.ID, earlyFlow.ID, 0, f.owner.ID, provision.OutcomeDone, ""))
			earlyFlow = f.waitFlow(t, provision.FlowKey(provision.Provision, early.ID), accessbot.FlowDone)
			if earlyFlow.EntitlementID == "" {
				t.Fatalf("the early request's grant was not recorded: %+v", earlyFlow)
			}
			must(t, f.eng.Resolve(ctx, f.ten.ID, delFlow.ID, 1, f.owner.ID, provision.OutcomeDone, ""))
			delFlow = f.waitFlow(t, provision.FlowKey(provision.Provision, dr.ID), accessbot.FlowDone)
			if _, err := f.st.GetConnection(ctx, f.ten.ID, f.conn.ID); err == nil {
				t.Fatal("devs still exists after its deletion flow finished")
			}
			for _, g := range []string{held.ID, earlyFlow.EntitlementID} {
				dfl := f.waitFlow(t, provision.FlowKey(provision.Deprovision, g), accessbot.FlowDone)
				if dfl.Steps[0].Type != "acme_webhook_remove" || dfl.Steps[0].Note != "sent devs" || dfl.ConnectionID != f.conn.ID {
					t.Fatalf("holder's deprovisioning %+v", dfl)
				}
			}
			if got := f.effects(t, delFlow.ID); len(got) != 1 || got[0] != "connection_deleted" {
				t.Fatalf("deletion effects %v", got)
			}

			// The late request's owner presses Done after the connection is gone.
			must(t, f.eng.Resolve(ctx, f.ten.ID, lateFlow.ID, 0, f.admin.ID, provision.OutcomeDone, ""))
			lateFlow = f.waitFlow(t, provision.FlowKey(provision.Provision, lateReq.ID), accessbot.FlowDone)
			if lateFlow.EntitlementID != "" {
				t.Fatalf("a grant was recorded for a deleted connection: %+v", lateFlow)
			}
			if got := f.effects(t, lateFlow.ID); len(got) != 1 || got[0] != "grant_skipped" {
				t.Fatalf("late flow effects %v", got)
			}
			for _, u := range []string{f.requester.ID, f.owner.ID, f.admin.ID} {
				if ents, _ := f.st.ListEntitlements(ctx, f.ten.ID, u); len(ents) != 0 {
					t.Fatalf("grants left after the deletion: %+v", ents)
				}
			}
			// create, assign, delete, two holders' removes: each webhook once.
			if n := f.calls.total(); n != 5 {
				t.Fatalf("webhook calls %d, want 5 (%v)", n, f.calls.calls)
			}
		})
	}
}
