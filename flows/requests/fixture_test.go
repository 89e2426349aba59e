package requests_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/backend"
	"github.com/accessbot/accessbot/store/storetest"
)

// clock is a controllable clock shared by the service and the store.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// call is one recorded Notifier or Provisioner call.
type call struct {
	Method    string
	RequestID string
	Status    accessbot.RequestStatus
	Level     int
	UserIDs   []string
	Decisions int
}

// recorder is a Notifier and Provisioner that remembers every call.
type recorder struct {
	mu    sync.Mutex
	calls []call
}

var (
	_ requests.Notifier    = (*recorder)(nil)
	_ requests.Provisioner = (*recorder)(nil)
)

func (r *recorder) add(c call) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
	return nil
}

func (r *recorder) RequestCreated(_ context.Context, req *accessbot.AccessRequest) error {
	return r.add(call{Method: "RequestCreated", RequestID: req.ID, Status: req.Status, Level: req.Level})
}

func (r *recorder) ApprovalNeeded(_ context.Context, req *accessbot.AccessRequest, level int, ids []string) error {
	return r.add(call{Method: "ApprovalNeeded", RequestID: req.ID, Status: req.Status, Level: level, UserIDs: slices.Clone(ids)})
}

func (r *recorder) LevelDecided(_ context.Context, req *accessbot.AccessRequest, level int, ds []accessbot.Decision) error {
	return r.add(call{Method: "LevelDecided", RequestID: req.ID, Status: req.Status, Level: level, Decisions: len(ds)})
}

func (r *recorder) RequestFinished(_ context.Context, req *accessbot.AccessRequest) error {
	return r.add(call{Method: "RequestFinished", RequestID: req.ID, Status: req.Status, Level: req.Level})
}

func (r *recorder) Remind(_ context.Context, req *accessbot.AccessRequest, level int, ids []string) error {
	return r.add(call{Method: "Remind", RequestID: req.ID, Status: req.Status, Level: level, UserIDs: slices.Clone(ids)})
}

func (r *recorder) Provision(_ context.Context, req *accessbot.AccessRequest) error {
	return r.add(call{Method: "Provision", RequestID: req.ID, Status: req.Status, Level: req.Level})
}

// of returns the calls of one method, in order.
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

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = nil
}

// fixture is one tenant with people, an application and its connections.
type fixture struct {
	t      *testing.T
	ctx    context.Context
	st     store.Store
	clock  *clock
	rec    *recorder
	svc    *requests.Service
	tenant *accessbot.Tenant
	u      map[string]*accessbot.User // by short name
	app    *accessbot.Application
	conn   map[string]*accessbot.Connection // by name
}

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// forEachDriver runs fn once per store backend, in parallel subtests.
func forEachDriver(t *testing.T, fn func(t *testing.T, driver string)) {
	for _, d := range storetest.Drivers(t) {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, d)
		})
	}
}

// newFixture builds tenant "acme": alice and bob report to mgr; owner1 and
// owner2 own GitLab; admin1 and admin2 are admins; carol is anyone.
func newFixture(t *testing.T, driver string, policy requests.Policy) *fixture {
	t.Helper()
	clk := &clock{now: t0}
	st := storetest.Open(t, driver, backend.WithClock(clk.Now))
	rec := &recorder{}
	f := &fixture{
		t: t, ctx: context.Background(), st: st, clock: clk, rec: rec,
		svc: requests.New(st, rec, rec, clk.Now, policy, zerolog.Nop()),
		u:   map[string]*accessbot.User{}, conn: map[string]*accessbot.Connection{},
	}
	f.tenant = f.addTenant("acme")
	for _, p := range []struct{ name, manager string }{
		{"mgr", ""}, {"alice", "mgr"}, {"bob", "mgr"}, {"owner1", ""}, {"owner2", ""},
		{"admin1", ""}, {"admin2", ""}, {"carol", ""}, {"dave", ""},
	} {
		u := &accessbot.User{TenantID: f.tenant.ID, Email: p.name + "@acme.test", Name: p.name,
			Status: accessbot.UserActive, Role: accessbot.RoleMember}
		if strings.HasPrefix(p.name, "admin") {
			u.Role = accessbot.RoleAdmin
		}
		if p.manager != "" {
			u.ManagerID = f.u[p.manager].ID
		}
		f.must(st.CreateUser(f.ctx, u))
		f.u[p.name] = u
	}
	f.app = &accessbot.Application{
		TenantID: f.tenant.ID, Name: "GitLab", Connector: "gitlab",
		PrimaryOwnerID: f.u["owner1"].ID, SecondaryOwnerID: f.u["owner2"].ID,
		MaxDuration: 7 * 24 * time.Hour,
		ConnectionSchema: []accessbot.SchemaField{
			{Name: "visibility", Label: "Visibility", Type: "select", Required: true, Options: []string{"private", "internal"}},
			{Name: "notes", Label: "Notes", Type: "multiline"},
		},
	}
	f.must(st.CreateApplication(f.ctx, f.app))
	for _, c := range []struct{ name, typ string }{{"developers", "group"}, {"maintainers", "group"}, {"auditor", "role"}} {
		conn := &accessbot.Connection{TenantID: f.tenant.ID, AppID: f.app.ID, Name: c.name, Type: c.typ}
		f.must(st.CreateConnection(f.ctx, conn))
		f.conn[c.name] = conn
	}
	f.must(st.CreateResource(f.ctx, &accessbot.Resource{TenantID: f.tenant.ID, AppID: f.app.ID, Name: "repo-api", Type: "project"}))
	return f
}

