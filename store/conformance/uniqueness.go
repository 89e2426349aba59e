package conformance

import (
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// testTimes checks every kind of time column keeps microseconds exactly, in UTC.
func testTimes(t *testing.T, s store.Store) {
	ten := newTenant(t, s)
	at := fixedTime()
	want := time.Date(2031, 3, 29, 20, 29, 58, 123456000, time.UTC)
	if !at.Equal(want.Add(789 * time.Nanosecond)) {
		t.Fatalf("test setup: %v vs %v", at, want)
	}
	u := &accessbot.User{TenantID: ten.ID, Email: "t@example.com", CreatedAt: at, TerminatedAt: &at, DelegateUntil: &at}
	ok(t, s.CreateUser(ctx(), u), "create user")
	got, err := s.GetUser(ctx(), ten.ID, u.ID)
	ok(t, err, "get user")
	for name, tm := range map[string]time.Time{
		"created_at": got.CreatedAt, "terminated_at": *got.TerminatedAt, "delegate_until": *got.DelegateUntil,
		"caller's created_at": u.CreatedAt,
	} {
		if tm != want { // == : same instant, same location, no monotonic reading
			t.Errorf("%s = %v (%s), want %v exactly", name, tm, tm.Location(), want)
		}
	}

	r := &accessbot.AccessRequest{TenantID: ten.ID, Kind: accessbot.RequestUserAccess, RequesterID: u.ID,
		CreatedAt: at, DecidedAt: &at, RemindedAt: &at, EscalatedAt: &at, Status: accessbot.StatusApproved}
	ok(t, s.CreateRequest(ctx(), r), "create request")
	gr, err := s.GetRequest(ctx(), ten.ID, r.ID)
	ok(t, err, "get request")
	for name, tm := range map[string]time.Time{
		"created_at": gr.CreatedAt, "decided_at": *gr.DecidedAt, "reminded_at": *gr.RemindedAt, "escalated_at": *gr.EscalatedAt,
	} {
		if tm != want {
			t.Errorf("request %s = %v, want %v exactly", name, tm, want)
		}
	}

	// Times before 1970 and far in the future survive, and compare correctly.
	a := newApp(t, s, ten.ID, "A", "")
	c := newConn(t, s, ten.ID, a.ID, "c")
	early := time.Date(1969, 7, 20, 20, 17, 40, 999999000, time.UTC)
	late := time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
	e := &accessbot.Entitlement{TenantID: ten.ID, UserID: u.ID, ConnectionID: c.ID, GrantedAt: early, ExpiresAt: &late}
	ok(t, s.CreateEntitlement(ctx(), e), "create entitlement")
	list, err := s.ListEntitlements(ctx(), ten.ID, u.ID)
	ok(t, err, "list entitlements")
	if len(list) != 1 || list[0].GrantedAt != early || *list[0].ExpiresAt != late {
		t.Fatalf("entitlement times = %+v", list)
	}
	exp, err := s.ListExpiringEntitlements(ctx(), ten.ID, late.Add(-time.Microsecond))
	ok(t, err, "list expiring")
	if len(exp) != 0 {
		t.Fatalf("expiring before %v: %+v", late.Add(-time.Microsecond), exp)
	}
	// A zone other than UTC compares by instant.
	exp, err = s.ListExpiringEntitlements(ctx(), ten.ID, late.In(time.FixedZone("W", -8*3600)))
	ok(t, err, "list expiring, other zone")
	if len(exp) != 1 {
		t.Fatalf("expiring at exactly %v in another zone: got %d", late, len(exp))
	}
}

// testUniqueness runs each uniqueness rule: the duplicate is ErrConflict, the
// near-miss is fine.
func testUniqueness(t *testing.T, s store.Store) {
	tests := []struct {
		name    string
		run     func(t *testing.T, a, b string) error // a, b: two fresh tenant ids; returns the duplicate's error
		allowed func(t *testing.T, a, b string)       // what must still be allowed
	}{
		{"tenant slug", func(t *testing.T, a, b string) error {
			ten, err := s.GetTenant(ctx(), a)
			ok(t, err, "get tenant")
			return s.CreateTenant(ctx(), &accessbot.Tenant{Slug: ten.Slug, Name: "dup"})
		}, nil},
		{"user email, case-insensitive", func(t *testing.T, a, b string) error {
			newUser(t, s, a, "Same@Example.com")
			return s.CreateUser(ctx(), &accessbot.User{TenantID: a, Email: "same@EXAMPLE.com"})
		}, func(t *testing.T, a, b string) {
			newUser(t, s, b, "same@example.com") // same email, other tenant
		}},
		{"user email on update", func(t *testing.T, a, b string) error {
			newUser(t, s, a, "one@example.com")
			u := newUser(t, s, a, "two@example.com")
			u.Email = "ONE@example.com"
			return s.UpdateUser(ctx(), u)
		}, nil},
		{"application name, case-insensitive", func(t *testing.T, a, b string) error {
			newApp(t, s, a, "GitLab", "")
			return s.CreateApplication(ctx(), &accessbot.Application{TenantID: a, Name: "gitlab"})
		}, func(t *testing.T, a, b string) {
			newApp(t, s, b, "GitLab", "")
		}},
		{"connection name per application", func(t *testing.T, a, b string) error {
			app := newApp(t, s, a, "App", "")
			newConn(t, s, a, app.ID, "devs")
			return s.CreateConnection(ctx(), &accessbot.Connection{TenantID: a, AppID: app.ID, Name: "devs"})
		}, func(t *testing.T, a, b string) {
			other := newApp(t, s, a, "Other", "")
			newConn(t, s, a, other.ID, "devs")
		}},
		{"resource name per application", func(t *testing.T, a, b string) error {
			app := newApp(t, s, a, "App", "")
			ok(t, s.CreateResource(ctx(), &accessbot.Resource{TenantID: a, AppID: app.ID, Name: "r"}), "create resource")
			return s.CreateResource(ctx(), &accessbot.Resource{TenantID: a, AppID: app.ID, Name: "r"})
		}, nil},
		{"workspace: tenant already bound", func(t *testing.T, a, b string) error {
			ok(t, s.BindWorkspace(ctx(), &accessbot.Workspace{TenantID: a, TeamID: "T" + randHex(4)}), "bind")
			return s.BindWorkspace(ctx(), &accessbot.Workspace{TenantID: a, TeamID: "T" + randHex(4)})
		}, nil},
		{"workspace: team already bound", func(t *testing.T, a, b string) error {
			team := "T" + randHex(4)
			ok(t, s.BindWorkspace(ctx(), &accessbot.Workspace{TenantID: a, TeamID: team}), "bind")
			return s.BindWorkspace(ctx(), &accessbot.Workspace{TenantID: b, TeamID: team})
		}, nil},
		{"open request key", func(t *testing.T, a, b string) error {
			u := newUser(t, s, a, "u@example.com")
			newRequest(t, s, a, u.ID, "user:u:conn:c")
			return s.CreateRequest(ctx(), &accessbot.AccessRequest{TenantID: a, Kind: accessbot.RequestUserAccess,
				RequesterID: u.ID, Status: accessbot.StatusPending, OpenKey: "user:u:conn:c"})
		}, func(t *testing.T, a, b string) {
			u := newUser(t, s, b, "u@example.com")
			newRequest(t, s, b, u.ID, "user:u:conn:c") // same key, other tenant
			newRequest(t, s, b, u.ID, "")              // no key: never a conflict
			newRequest(t, s, b, u.ID, "")
		}},
		{"decision per approver and level", func(t *testing.T, a, b string) error {
			u := newUser(t, s, a, "u@example.com")
			r := newRequest(t, s, a, u.ID, "")
			ok(t, s.AddDecision(ctx(), &accessbot.Decision{TenantID: a, RequestID: r.ID, ApproverID: u.ID, Decision: accessbot.DecisionApprove}), "decide")
			return s.AddDecision(ctx(), &accessbot.Decision{TenantID: a, RequestID: r.ID, ApproverID: u.ID, Decision: accessbot.DecisionDeny})
		}, nil},
		{"entitlement per user and connection", func(t *testing.T, a, b string) error {
			u := newUser(t, s, a, "u@example.com")
			c := newConn(t, s, a, newApp(t, s, a, "App", "").ID, "c")
			ok(t, s.CreateEntitlement(ctx(), &accessbot.Entitlement{TenantID: a, UserID: u.ID, ConnectionID: c.ID}), "grant")
			return s.CreateEntitlement(ctx(), &accessbot.Entitlement{TenantID: a, UserID: u.ID, ConnectionID: c.ID})
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := newTenant(t, s).ID, newTenant(t, s).ID
			isErr(t, tc.run(t, a, b), accessbot.ErrConflict, "duplicate")
			if tc.allowed != nil {
				tc.allowed(t, a, b)
			}
		})
	}
}
