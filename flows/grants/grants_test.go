package grants_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/grants"
	"github.com/accessbot/accessbot/internal/testenv"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/backend"
	"github.com/accessbot/accessbot/store/storetest"
)

// recorder is a provision.Deprovisioner that records each call and, as the
// contract says, answers the same flow for the same entitlement.
type recorder struct {
	mu    sync.Mutex
	calls []string // entitlement ids, one per call
	flows map[string]string
	fail  error
	// delay holds each call (outside the lock), as a real flow start takes
	// time: racing replicas then overlap between claim and record.
	delay time.Duration
}

func (r *recorder) Deprovision(_ context.Context, tenantID, entitlementID, actorID, reason string) (string, error) {
	time.Sleep(r.delay)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return "", r.fail
	}
	r.calls = append(r.calls, entitlementID)
	if r.flows == nil {
		r.flows = map[string]string{}
	}
	if f, ok := r.flows[entitlementID]; ok {
		return f, nil
	}
	f := fmt.Sprintf("flow-%d", len(r.flows)+1)
	r.flows[entitlementID] = f
	return f, nil
}

// DeprovisionTx records the call as Deprovision does (the transaction is the caller's).
func (r *recorder) DeprovisionTx(ctx context.Context, _ store.Queries, tenantID, entitlementID, actorID, reason string) (string, error) {
	return r.Deprovision(ctx, tenantID, entitlementID, actorID, reason)
}

func (r *recorder) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		if c == id {
			n++
		}
	}
	return n
}

type world struct {
	tenant *accessbot.Tenant
	user   *accessbot.User
	app    *accessbot.Application
	conns  []*accessbot.Connection
}

func seed(t *testing.T, st store.Store, conns int) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{tenant: &accessbot.Tenant{Slug: "acme", Name: "Acme"}}
	must(t, st.CreateTenant(ctx, w.tenant))
	w.user = &accessbot.User{TenantID: w.tenant.ID, Email: "holder@acme.test", Name: "Holder", Status: accessbot.UserActive, Role: accessbot.RoleMember}
	must(t, st.CreateUser(ctx, w.user))
	w.app = &accessbot.Application{TenantID: w.tenant.ID, Name: "GitLab", Connector: "manual", MaxDuration: 7 * 24 * time.Hour}
	must(t, st.CreateApplication(ctx, w.app))
	for i := range conns {
		c := &accessbot.Connection{TenantID: w.tenant.ID, AppID: w.app.ID, Name: fmt.Sprintf("group-%d", i), Type: "group"}
		must(t, st.CreateConnection(ctx, c))
		w.conns = append(w.conns, c)
	}
	return w
}

