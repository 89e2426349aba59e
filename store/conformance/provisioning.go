package conformance

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

func testActionFlows(t *testing.T, s store.Store) {
	ten := newTenant(t, s)
	other := newTenant(t, s)
	u := newUser(t, s, ten.ID, "u@example.com")
	a := newApp(t, s, ten.ID, "App", "")
	c := newConn(t, s, ten.ID, a.ID, "devs")

	// An application's action chains round-trip.
	a.Provisioning = map[string]accessbot.ActionChain{"group": {
		Provision:   []accessbot.ActionScript{{Type: "acme_webhook_add", Params: map[string]string{"user": "{{.Target.Email}}"}, Timeout: 30 * time.Second}},
		Deprovision: []accessbot.ActionScript{{Type: "manual"}},
	}}
	ok(t, s.UpdateApplication(ctx(), a), "update application with chains")
	gotApp, err := s.GetApplication(ctx(), ten.ID, a.ID)
	ok(t, err, "get application")
	same(t, gotApp.Provisioning, a.Provisioning, "application chains")

	f := &accessbot.ActionFlow{
		TenantID: ten.ID, Key: "provision:req-1:" + c.ID, RequestID: "req-1", AppID: a.ID, ConnectionID: c.ID, UserID: u.ID,
		Relationship: "group", Direction: "provision", Status: accessbot.FlowPending, Fields: json.RawMessage(`{"Request":{"ID":"req-1"}}`),
		ActorID: "approver",
		Steps: []accessbot.ActionFlowStep{
			{Type: "none", Status: accessbot.FlowPending},
			{Type: "sleep", Params: map[string]string{"duration": "1s"}, Timeout: time.Minute, Status: accessbot.FlowPending},
		},
	}
	ok(t, s.CreateActionFlow(ctx(), f), "create flow")
	got, err := s.GetActionFlow(ctx(), ten.ID, f.ID)
	ok(t, err, "get flow")
	same(t, got, f, "stored flow")
	byKey, err := s.GetActionFlowByKey(ctx(), ten.ID, f.Key)
	ok(t, err, "get flow by key")
	same(t, byKey.ID, f.ID, "flow by key")

	dup := *f
	dup.ID, dup.Steps = "", nil
	isErr(t, s.CreateActionFlow(ctx(), &dup), accessbot.ErrConflict, "second flow with the same key")
	_, err = s.GetActionFlow(ctx(), other.ID, f.ID)
	isErr(t, err, accessbot.ErrNotFound, "flow of another tenant")
	_, err = s.GetActionFlowByKey(ctx(), other.ID, f.Key)
	isErr(t, err, accessbot.ErrNotFound, "flow by key of another tenant")

	// A save over the version read wins once; a stale one is refused.
	stale := *got
	now := time.Now().UTC().Truncate(time.Microsecond)
	err = s.InTx(ctx(), func(q store.Queries) error {
		fl, err := q.GetActionFlowForUpdate(ctx(), ten.ID, f.ID)
		if err != nil {
			return err
		}
		fl.Status, fl.Current, fl.Outputs = accessbot.FlowRunning, 1, map[string]string{"issue": "7"}
		fl.Steps[0].Status, fl.Steps[0].Attempts, fl.Steps[0].Note, fl.Steps[0].FinishedAt = accessbot.FlowDone, 1, "ok", &now
		fl.Steps[0].Outputs = map[string]string{"issue": "7"}
		fl.Steps[1].Status, fl.Steps[1].LastError, fl.Steps[1].StartedAt = accessbot.FlowFailed, "boom", &now
		return q.SaveActionFlow(ctx(), fl)
	})
	ok(t, err, "save flow")
	got, err = s.GetActionFlow(ctx(), ten.ID, f.ID)
	ok(t, err, "get saved flow")
	if got.Version != f.Version+1 || got.Status != accessbot.FlowRunning || got.Current != 1 || got.Outputs["issue"] != "7" ||
		got.Steps[0].Status != accessbot.FlowDone || got.Steps[0].Note != "ok" ||
		got.Steps[0].Outputs["issue"] != "7" || !got.Steps[0].FinishedAt.Equal(now) || got.Steps[1].LastError != "boom" {
		t.Fatalf("saved flow reads back as %+v", got)
	}
	isErr(t, s.SaveActionFlow(ctx(), &stale), accessbot.ErrStale, "save over an old version")
	otherCopy := *got
	otherCopy.TenantID = other.ID
	isErr(t, s.SaveActionFlow(ctx(), &otherCopy), accessbot.ErrStale, "save as another tenant")

	f2 := &accessbot.ActionFlow{TenantID: ten.ID, Key: "deprovision:ent-1", EntitlementID: "ent-1", Relationship: "group",
		Direction: "deprovision", Status: accessbot.FlowWaiting, Steps: []accessbot.ActionFlowStep{{Type: "manual", Status: accessbot.FlowWaiting}}}
	ok(t, s.CreateActionFlow(ctx(), f2), "create second flow")
	list, err := s.ListActionFlowsByStatus(ctx(), ten.ID, []accessbot.FlowStatus{accessbot.FlowWaiting, accessbot.FlowRunning}, 0)
	ok(t, err, "list by status")
	if len(list) != 2 || len(list[0].Steps) == 0 {
		t.Fatalf("list by status: %+v", list)
	}
	list, err = s.ListActionFlowsByStatus(ctx(), ten.ID, []accessbot.FlowStatus{accessbot.FlowWaiting}, 0)
	ok(t, err, "list waiting")
	if len(list) != 1 || list[0].ID != f2.ID {
		t.Fatalf("list waiting: %+v", list)
	}
	list, err = s.ListActionFlowsByStatus(ctx(), other.ID, []accessbot.FlowStatus{accessbot.FlowWaiting}, 0)
	ok(t, err, "list waiting of another tenant")
	same(t, len(list), 0, "other tenant's waiting flows")
	list, err = s.ListActionFlowsByRequest(ctx(), ten.ID, "req-1")
	ok(t, err, "list by request")
	if len(list) != 1 || list[0].ID != f.ID || len(list[0].Steps) != 2 {
		t.Fatalf("list by request: %+v", list)
	}

	e := &accessbot.Entitlement{TenantID: ten.ID, UserID: u.ID, ConnectionID: c.ID}
	ok(t, s.CreateEntitlement(ctx(), e), "create entitlement")
	ge, err := s.GetEntitlement(ctx(), ten.ID, e.ID)
	ok(t, err, "get entitlement")
	same(t, ge, e, "entitlement")
	_, err = s.GetEntitlement(ctx(), other.ID, e.ID)
	isErr(t, err, accessbot.ErrNotFound, "entitlement of another tenant")

}