func (f *fixture) addTenant(slug string) *accessbot.Tenant {
	tn := &accessbot.Tenant{Slug: slug, Name: slug}
	f.must(f.st.CreateTenant(f.ctx, tn))
	return tn
}

func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

// chain stores an approval chain for the app (or the tenant default when app is false).
func (f *fixture) chain(name string, forApp bool, connID string, levels ...accessbot.ApprovalLevel) {
	f.t.Helper()
	c := &accessbot.ApprovalChain{TenantID: f.tenant.ID, Name: name, ConnectionID: connID, Levels: levels}
	if forApp {
		c.AppID = f.app.ID
	}
	f.must(f.st.UpsertApprovalChain(f.ctx, c))
}

func level(rule accessbot.ApprovalRule, approvers ...accessbot.Approver) accessbot.ApprovalLevel {
	return accessbot.ApprovalLevel{Rule: rule, Approvers: approvers}
}

func kind(k accessbot.ApproverKind) accessbot.Approver { return accessbot.Approver{Kind: k} }

func (f *fixture) named(name string) accessbot.Approver {
	return accessbot.Approver{Kind: accessbot.ApproverUser, UserID: f.u[name].ID}
}

// ids maps short names to user ids.
func (f *fixture) ids(names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = f.u[n].ID
	}
	return out
}

// name maps a user id back to its short name, for readable failures.
func (f *fixture) name(id string) string {
	for n, u := range f.u {
		if u.ID == id {
			return n
		}
	}
	return id
}

func (f *fixture) names(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = f.name(id)
	}
	slices.Sort(out)
	return out
}

// userAccess is a valid request by alice for herself.
func (f *fixture) userAccess() requests.UserAccess {
	return requests.UserAccess{
		TenantID: f.tenant.ID, RequesterID: f.u["alice"].ID, AppID: f.app.ID,
		ConnectionID: f.conn["developers"].ID, Duration: 8 * time.Hour,
		Justification: "Need to fix the release pipeline this week.",
	}
}

func (f *fixture) create(in requests.Input) *accessbot.AccessRequest {
	f.t.Helper()
	r, err := f.svc.Create(f.ctx, in)
	if err != nil {
		f.t.Fatalf("create: %v", err)
	}
	return r
}

func (f *fixture) decide(r *accessbot.AccessRequest, who string, lvl int, d accessbot.DecisionKind, reason string) (*requests.Outcome, error) {
	return f.svc.Decide(f.ctx, requests.DecideInput{
		TenantID: f.tenant.ID, RequestID: r.ID, ActorID: f.u[who].ID, Level: lvl, Decision: d, Reason: reason,
	})
}

func (f *fixture) approve(r *accessbot.AccessRequest, who string, lvl int) *requests.Outcome {
	f.t.Helper()
	out, err := f.decide(r, who, lvl, accessbot.DecisionApprove, "")
	if err != nil {
		f.t.Fatalf("%s approves level %d: %v", who, lvl+1, err)
	}
	return out
}

func (f *fixture) get(id string) *accessbot.AccessRequest {
	f.t.Helper()
	r, err := f.st.GetRequest(f.ctx, f.tenant.ID, id)
	f.must(err)
	return r
}

func (f *fixture) audit(id string) []string {
	f.t.Helper()
	es, err := f.st.ListAudit(f.ctx, f.tenant.ID, id)
	f.must(err)
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Action
	}
	return out
}

func (f *fixture) decisions(id string) []accessbot.Decision {
	f.t.Helper()
	ds, err := f.st.ListDecisions(f.ctx, f.tenant.ID, id)
	f.must(err)
	return ds
}

// levelNames is each resolved level's approvers as short names.
func (f *fixture) levelNames(r *accessbot.AccessRequest) [][]string {
	out := make([][]string, len(r.Levels))
	for i := range r.Levels {
		out[i] = f.names(requests.LevelApprovers(r, i))
	}
	return out
}

func fieldErrors(t *testing.T, err error) map[string]string {
	t.Helper()
	var fe *requests.FieldErrors
	if !errors.As(err, &fe) {
		t.Fatalf("want *FieldErrors, got %v", err)
	}
	if !errors.Is(err, accessbot.ErrInvalid) {
		t.Errorf("FieldErrors should unwrap to ErrInvalid")
	}
	return fe.Fields
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func fmtLevels(l [][]string) string { return fmt.Sprint(l) }
