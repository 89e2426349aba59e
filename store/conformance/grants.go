package conformance

import (
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// testGrantEnds covers how a grant ends: the expired-grant claim (one
// winner among racers, the end time re-checked), the ending mark, the
// extension's conditional move, and the tenant's expiry notices.
func testGrantEnds(t *testing.T, s store.Store) {
	ten := newTenant(t, s)
	other := newTenant(t, s)
	u := newUser(t, s, ten.ID, "holder@example.com")
	a := newApp(t, s, ten.ID, "App", u.ID)
	c1 := newConn(t, s, ten.ID, a.ID, "c1")
	c2 := newConn(t, s, ten.ID, a.ID, "c2")
	now := time.Now().UTC().Truncate(time.Second)
	end := now.Add(time.Hour)
	e1 := &accessbot.Entitlement{TenantID: ten.ID, UserID: u.ID, ConnectionID: c1.ID, GrantedAt: now, ExpiresAt: &end}
	ok(t, s.CreateEntitlement(ctx(), e1), "create time-bound grant")
	e2 := &accessbot.Entitlement{TenantID: ten.ID, UserID: u.ID, ConnectionID: c2.ID, GrantedAt: now}
	ok(t, s.CreateEntitlement(ctx(), e2), "create permanent grant")

	got, err := s.GetEntitlement(ctx(), ten.ID, e1.ID)
	ok(t, err, "get entitlement")
	same(t, *got, *e1, "get entitlement")
	_, err = s.GetEntitlement(ctx(), other.ID, e1.ID)
	isErr(t, err, accessbot.ErrNotFound, "get another tenant's entitlement")
	byConn, err := s.ListConnectionEntitlements(ctx(), ten.ID, c1.ID)
	ok(t, err, "list connection entitlements")
	same(t, byConn, []accessbot.Entitlement{*e1}, "list connection entitlements")

	claim := func(tenantID, id string, at time.Time) func() (bool, error) {
		return func() (bool, error) { return s.ClaimExpiredEntitlement(ctx(), tenantID, id, at, time.Minute) }
	}
	// Not yet expired: no claim.
	claims(t, false, "claim before the end", claim(ten.ID, e1.ID, end.Add(-time.Second)))
	claims(t, false, "claim a permanent grant", claim(ten.ID, e2.ID, end))
	claims(t, false, "claim from another tenant", claim(other.ID, e1.ID, end))
	oneRacerWins(t, "claim at the end", claim(ten.ID, e1.ID, end))
	// The lease runs out (a crashed winner): another claim wins.
	claims(t, true, "reclaim after the lease", claim(ten.ID, e1.ID, end.Add(time.Minute)))

	ok(t, s.MarkEntitlementEnding(ctx(), ten.ID, e1.ID, "flow-1", end), "mark ending")
	ok(t, s.MarkEntitlementEnding(ctx(), ten.ID, e1.ID, "flow-1", end), "mark ending again with the same flow")
	isErr(t, s.MarkEntitlementEnding(ctx(), ten.ID, e1.ID, "flow-2", end), accessbot.ErrStale, "mark ending with another flow")
	isErr(t, s.MarkEntitlementEnding(ctx(), other.ID, e1.ID, "flow-1", end), accessbot.ErrNotFound, "mark another tenant's grant")
	got, err = s.GetEntitlement(ctx(), ten.ID, e1.ID)
	ok(t, err, "get ending entitlement")
	if got.EndingFlowID != "flow-1" || got.EndingAt == nil || !got.EndingAt.Equal(end) || !got.Ending() {
		t.Fatalf("ending grant = %+v", got)
	}
	claims(t, false, "claim a grant whose deprovisioning started", claim(ten.ID, e1.ID, end.Add(time.Hour)))
	list, err := s.ListExpiringEntitlements(ctx(), ten.ID, end.Add(time.Hour))
	ok(t, err, "list expiring")
	if len(list) != 0 {
		t.Fatalf("ending grants listed as expiring: %+v", list)
	}
	isErr(t, s.ExtendEntitlement(ctx(), ten.ID, e1.ID, end, end.Add(time.Hour)), accessbot.ErrStale, "extend an ending grant")

	// Extension: conditional on the end it was asked from.
	c3 := newConn(t, s, ten.ID, a.ID, "c3")
	e3 := &accessbot.Entitlement{TenantID: ten.ID, UserID: u.ID, ConnectionID: c3.ID, GrantedAt: now, ExpiresAt: &end}
	ok(t, s.CreateEntitlement(ctx(), e3), "create grant to extend")
	later := end.Add(8 * time.Hour)
	ok(t, s.ExtendEntitlement(ctx(), ten.ID, e3.ID, end, later), "extend")
	isErr(t, s.ExtendEntitlement(ctx(), ten.ID, e3.ID, end, later.Add(time.Hour)), accessbot.ErrStale, "extend from a stale end")
	isErr(t, s.ExtendEntitlement(ctx(), ten.ID, "missing", end, later), accessbot.ErrNotFound, "extend a missing grant")
	isErr(t, s.ExtendEntitlement(ctx(), other.ID, e3.ID, later, later.Add(time.Hour)), accessbot.ErrNotFound, "extend another tenant's grant")
	claims(t, false, "claim an extended grant at its old end", claim(ten.ID, e3.ID, end))
	list, err = s.ListExpiringEntitlements(ctx(), ten.ID, later)
	ok(t, err, "list expiring at the new end")
	same(t, list, []accessbot.Entitlement{{TenantID: ten.ID, ID: e3.ID, UserID: u.ID, ConnectionID: c3.ID, GrantedAt: now, ExpiresAt: &later}}, "expiring after the extension")

	// Expiry notices.
	_, err = s.GetGrantSettings(ctx(), ten.ID)
	isErr(t, err, accessbot.ErrNotFound, "no grant settings")
	gs := &accessbot.GrantSettings{TenantID: ten.ID, ExpiryNotices: []time.Duration{24 * time.Hour, time.Hour}}
	ok(t, s.PutGrantSettings(ctx(), gs), "put grant settings")
	back, err := s.GetGrantSettings(ctx(), ten.ID)
	ok(t, err, "get grant settings")
	same(t, back.ExpiryNotices, gs.ExpiryNotices, "expiry notices")
	ok(t, s.PutGrantSettings(ctx(), &accessbot.GrantSettings{TenantID: ten.ID}), "replace with none")
	back, err = s.GetGrantSettings(ctx(), ten.ID)
	ok(t, err, "get emptied grant settings")
	if len(back.ExpiryNotices) != 0 {
		t.Fatalf("expiry notices after emptying = %v", back.ExpiryNotices)
	}
	isErr(t, s.PutGrantSettings(ctx(), &accessbot.GrantSettings{TenantID: ten.ID, ExpiryNotices: []time.Duration{-time.Hour}}), accessbot.ErrInvalid, "negative offset")
	_, err = s.GetGrantSettings(ctx(), other.ID)
	isErr(t, err, accessbot.ErrNotFound, "another tenant's settings")
}

// testConnectionAssignments covers what a connection_assign request
// records: assign (twice is once), list in order, unassign, tenant
// isolation, and the rows going with their connection.
func testConnectionAssignments(t *testing.T, s store.Store) {
	ten := newTenant(t, s)
	other := newTenant(t, s)
	u := newUser(t, s, ten.ID, "owner@example.com")
	a := newApp(t, s, ten.ID, "App", u.ID)
	c := newConn(t, s, ten.ID, a.ID, "admins")
	at := time.Now().UTC().Truncate(time.Second)
	for _, m := range []struct{ typ, name string }{{"project", "web"}, {"group", "devs"}, {"project", "api"}, {"group", "devs"}} {
		ok(t, s.AssignToConnection(ctx(), &accessbot.ConnectionAssignment{TenantID: ten.ID, ConnectionID: c.ID, MemberType: m.typ,
			MemberName: m.name, RequestID: "req-1", GrantedAt: at}), "assign "+m.name)
	}
	got, err := s.ListConnectionAssignments(ctx(), ten.ID, c.ID)
	ok(t, err, "list assignments")
	want := []accessbot.ConnectionAssignment{
		{TenantID: ten.ID, ConnectionID: c.ID, MemberType: "group", MemberName: "devs", RequestID: "req-1", GrantedAt: at},
		{TenantID: ten.ID, ConnectionID: c.ID, MemberType: "project", MemberName: "api", RequestID: "req-1", GrantedAt: at},
		{TenantID: ten.ID, ConnectionID: c.ID, MemberType: "project", MemberName: "web", RequestID: "req-1", GrantedAt: at},
	}
	same(t, got, want, "list assignments (a repeated assign is one row)")
	none, err := s.ListConnectionAssignments(ctx(), other.ID, c.ID)
	ok(t, err, "list another tenant's assignments")
	if len(none) != 0 {
		t.Fatalf("another tenant sees %d assignments", len(none))
	}
	isErr(t, s.UnassignFromConnection(ctx(), other.ID, c.ID, "group", "devs"), accessbot.ErrNotFound, "unassign in another tenant")
	ok(t, s.UnassignFromConnection(ctx(), ten.ID, c.ID, "group", "devs"), "unassign")
	isErr(t, s.UnassignFromConnection(ctx(), ten.ID, c.ID, "group", "devs"), accessbot.ErrNotFound, "unassign twice")
	got, err = s.ListConnectionAssignments(ctx(), ten.ID, c.ID)
	ok(t, err, "list after unassign")
	same(t, got, want[1:], "list after unassign")
	isErr(t, s.AssignToConnection(ctx(), &accessbot.ConnectionAssignment{TenantID: ten.ID, ConnectionID: "no-such", MemberType: "group",
		MemberName: "x"}), accessbot.ErrNotFound, "assign to a missing connection")
	ok(t, s.DeleteConnection(ctx(), ten.ID, c.ID), "delete connection")
	got, err = s.ListConnectionAssignments(ctx(), ten.ID, c.ID)
	ok(t, err, "list after delete")
	if len(got) != 0 {
		t.Fatalf("assignments outlive their connection: %+v", got)
	}
}