func (w *world) grant(t *testing.T, st store.Store, i int, granted time.Time, d time.Duration) *accessbot.Entitlement {
	t.Helper()
	g := &accessbot.Entitlement{TenantID: w.tenant.ID, UserID: w.user.ID, ConnectionID: w.conns[i].ID, GrantedAt: granted}
	if d > 0 {
		g.ExpiresAt = ptr(granted.Add(d))
	}
	must(t, st.CreateEntitlement(context.Background(), g))
	return g
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

func newService(t *testing.T, st store.Store, dep *recorder, n grants.Notifier, lease time.Duration) *grants.Service {
	t.Helper()
	s, err := grants.New(grants.Config{Store: st, Deprovisioner: dep, Notifier: n, Lease: lease, Log: zerolog.Nop()})
	must(t, err)
	return s
}

// TestExpiryAfterOutageTwoReplicas: the bot is down when a grant ends; two
// replicas (two store instances on one PostgreSQL, as two processes would
// have) come back and tick at once, again and again. The grant's
// deprovisioning starts exactly once, and a grant not yet ended and a
// permanent one are left alone.
func TestExpiryAfterOutageTwoReplicas(t *testing.T) {
	if !testenv.PostgresAvailable(t) {
		t.Skip("needs PostgreSQL")
	}
	ctx := context.Background()
	dsn := testenv.PostgresDSN(t)
	open := func() store.Store {
		st, err := backend.Open(ctx, backend.Postgres, dsn, zerolog.Nop())
		must(t, err)
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	a, b := open(), open()
	w := seed(t, a, 3)
	t0 := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	ended := w.grant(t, a, 0, t0, 8*time.Hour)
	later := w.grant(t, a, 1, t0, 72*time.Hour)
	w.grant(t, a, 2, t0, 0)

	dep := &recorder{delay: 200 * time.Millisecond}
	ra, rb := newService(t, a, dep, nil, time.Minute), newService(t, b, dep, nil, time.Minute)
	// Up before the end: nothing ends.
	must(t, ra.Tick(ctx, t0.Add(7*time.Hour)))
	if len(dep.calls) != 0 {
		t.Fatalf("deprovisioned before the end: %v", dep.calls)
	}
	// Down from 7h to 30h; both replicas come back at 30h and race.
	back := t0.Add(30 * time.Hour)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := ra
			if i%2 == 1 {
				s = rb
			}
			if err := s.Tick(ctx, back.Add(time.Duration(i)*time.Second)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	t.Logf("[counts] replicas=2 ticks=10 deprovision_calls=%d", len(dep.calls))
	if n := dep.count(ended.ID); n != 1 {
		t.Fatalf("the ended grant was deprovisioned %d times, want 1 (calls %v)", n, dep.calls)
	}
	if len(dep.calls) != 1 {
		t.Fatalf("deprovision calls = %v, want only the ended grant", dep.calls)
	}
	g, err := b.GetEntitlement(ctx, w.tenant.ID, ended.ID)
	must(t, err)
	if g.EndingFlowID != dep.flows[ended.ID] {
		t.Fatalf("grant records flow %q, the deprovisioner started %q", g.EndingFlowID, dep.flows[ended.ID])
	}
	audit, err := b.ListAudit(ctx, w.tenant.ID, ended.ID)
	must(t, err)
	if len(audit) != 1 || audit[0].Action != grants.ActionExpired || audit[0].ActorID != grants.SystemActor {
		t.Fatalf("audit of the expiry = %+v", audit)
	}
	// Still ticking after it started: no second call.
	must(t, rb.Tick(ctx, back.Add(time.Hour)))
	if n := dep.count(ended.ID); n != 1 {
		t.Fatalf("deprovisioned again on a later tick: %d", n)
	}
	// The other grant ends on its own time.
	must(t, ra.Tick(ctx, t0.Add(72*time.Hour)))
	if dep.count(later.ID) != 1 {
		t.Fatalf("grant ending at 72h: %d calls", dep.count(later.ID))
	}
}

// failMark is a store whose MarkEntitlementEnding fails: a replica that
// started the flow and lost the database (or died) before recording it.
type failMark struct{ store.Store }

func (failMark) MarkEntitlementEnding(context.Context, string, string, string, time.Time) error {
	return errors.New("connection reset")
}

func (f failMark) InTx(ctx context.Context, fn func(q store.Queries) error) error {
	return f.Store.InTx(ctx, func(q store.Queries) error { return fn(failMarkQ{q}) })
}

type failMarkQ struct{ store.Queries }

func (failMarkQ) MarkEntitlementEnding(context.Context, string, string, string, time.Time) error {
	return errors.New("connection reset")
}

// TestExpiryRecordLost: a replica starts the deprovisioning but cannot
// record it. Its claim keeps others off until the lease runs out; then the
// next replica asks again, gets the same flow (the Deprovisioner is
// idempotent) and records it. One flow, on both stores.
func TestExpiryRecordLost(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, driver)
			w := seed(t, st, 1)
			t0 := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
			g := w.grant(t, st, 0, t0, time.Hour)
			dep := &recorder{}
			broken := newService(t, failMark{st}, dep, nil, 5*time.Minute)
			good := newService(t, st, dep, nil, 5*time.Minute)
			end := t0.Add(time.Hour)
			if err := broken.Tick(ctx, end); err == nil {
				t.Fatal("a tick that could not record the flow reported no error")
			}
			must(t, good.Tick(ctx, end.Add(time.Minute))) // claim still held
			if n := dep.count(g.ID); n != 1 {
				t.Fatalf("calls while the claim holds: %d", n)
			}
			must(t, good.Tick(ctx, end.Add(6*time.Minute)))
			if n := dep.count(g.ID); n != 2 {
				t.Fatalf("calls after the lease: %d, want the retry", n)
			}
			if len(dep.flows) != 1 {
				t.Fatalf("flows started: %v", dep.flows)
			}
			got, err := st.GetEntitlement(ctx, w.tenant.ID, g.ID)
			must(t, err)
			if got.EndingFlowID != "flow-1" {
				t.Fatalf("recorded flow %q", got.EndingFlowID)
			}
			must(t, good.Tick(ctx, end.Add(time.Hour)))
			if n := dep.count(g.ID); n != 2 {
				t.Fatalf("calls after recording: %d", n)
			}
		})
	}
}

