package reviews_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/reviews"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/backend"
	"github.com/accessbot/accessbot/store/storetest"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); c.now = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// call is one recorded Notifier call.
type call struct {
	Method   string
	At       time.Time // the clock when it was made
	To       string    // reviewer or owner
	Campaign string
	Items    int
	Pending  int
	Reason   reviews.AssignReason
	Overdue  bool
	Targets  []string
}

type recorder struct {
	mu    sync.Mutex
	clock *clock
	calls []call
	fails map[string]int // method → calls still to fail (Slack down), recording nothing
}

var _ reviews.Notifier = (*recorder)(nil)

func (r *recorder) add(c call) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fails[c.Method] > 0 {
		r.fails[c.Method]--
		return fmt.Errorf("%s: slack is down", c.Method)
	}
	c.At = r.clock.Now()
	r.calls = append(r.calls, c)
	return nil
}

func (r *recorder) Assigned(_ context.Context, a reviews.Assignment) error {
	return r.add(call{Method: "Assigned", To: a.ReviewerID, Campaign: a.Campaign.ID, Items: a.Items, Pending: a.Pending, Reason: a.Reason})
}

func (r *recorder) Remind(_ context.Context, c *accessbot.Campaign, rid, _ string, pending int, overdue bool) error {
	return r.add(call{Method: "Remind", To: rid, Campaign: c.ID, Pending: pending, Overdue: overdue})
}

func (r *recorder) Escalated(_ context.Context, c *accessbot.Campaign, rid string, pending int, to []string) error {
	return r.add(call{Method: "Escalated", To: rid, Campaign: c.ID, Pending: pending, Targets: slices.Clone(to)})
}

func (r *recorder) RevocationRequested(_ context.Context, c *accessbot.Campaign, owner string, items []accessbot.ReviewItem) error {
	return r.add(call{Method: "RevocationRequested", To: owner, Campaign: c.ID, Items: len(items)})
}

func (r *recorder) of(method string) []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []call
	for _, c := range r.calls {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

func (r *recorder) reset() { r.mu.Lock(); r.calls = nil; r.mu.Unlock() }

// fixture: tenant acme; bob and cat report to mia, mia to ceo; dan has no
// manager; olga owns GitLab; ada is the admin. GitLab's inventory: bob,
// cat and dan hold "admins" (privileged) and bob holds "devs"; the account
// "svc-1" (no email) maps to dan explicitly; "ghost" maps to nobody.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	st    store.Store
	clock *clock
	rec   *recorder
	svc   *reviews.Service
	ten   *accessbot.Tenant
	u     map[string]*accessbot.User
	app   *accessbot.Application
}

var t0 = time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)

func forEachDriver(t *testing.T, fn func(t *testing.T, driver string)) {
	for _, d := range storetest.Drivers(t) {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

func newFixture(t *testing.T, driver string) *fixture {
	t.Helper()
	clk := &clock{now: t0}
	st := storetest.Open(t, driver, backend.WithClock(clk.Now))
	rec := &recorder{clock: clk}
	f := &fixture{t: t, ctx: context.Background(), st: st, clock: clk, rec: rec, u: map[string]*accessbot.User{},
		svc: reviews.New(st, rec, clk.Now, reviews.DefaultPolicy(), zerolog.Nop())}
	f.ten = &accessbot.Tenant{Slug: "acme", Name: "Acme"}
	f.must(st.CreateTenant(f.ctx, f.ten))
	for _, p := range []struct{ name, manager string }{
		{"ceo", ""}, {"mia", "ceo"}, {"bob", "mia"}, {"cat", "mia"}, {"dan", ""}, {"olga", ""}, {"ada", ""}, {"ned", ""}, {"xavi", ""},
	} {
		u := &accessbot.User{TenantID: f.ten.ID, Email: p.name + "@acme.test", Name: strings.ToUpper(p.name[:1]) + p.name[1:],
			Status: accessbot.UserActive, Role: accessbot.RoleMember}
		if p.name == "ada" {
			u.Role = accessbot.RoleAdmin
		}
		if p.manager != "" {
			u.ManagerID = f.u[p.manager].ID
		}
		f.must(st.CreateUser(f.ctx, u))
		f.u[p.name] = u
	}
	f.app = &accessbot.Application{TenantID: f.ten.ID, Name: "GitLab", Connector: "manual", PrimaryOwnerID: f.u["olga"].ID}
	f.must(st.CreateApplication(f.ctx, f.app))
	f.inventory(f.app.ID, map[string][]string{"bob": {"admins", "devs"}, "cat": {"admins"}, "dan": {"admins"}})
	return f
}

// inventory uploads identities named by user (email user@acme.test) holding
// entitlements; "admins" is privileged.
func (f *fixture) inventory(appID string, holds map[string][]string) {
	f.t.Helper()
	var ids []accessbot.Identity
	ents := map[string]bool{}
	var rels []accessbot.RelationKey
	names := make([]string, 0, len(holds))
	for n := range holds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		email := n + "@acme.test"
		if strings.HasPrefix(n, "svc") || strings.HasPrefix(n, "ghost") {
			email = ""
		}
		ids = append(ids, accessbot.Identity{ExternalID: n, Email: email, DisplayName: "acct " + n, Status: accessbot.IdentityActive})
		for _, e := range holds[n] {
			ents[e] = true
			rels = append(rels, accessbot.RelationKey{IdentityExternalID: n, EntitlementExternalID: e})
		}
	}
	var es []accessbot.AppEntitlement
	for e := range ents {
		ae := accessbot.AppEntitlement{ExternalID: e, Name: e, Type: "group"}
		if e == "admins" {
			ae.Labels = []string{accessbot.LabelPrivileged}
		}
		es = append(es, ae)
	}
	f.must(f.st.InTx(f.ctx, func(q store.Queries) error {
		if _, err := q.ReplaceIdentities(f.ctx, f.ten.ID, appID, ids, accessbot.SnapshotKeep{}, f.clock.Now()); err != nil {
			return err
		}
		if _, err := q.ReplaceAppEntitlements(f.ctx, f.ten.ID, appID, es, accessbot.SnapshotKeep{}, f.clock.Now()); err != nil {
			return err
		}
		_, err := q.ReplaceRelations(f.ctx, f.ten.ID, appID, rels, accessbot.SnapshotKeep{}, f.clock.Now())
		return err
	}))
}

func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) launch(levels ...accessbot.ReviewerRule) *reviews.LaunchResult {
	f.t.Helper()
	res, err := f.svc.Launch(f.ctx, reviews.LaunchInput{TenantID: f.ten.ID, ActorID: f.u["ada"].ID, Name: "Q1 review",
		Scope: accessbot.ReviewScope{AppIDs: []string{f.app.ID}}, Levels: levels, DueAt: f.clock.Now().Add(10 * 24 * time.Hour)})
	f.must(err)
	return res
}

func (f *fixture) pending(user string) []accessbot.ReviewItem {
	f.t.Helper()
	items, err := f.svc.PendingItems(f.ctx, f.ten.ID, f.u[user].ID, "")
	f.must(err)
	return items
}

func (f *fixture) name(id string) string {
	for n, u := range f.u {
		if u.ID == id {
			return n
		}
	}
	return id
}

func (f *fixture) audits(action string) []accessbot.AuditEntry {
	f.t.Helper()
	all, err := f.st.ListAudit(f.ctx, f.ten.ID, "")
	f.must(err)
	var out []accessbot.AuditEntry
	for _, e := range all {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

func (f *fixture) svc2Log() zerolog.Logger { return zerolog.Nop() }