func testRevokedAccess(t *testing.T, s store.Store) {
	ten := newTenant(t, s)
	other := newTenant(t, s)
	u := newUser(t, s, ten.ID, "u@example.com")
	a := newApp(t, s, ten.ID, "App", "")
	b := newApp(t, s, ten.ID, "Other app", "")
	c := newConn(t, s, ten.ID, a.ID, "devs")
	cb := newConn(t, s, ten.ID, b.ID, "ops")
	t0 := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	n := 0
	flow := func(tenantID, appID, connID, dir string, st accessbot.FlowStatus, fin time.Time) *accessbot.ActionFlow {
		n++
		f := &accessbot.ActionFlow{TenantID: tenantID, Key: fmt.Sprintf("%s:%d", dir, n), AppID: appID, ConnectionID: connID, UserID: u.ID,
			Relationship: "group", Direction: dir, Status: accessbot.FlowPending, Steps: []accessbot.ActionFlowStep{{Type: "none", Status: accessbot.FlowPending}}}
		ok(t, s.CreateActionFlow(ctx(), f), "create flow")
		f.Status, f.FinishedAt = st, &fin
		ok(t, s.SaveActionFlow(ctx(), f), "finish flow")
		return f
	}
	first := flow(ten.ID, a.ID, c.ID, "deprovision", accessbot.FlowDone, t0)
	second := flow(ten.ID, a.ID, c.ID, "deprovision", accessbot.FlowDone, t0.Add(2*time.Hour))
	flow(ten.ID, a.ID, c.ID, "deprovision", accessbot.FlowFailed, t0) // not done
	flow(ten.ID, a.ID, c.ID, "provision", accessbot.FlowDone, t0)     // a grant, not a revocation
	flow(ten.ID, b.ID, cb.ID, "deprovision", accessbot.FlowDone, t0)  // another application
	flow(other.ID, a.ID, c.ID, "deprovision", accessbot.FlowDone, t0) // another tenant

	got, err := s.ListRevokedAccess(ctx(), ten.ID, a.ID, t0.Add(time.Hour))
	ok(t, err, "revoked before t0+1h")
	same(t, got, []accessbot.RevokedAccess{{UserID: u.ID, ConnectionID: c.ID, FlowID: first.ID, FinishedAt: t0}}, "revoked before t0+1h")
	got, err = s.ListRevokedAccess(ctx(), ten.ID, a.ID, t0.Add(3*time.Hour))
	ok(t, err, "revoked before t0+3h")
	same(t, got, []accessbot.RevokedAccess{{UserID: u.ID, ConnectionID: c.ID, FlowID: first.ID, FinishedAt: t0},
		{UserID: u.ID, ConnectionID: c.ID, FlowID: second.ID, FinishedAt: t0.Add(2 * time.Hour)}}, "revoked before t0+3h")
	got, err = s.ListRevokedAccess(ctx(), ten.ID, a.ID, t0)
	ok(t, err, "revoked before t0")
	if len(got) != 0 {
		t.Fatalf("revoked before t0 (finished at t0 is not before): %+v", got)
	}
}