// notes records expiry notices; like the Slack side, each (grant, end,
// offset) counts once.
type notes struct {
	mu   sync.Mutex
	sent map[string]int
	log  []string
}

func (n *notes) ExpiryNotice(_ context.Context, g *accessbot.Entitlement, before time.Duration) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.sent == nil {
		n.sent = map[string]int{}
	}
	k := fmt.Sprintf("%s@%s-%s", g.ID, g.ExpiresAt.UTC().Format(time.RFC3339), before)
	if n.sent[k] == 0 {
		n.log = append(n.log, k)
	}
	n.sent[k]++
	return nil
}

func TestDueNotice(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	offs := []time.Duration{24 * time.Hour, time.Hour}
	g := func(d time.Duration) *accessbot.Entitlement {
		return &accessbot.Entitlement{GrantedAt: t0, ExpiresAt: ptr(t0.Add(d))}
	}
	for _, tc := range []struct {
		name string
		g    *accessbot.Entitlement
		at   time.Duration
		want time.Duration
		ok   bool
	}{
		{"before the day notice", g(72 * time.Hour), 47 * time.Hour, 0, false},
		{"at the day notice", g(72 * time.Hour), 48 * time.Hour, 24 * time.Hour, true},
		{"between", g(72 * time.Hour), 60 * time.Hour, 24 * time.Hour, true},
		{"at the hour notice", g(72 * time.Hour), 71 * time.Hour, time.Hour, true},
		{"down through both: only the hour", g(72 * time.Hour), 71*time.Hour + 30*time.Minute, time.Hour, true},
		{"ended", g(72 * time.Hour), 72 * time.Hour, 0, false},
		{"shorter than a day: no day notice", g(8 * time.Hour), time.Hour, 0, false},
		{"shorter than a day: the hour notice", g(8 * time.Hour), 7 * time.Hour, time.Hour, true},
		{"permanent", &accessbot.Entitlement{GrantedAt: t0}, time.Hour, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := grants.DueNotice(tc.g, offs, t0.Add(tc.at))
			if got != tc.want || ok != tc.ok {
				t.Fatalf("DueNotice = %s, %v; want %s, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestNoticesFollowSettingsAndExtension: the tenant's offsets are used, an
// empty list sends none, and an extension (a new end) gets its own notices.
func TestNoticesFollowSettingsAndExtension(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, "sqlite")
	w := seed(t, st, 1)
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	g := w.grant(t, st, 0, t0, 72*time.Hour)
	n := &notes{}
	s := newService(t, st, &recorder{}, n, time.Minute)
	must(t, st.PutGrantSettings(ctx, &accessbot.GrantSettings{TenantID: w.tenant.ID, ExpiryNotices: []time.Duration{2 * time.Hour}}))
	for _, at := range []time.Duration{48 * time.Hour, 69 * time.Hour, 70 * time.Hour, 70*time.Hour + 30*time.Minute} {
		must(t, s.Tick(ctx, t0.Add(at)))
	}
	end := t0.Add(72 * time.Hour)
	want := g.ID + "@" + end.Format(time.RFC3339) + "-2h0m0s"
	if len(n.log) != 1 || n.log[0] != want {
		t.Fatalf("notices = %v, want [%s]", n.log, want)
	}
	newEnd := end.Add(24 * time.Hour)
	must(t, st.ExtendEntitlement(ctx, w.tenant.ID, g.ID, end, newEnd))
	must(t, s.Tick(ctx, newEnd.Add(-90*time.Minute)))
	if len(n.log) != 2 {
		t.Fatalf("no notice for the new end: %v", n.log)
	}
	// No offsets: no notices (the defaults would send the hour's now).
	must(t, st.PutGrantSettings(ctx, &accessbot.GrantSettings{TenantID: w.tenant.ID}))
	must(t, s.Tick(ctx, newEnd.Add(-30*time.Minute)))
	if len(n.log) != 2 {
		t.Fatalf("notices with none configured: %v", n.log)
	}
}
