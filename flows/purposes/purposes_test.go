package purposes_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/grants"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/flows/provision/provisiontest"
	"github.com/accessbot/accessbot/flows/purposes"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/internal/testenv"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/backend"
	"github.com/accessbot/accessbot/store/storetest"
)

// notes records announcements.
type notes struct {
	mu      sync.Mutex
	started map[string]int
	ended   map[string]int
}

func (n *notes) SessionStarted(_ context.Context, _ *accessbot.Purpose, s *accessbot.PurposeSession) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.started[s.ID]++
	return nil
}

func (n *notes) SessionExtended(context.Context, *accessbot.Purpose, *accessbot.PurposeSession, time.Time) error {
	return nil
}

func (n *notes) SessionEnded(_ context.Context, _ *accessbot.Purpose, s *accessbot.PurposeSession) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.ended[s.ID]++
	return nil
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// replica is one process: its own store pool, engine, River queue, grants
// and purposes services.
type replica struct {
	st  store.Store
	eng *provision.Engine
	svc *purposes.Service
}

func startReplica(t *testing.T, driver, dsn string, h *provisiontest.Hooks, n purposes.Notifier, c *clock) *replica {
	t.Helper()
	ctx := context.Background()
	var st store.Store
	if dsn != "" {
		var err error
		st, err = backend.Open(ctx, driver, dsn, zerolog.Nop())
		must(t, err)
		t.Cleanup(func() { _ = st.Close() })
	} else {
		st = storetest.Open(t, driver)
	}
	eng := provisiontest.Start(t, driver, st, func(e *provision.Engine) { e.RegisterProvider(provision.KindWebhook, "acme", h) })
	gs, err := grants.New(grants.Config{Store: st, Deprovisioner: eng, Clock: c.Now, Log: zerolog.Nop()})
	must(t, err)
	svc, err := purposes.New(purposes.Config{Store: st, Provisioner: eng, Revoker: gs, Notifier: n, Clock: c.Now, Log: zerolog.Nop()})
	must(t, err)
	return &replica{st: st, eng: eng, svc: svc}
}

type world struct {
	tenant             *accessbot.Tenant
	holder, admin, bob *accessbot.User
	purpose            *accessbot.Purpose
}

// seed: two applications, each with a group whose chains call the acme
// webhook; purpose "oncall-db" bundles both, at most 4 hours.
func seed(t *testing.T, st store.Store) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{tenant: &accessbot.Tenant{Slug: "acme", Name: "Acme"}}
	must(t, st.CreateTenant(ctx, w.tenant))
	mk := func(email string, role accessbot.Role) *accessbot.User {
		u := &accessbot.User{TenantID: w.tenant.ID, Email: email, Name: email, Status: accessbot.UserActive, Role: role}
		must(t, st.CreateUser(ctx, u))
		return u
	}
	w.holder, w.admin, w.bob = mk("holder@acme.test", accessbot.RoleMember), mk("ada@acme.test", accessbot.RoleAdmin), mk("bob@acme.test", accessbot.RoleMember)
	w.purpose = &accessbot.Purpose{TenantID: w.tenant.ID, Name: "oncall-db", Description: "On-call database access",
		MaxSession: 4 * time.Hour, AssignChain: "default", Channel: "C0ONCALL"}
	for _, name := range []string{"Postgres", "Grafana"} {
		app := &accessbot.Application{TenantID: w.tenant.ID, Name: name, Connector: "manual",
			Provisioning: map[string]accessbot.ActionChain{"group": {
				Provision:   []accessbot.ActionScript{{Type: "acme_webhook_add", Params: map[string]string{"what": "{{.Application.Name}}"}}},
				Deprovision: []accessbot.ActionScript{{Type: "acme_webhook_remove", Params: map[string]string{"what": "{{.Application.Name}}"}}},
			}}}
		must(t, st.CreateApplication(ctx, app))
		c := &accessbot.Connection{TenantID: w.tenant.ID, AppID: app.ID, Name: "oncall", Type: "group"}
		must(t, st.CreateConnection(ctx, c))
		w.purpose.Connections = append(w.purpose.Connections, accessbot.PurposeConnection{AppID: app.ID, ConnectionID: c.ID})
	}
	must(t, st.UpsertPurpose(ctx, w.purpose))
	must(t, st.AssignPurpose(ctx, &accessbot.PurposeAssignment{TenantID: w.tenant.ID, PurposeID: w.purpose.ID, UserID: w.holder.ID}))
	return w
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func grantsOf(t *testing.T, st store.Store, w *world) []accessbot.Entitlement {
	t.Helper()
	held, err := st.ListEntitlements(context.Background(), w.tenant.ID, w.holder.ID)
	must(t, err)
	return held
}

