package grants_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/grants"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/flows/provision/provisiontest"
	"github.com/accessbot/accessbot/internal/testenv"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/backend"
)

// replica is one process: its own store pool, engine, River queue and
// grants service, on the shared PostgreSQL.
type replica struct {
	st     store.Store
	eng    *provision.Engine
	grants *grants.Service
}

func startReplica(t *testing.T, dsn string, h *provisiontest.Hooks, clock func() time.Time) *replica {
	t.Helper()
	st, err := backend.Open(context.Background(), backend.Postgres, dsn, zerolog.Nop())
	must(t, err)
	t.Cleanup(func() { _ = st.Close() })
	eng := provisiontest.Start(t, backend.Postgres, st, func(e *provision.Engine) { e.RegisterProvider(provision.KindWebhook, "acme", h) })
	gs, err := grants.New(grants.Config{Store: st, Deprovisioner: eng, Clock: clock, Log: zerolog.Nop()})
	must(t, err)
	return &replica{st: st, eng: eng, grants: gs}
}

// TestExpiryThroughEngineAfterOutage: end to end through the real engine.
// An approved 1-hour request runs its provisioning chain and the engine
// records the grant with its end. Both replicas are down across the end;
// back up, they sweep at once. The deprovisioning chain's webhook runs
// exactly once and the finished flow removes the grant.
func TestExpiryThroughEngineAfterOutage(t *testing.T) {
	if !testenv.PostgresAvailable(t) {
		t.Skip("needs PostgreSQL")
	}
	ctx := context.Background()
	dsn := testenv.PostgresDSN(t)
	h := &provisiontest.Hooks{Param: "user"}
	var mu sync.Mutex
	now := time.Now().UTC()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	a := startReplica(t, dsn, h, clock)
	b := startReplica(t, dsn, h, clock)

	w := seed(t, a.st, 1)
	w.app.Provisioning = map[string]accessbot.ActionChain{"group": {
		Provision:   []accessbot.ActionScript{{Type: "acme_webhook_add", Params: map[string]string{"user": "{{.Target.Email}}"}}},
		Deprovision: []accessbot.ActionScript{{Type: "acme_webhook_remove", Params: map[string]string{"user": "{{.Target.Email}}"}}},
	}}
	must(t, a.st.UpdateApplication(ctx, w.app))
	decided := now
	req := &accessbot.AccessRequest{TenantID: w.tenant.ID, Kind: accessbot.RequestUserAccess, RequesterID: w.user.ID, TargetUserID: w.user.ID,
		AppID: w.app.ID, ConnectionID: w.conns[0].ID, Duration: time.Hour, Justification: "on call this week", Status: accessbot.StatusApproved,
		DecidedAt: &decided, Levels: []accessbot.ApprovalLevel{{Approvers: []accessbot.Approver{{Kind: accessbot.ApproverOwners}}, Rule: accessbot.RuleAny}}}
	must(t, a.st.CreateRequest(ctx, req))
	must(t, a.eng.Provision(ctx, req))
	var g *accessbot.Entitlement
	waitFor(t, func() bool {
		held, err := a.st.ListEntitlements(ctx, w.tenant.ID, w.user.ID)
		if err == nil && len(held) == 1 {
			g = &held[0]
		}
		return g != nil
	})
	// The hour counts from when the chain finished (the grant's GrantedAt), not from the approval.
	if h.Count("add") != 1 || g.ExpiresAt == nil || !g.ExpiresAt.Equal(g.GrantedAt.Add(time.Hour)) || g.GrantedAt.Before(decided.Truncate(time.Microsecond)) {
		t.Fatalf("grant %+v after provisioning (add calls %d), want it to end an hour after it was granted", g, h.Count("add"))
	}

	// Down across the end; both replicas come back two hours later.
	mu.Lock()
	now = now.Add(3 * time.Hour)
	mu.Unlock()
	var wg sync.WaitGroup
	for i := range 6 {
		r := a
		if i%2 == 1 {
			r = b
		}
		wg.Go(func() {
			if err := r.grants.Tick(ctx, clock()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	waitFor(t, func() bool {
		_, err := a.st.GetEntitlement(ctx, w.tenant.ID, g.ID)
		return err != nil
	})
	must(t, b.grants.Tick(ctx, clock()))
	time.Sleep(200 * time.Millisecond) // a second flow, if any, would have run its step by now
	t.Logf("[counts] replicas=2 ticks=7 webhook_remove=%d", h.Count("remove"))
	if n := h.Count("remove"); n != 1 {
		t.Fatalf("deprovisioning webhook ran %d times, want 1", n)
	}
	fl, err := a.st.GetActionFlowByKey(ctx, w.tenant.ID, provision.FlowKey(provision.Deprovision, g.ID))
	must(t, err)
	if fl.Status != accessbot.FlowDone || fl.ActorID != grants.SystemActor {
		t.Fatalf("deprovisioning flow %+v", fl)
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