// TestSessionEndsAfterOutageOnceAcrossReplicas: a 1-hour session runs
// both applications' provisioning chains. Both replicas are down across
// its end; back three hours later they tick at once, again and again: each
// deprovisioning webhook runs exactly once, the end is announced to the
// notifier (which posts once), the session is ended, and it is audited.
func TestSessionEndsAfterOutageOnceAcrossReplicas(t *testing.T) {
	if !testenv.PostgresAvailable(t) {
		t.Skip("needs PostgreSQL")
	}
	ctx := context.Background()
	dsn := testenv.PostgresDSN(t)
	h := &provisiontest.Hooks{Param: "what"}
	n := &notes{started: map[string]int{}, ended: map[string]int{}}
	c := &clock{now: time.Now().UTC()}
	a := startReplica(t, backend.Postgres, dsn, h, n, c)
	b := startReplica(t, backend.Postgres, dsn, h, n, c)
	w := seed(t, a.st)

	ses, err := a.svc.Start(ctx, w.tenant.ID, w.holder.ID, w.purpose.ID, time.Hour, "incident 4711 on the primary")
	must(t, err)
	waitFor(t, "both grants", func() bool { return len(grantsOf(t, a.st, w)) == 2 })
	if h.Count("add Postgres") != 1 || h.Count("add Grafana") != 1 {
		t.Fatalf("provisioning webhooks: add Postgres %d, add Grafana %d; want one add per application", h.Count("add Postgres"), h.Count("add Grafana"))
	}
	for _, g := range grantsOf(t, a.st, w) {
		if g.ExpiresAt != nil {
			t.Fatalf("a session's grant %+v has an end of its own: the session ends it", g)
		}
	}
	// Before the end nothing happens however often the replicas tick.
	c.Set(ses.EndsAt.Add(-time.Minute))
	must(t, a.svc.Tick(ctx, c.Now()))
	must(t, b.svc.Tick(ctx, c.Now()))
	if h.Count("remove Postgres")+h.Count("remove Grafana") != 0 {
		t.Fatal("deprovisioned before the end")
	}

	c.Set(ses.EndsAt.Add(3 * time.Hour))
	var wg sync.WaitGroup
	for i := range 6 {
		r := a
		if i%2 == 1 {
			r = b
		}
		wg.Go(func() {
			if err := r.svc.Tick(ctx, c.Now()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	waitFor(t, "both grants removed", func() bool { return len(grantsOf(t, a.st, w)) == 0 })
	must(t, b.svc.Tick(ctx, c.Now()))
	time.Sleep(200 * time.Millisecond) // a second flow, if any, would have run its step by now
	t.Logf("[counts] replicas=2 ticks=7 remove_postgres=%d remove_grafana=%d", h.Count("remove Postgres"), h.Count("remove Grafana"))
	if h.Count("remove Postgres") != 1 || h.Count("remove Grafana") != 1 {
		t.Fatalf("deprovisioning webhooks %v, want one remove per application", h)
	}
	cur, err := a.st.GetPurposeSession(ctx, w.tenant.ID, ses.ID)
	must(t, err)
	if cur.Status != accessbot.SessionEnded || cur.EndedBy != purposes.SystemActor || cur.EndReason != purposes.ReasonExpired {
		t.Fatalf("session after the outage %+v, want ended by the system as expired", cur)
	}
	if n.started[ses.ID] < 1 || n.ended[ses.ID] < 1 {
		t.Fatalf("announcements started=%d ended=%d", n.started[ses.ID], n.ended[ses.ID])
	}
	audit, err := a.st.ListAudit(ctx, w.tenant.ID, ses.ID)
	must(t, err)
	count := map[string]int{}
	for _, e := range audit {
		count[e.Action]++
	}
	if count[purposes.ActionStarted] != 1 || count[purposes.ActionExpired] != 1 || count[purposes.ActionEnded] != 1 {
		t.Fatalf("audit of the session %v, want one start, one expiry, one end", count)
	}
}

// TestStartStopExtendRules: who may start, stop and extend, and the caps;
// on both stores.
func TestStartStopExtendRules(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			h := &provisiontest.Hooks{Param: "what"}
			n := &notes{started: map[string]int{}, ended: map[string]int{}}
			t0 := time.Now().UTC().Truncate(time.Second)
			c := &clock{now: t0}
			r := startReplica(t, driver, "", h, n, c)
			w := seed(t, r.st)
			tid, pid := w.tenant.ID, w.purpose.ID
			for _, tc := range []struct {
				name   string
				user   string
				d      time.Duration
				reason string
				want   error
			}{
				{"not assigned", w.bob.ID, time.Hour, "incident 4711 on the primary", purposes.ErrNotAssigned},
				{"longer than the maximum", w.holder.ID, 5 * time.Hour, "incident 4711 on the primary", purposes.ErrTooLong},
				{"no reason", w.holder.ID, time.Hour, "db", purposes.ErrReason},
			} {
				if _, err := r.svc.Start(ctx, tid, tc.user, pid, tc.d, tc.reason); !errors.Is(err, tc.want) {
					t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
				}
			}
			ses, err := r.svc.Start(ctx, tid, w.holder.ID, pid, 0, "incident 4711 on the primary")
			must(t, err)
			if !ses.EndsAt.Equal(ses.StartedAt.Add(4 * time.Hour)) {
				t.Fatalf("a start without a length runs %s, want the maximum 4h", ses.EndsAt.Sub(ses.StartedAt))
			}
			if _, err := r.svc.Start(ctx, tid, w.holder.ID, pid, time.Hour, "incident 4711 on the primary"); !errors.Is(err, purposes.ErrAlreadyActive) {
				t.Fatalf("a second start: %v", err)
			}
			// Extend: the holder only, within the maximum from now.
			if _, err := r.svc.Extend(ctx, tid, ses.ID, w.bob.ID, time.Hour); !errors.Is(err, purposes.ErrForbidden) {
				t.Fatalf("someone else extends: %v", err)
			}
			if _, err := r.svc.Extend(ctx, tid, ses.ID, w.holder.ID, time.Hour); !errors.Is(err, purposes.ErrTooLong) {
				t.Fatalf("extend beyond the cap at the start: %v", err)
			}
			c.Set(t0.Add(3 * time.Hour))
			if got := purposes.MaxExtension(w.purpose, ses, c.Now()); got != 3*time.Hour {
				t.Fatalf("max extension after 3h of 4: %s, want 3h", got)
			}
			ext, err := r.svc.Extend(ctx, tid, ses.ID, w.holder.ID, 2*time.Hour)
			must(t, err)
			if !ext.EndsAt.Equal(ses.EndsAt.Add(2 * time.Hour)) {
				t.Fatalf("extended end %s", ext.EndsAt)
			}
			// Stop: not by another member; an admin must say why.
			if _, err := r.svc.Stop(ctx, tid, ses.ID, w.bob.ID, "because"); !errors.Is(err, purposes.ErrForbidden) {
				t.Fatalf("a member stops someone else's session: %v", err)
			}
			if _, err := r.svc.Stop(ctx, tid, ses.ID, w.admin.ID, ""); !errors.Is(err, purposes.ErrReason) {
				t.Fatalf("an admin stops without a reason: %v", err)
			}
			waitFor(t, "both grants", func() bool { return len(grantsOf(t, r.st, w)) == 2 })
			stopped, err := r.svc.Stop(ctx, tid, ses.ID, w.admin.ID, "incident closed")
			must(t, err)
			if stopped.EndedBy != w.admin.ID || stopped.EndReason != "incident closed" {
				t.Fatalf("stopped session %+v", stopped)
			}
			if _, err := r.svc.Stop(ctx, tid, ses.ID, w.holder.ID, ""); !errors.Is(err, purposes.ErrNotActive) {
				t.Fatalf("stop twice: %v", err)
			}
			waitFor(t, "both grants removed", func() bool { return len(grantsOf(t, r.st, w)) == 0 })
			cur, err := r.st.GetPurposeSession(ctx, tid, ses.ID)
			must(t, err)
			if cur.Status != accessbot.SessionEnded {
				t.Fatalf("stopped session %s, want ended (every deprovisioning started)", cur.Status)
			}
			if h.Count("remove Postgres") != 1 || h.Count("remove Grafana") != 1 {
				t.Fatalf("webhooks %v", h)
			}
			// Ended, the holder may start again.
			_, err = r.svc.Start(ctx, tid, w.holder.ID, pid, time.Hour, "incident 4712 on the replica")
			must(t, err)
		})
	}
}

// TestStopWhileProvisioning: a session stopped while a provisioning flow
// still waits stays ending; once the flow finishes, the next tick revokes
// the grant it made and ends the session.
func TestStopWhileProvisioning(t *testing.T) {
	ctx := context.Background()
	h := &provisiontest.Hooks{Param: "what"}
	n := &notes{started: map[string]int{}, ended: map[string]int{}}
	c := &clock{now: time.Now().UTC()}
	r := startReplica(t, "sqlite", "", h, n, c)
	r.eng.Register(provision.KindManual, provision.RunnerFunc(func(context.Context, provision.Step) (provision.Result, error) {
		return provision.Result{Wait: true, Note: "waiting"}, nil
	}))
	w := seed(t, r.st)
	// Postgres's chain waits for a person.
	app, err := r.st.GetApplication(ctx, w.tenant.ID, w.purpose.Connections[0].AppID)
	must(t, err)
	app.Provisioning["group"] = accessbot.ActionChain{Provision: []accessbot.ActionScript{{Type: "manual"}},
		Deprovision: app.Provisioning["group"].Deprovision}
	must(t, r.st.UpdateApplication(ctx, app))

	ses, err := r.svc.Start(ctx, w.tenant.ID, w.holder.ID, w.purpose.ID, time.Hour, "incident 4711 on the primary")
	must(t, err)
	waitFor(t, "Grafana granted", func() bool { return len(grantsOf(t, r.st, w)) == 1 })
	flowOf := func(reqID string) *accessbot.ActionFlow {
		f, err := r.st.GetActionFlowByKey(ctx, w.tenant.ID, provision.FlowKey(provision.Provision, reqID))
		must(t, err)
		return f
	}
	waitFor(t, "Postgres waiting", func() bool { return flowOf(ses.RequestIDs[0]).Status == accessbot.FlowWaiting })
	_, err = r.svc.Stop(ctx, w.tenant.ID, ses.ID, w.holder.ID, "")
	must(t, err)
	waitFor(t, "Grafana removed", func() bool { return h.Count("remove Grafana") == 1 })
	c.Set(c.Now().Add(3 * time.Minute)) // past the stop's claim
	must(t, r.svc.Tick(ctx, c.Now()))
	if cur, _ := r.st.GetPurposeSession(ctx, w.tenant.ID, ses.ID); cur.Status != accessbot.SessionEnding {
		t.Fatalf("session %s while Postgres's provisioning waits, want ending", cur.Status)
	}
	must(t, r.eng.Resolve(ctx, w.tenant.ID, flowOf(ses.RequestIDs[0]).ID, 0, w.admin.ID, provision.OutcomeDone, ""))
	waitFor(t, "Postgres granted late", func() bool { return flowOf(ses.RequestIDs[0]).Status == accessbot.FlowDone })
	c.Set(c.Now().Add(3 * time.Minute))
	must(t, r.svc.Tick(ctx, c.Now()))
	waitFor(t, "Postgres removed", func() bool { return h.Count("remove Postgres") == 1 })
	waitFor(t, "no grants", func() bool { return len(grantsOf(t, r.st, w)) == 0 })
	if cur, _ := r.st.GetPurposeSession(ctx, w.tenant.ID, ses.ID); cur.Status != accessbot.SessionEnded {
		t.Fatalf("session %s after the late grant was revoked, want ended", cur.Status)
	}
}

// TestApprovedExtensionCapped: a purpose with a start chain starts and is
// extended only through approved requests. An extension approved after
// the session moved on is trimmed to the maximum from the approval; a
// retry of it does nothing; one approved after the session ended is left
// alone.
func TestApprovedExtensionCapped(t *testing.T) {
	ctx := context.Background()
	h := &provisiontest.Hooks{Param: "what"}
	n := &notes{started: map[string]int{}, ended: map[string]int{}}
	t0 := time.Now().UTC().Truncate(time.Second)
	c := &clock{now: t0}
	r := startReplica(t, "sqlite", "", h, n, c)
	w := seed(t, r.st)
	w.purpose.StartChain = "default"
	must(t, r.st.UpsertPurpose(ctx, w.purpose))
	approved := func(d time.Duration, pl requests.PurposePayload) *accessbot.AccessRequest {
		t.Helper()
		b, err := json.Marshal(pl)
		must(t, err)
		now := c.Now()
		req := &accessbot.AccessRequest{ID: uuid.NewString(), TenantID: w.tenant.ID, Kind: accessbot.RequestPurposeStart, RequesterID: w.holder.ID,
			TargetUserID: w.holder.ID, Payload: b, Duration: d, Justification: "incident 4711 on the primary", Status: accessbot.StatusApproved,
			CreatedAt: now.Add(-time.Second), UpdatedAt: now, DecidedAt: &now}
		must(t, r.st.CreateRequest(ctx, req))
		return req
	}
	if _, err := r.svc.Start(ctx, w.tenant.ID, w.holder.ID, w.purpose.ID, time.Hour, "incident 4711 on the primary"); !errors.Is(err, purposes.ErrNeedsApproval) {
		t.Fatalf("a direct start: %v, want ErrNeedsApproval", err)
	}
	base := requests.PurposePayload{PurposeID: w.purpose.ID, Purpose: w.purpose.Name}
	must(t, r.svc.Approvals(nil).Provision(ctx, approved(time.Hour, base)))
	ss, err := r.st.ListPurposeSessions(ctx, w.tenant.ID, w.holder.ID, nil)
	must(t, err)
	if len(ss) != 1 || !ss[0].EndsAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("sessions %+v, want one for an hour", ss)
	}
	ses := ss[0]
	if _, err := r.svc.Extend(ctx, w.tenant.ID, ses.ID, w.holder.ID, time.Hour); !errors.Is(err, purposes.ErrNeedsApproval) {
		t.Fatalf("a direct extension: %v, want ErrNeedsApproval", err)
	}

	// Asked for 4 hours more; approved 30 minutes in: the end may be at
	// most 4 hours from then, so 3.5 hours are added.
	c.Set(t0.Add(30 * time.Minute))
	from := ses.EndsAt
	ext := base
	ext.Session, ext.From = ses.ID, &from
	req := approved(4*time.Hour, ext)
	must(t, r.svc.Approvals(nil).Provision(ctx, req))
	want := t0.Add(30*time.Minute + 4*time.Hour)
	cur, err := r.st.GetPurposeSession(ctx, w.tenant.ID, ses.ID)
	must(t, err)
	if !cur.EndsAt.Equal(want) {
		t.Fatalf("approved extension: ends %s, want %s (the maximum from the approval)", cur.EndsAt, want)
	}
	c.Set(t0.Add(time.Hour))
	must(t, r.svc.Approvals(nil).Provision(ctx, req)) // a retry
	if cur, _ := r.st.GetPurposeSession(ctx, w.tenant.ID, ses.ID); !cur.EndsAt.Equal(want) {
		t.Fatalf("a retried approval moved the end to %s", cur.EndsAt)
	}

	_, err = r.svc.Stop(ctx, w.tenant.ID, ses.ID, w.holder.ID, "")
	must(t, err)
	late := approved(time.Hour, ext)
	must(t, r.svc.Approvals(nil).Provision(ctx, late))
	if cur, _ := r.st.GetPurposeSession(ctx, w.tenant.ID, ses.ID); !cur.EndsAt.Equal(want) || cur.Status == accessbot.SessionActive {
		t.Fatalf("an extension approved after the stop changed the session: %+v", cur)
	}
}
