package conformance

import (
	"fmt"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// testSlackIDs covers stored Slack ids: valid only while the user keeps the
// email they were verified for (changed, terminated or deleted users lose them), one
// tenant user per Slack user, the DM channel kept for the same Slack user
// only, user_change's forget, and tenant isolation.
func testSlackIDs(t *testing.T, s store.Store) {
	ten, other := newTenant(t, s), newTenant(t, s)
	ada := newUser(t, s, ten.ID, "Ada@Example.com")
	bob := newUser(t, s, ten.ID, "bob@example.com")
	otherAda := newUser(t, s, other.ID, "ada@example.com")
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	get := func(tenantID, userID string) *store.SlackID {
		t.Helper()
		got, err := s.GetSlackID(ctx(), tenantID, userID, "T1")
		ok(t, err, "get slack id of "+userID)
		return got
	}
	gone := func(tenantID, userID, what string) {
		t.Helper()
		_, err := s.GetSlackID(ctx(), tenantID, userID, "T1")
		isErr(t, err, accessbot.ErrNotFound, what)
	}

	gone(ten.ID, ada.ID, "nothing stored yet")
	put := &store.SlackID{TenantID: ten.ID, UserID: ada.ID, TeamID: "T1", SlackUserID: "U1", Email: "ADA@example.com", VerifiedAt: at}
	ok(t, s.PutSlackID(ctx(), put), "put")
	same(t, *get(ten.ID, ada.ID), store.SlackID{TenantID: ten.ID, UserID: ada.ID, TeamID: "T1", SlackUserID: "U1",
		Email: "ada@example.com", VerifiedAt: at}, "get after put")
	_, err := s.GetSlackID(ctx(), ten.ID, ada.ID, "T2")
	isErr(t, err, accessbot.ErrNotFound, "another workspace")
	gone(other.ID, ada.ID, "another tenant reads it")
	gone(other.ID, otherAda.ID, "the other tenant's user of the same email")
	isErr(t, s.PutSlackID(ctx(), &store.SlackID{TenantID: other.ID, UserID: ada.ID, TeamID: "T1", SlackUserID: "U1",
		Email: "ada@example.com", VerifiedAt: at}), accessbot.ErrStale, "put for a user of another tenant")
	isErr(t, s.PutSlackID(ctx(), &store.SlackID{TenantID: ten.ID, UserID: ada.ID, TeamID: "T1", SlackUserID: "U1",
		Email: "old@example.com", VerifiedAt: at}), accessbot.ErrStale, "put for an email the user no longer has")
	isErr(t, s.PutSlackID(ctx(), &store.SlackID{TenantID: ten.ID, UserID: ada.ID, TeamID: "T1"}), accessbot.ErrInvalid, "put without a Slack user")

	// The DM channel: set only for the Slack user named, kept by a re-verification.
	isErr(t, s.SetSlackDM(ctx(), ten.ID, ada.ID, "U9", "D9"), accessbot.ErrNotFound, "DM of another Slack user")
	isErr(t, s.SetSlackDM(ctx(), other.ID, ada.ID, "U1", "D9"), accessbot.ErrNotFound, "DM through another tenant")
	ok(t, s.SetSlackDM(ctx(), ten.ID, ada.ID, "U1", "D1"), "set DM")
	later := at.Add(24 * time.Hour)
	ok(t, s.PutSlackID(ctx(), &store.SlackID{TenantID: ten.ID, UserID: ada.ID, TeamID: "T1", SlackUserID: "U1", Email: "ada@example.com", VerifiedAt: later}), "re-verify")
	if g := get(ten.ID, ada.ID); g.DMChannelID != "D1" || !g.VerifiedAt.Equal(later) {
		t.Fatalf("after re-verifying: %+v, want DM D1 and verified %v", g, later)
	}
	ok(t, s.PutSlackID(ctx(), &store.SlackID{TenantID: ten.ID, UserID: ada.ID, TeamID: "T1", SlackUserID: "U2", Email: "ada@example.com", VerifiedAt: later}), "another Slack user")
	if g := get(ten.ID, ada.ID); g.SlackUserID != "U2" || g.DMChannelID != "" {
		t.Fatalf("after a new Slack user: %+v, want U2 and no DM", g)
	}

	// One tenant user per Slack user: the email moved from Ada to Bob in Slack.
	ok(t, s.PutSlackID(ctx(), &store.SlackID{TenantID: ten.ID, UserID: bob.ID, TeamID: "T1", SlackUserID: "U2", Email: "bob@example.com", VerifiedAt: later}), "Bob takes U2")
	gone(ten.ID, ada.ID, "Ada after Bob took her Slack user")
	if g := get(ten.ID, bob.ID); g.SlackUserID != "U2" {
		t.Fatalf("Bob: %+v", g)
	}

	// user_change: the same email keeps it, another drops it; only in the tenant.
	ok(t, s.PutSlackID(ctx(), &store.SlackID{TenantID: other.ID, UserID: otherAda.ID, TeamID: "T1", SlackUserID: "U2", Email: "ada@example.com", VerifiedAt: at}), "other tenant")
	n, err := s.ForgetSlackUser(ctx(), ten.ID, "T1", "U2", "BOB@example.com")
	ok(t, err, "forget with the same email")
	if n != 0 {
		t.Fatalf("forget with the same email dropped %d", n)
	}
	n, err = s.ForgetSlackUser(ctx(), ten.ID, "T1", "U2", "robert@example.com")
	ok(t, err, "forget with a new email")
	if n != 1 {
		t.Fatalf("forget with a new email dropped %d, want 1", n)
	}
	gone(ten.ID, bob.ID, "Bob after his Slack email changed")
	get(other.ID, otherAda.ID) // untouched

	// Our side: an email change or a deletion drops it.
	ok(t, s.PutSlackID(ctx(), &store.SlackID{TenantID: ten.ID, UserID: ada.ID, TeamID: "T1", SlackUserID: "U1", Email: "ada@example.com", VerifiedAt: at}), "put Ada")
	ada.Name = "Ada L."
	ok(t, s.UpdateUser(ctx(), ada), "rename")
	get(ten.ID, ada.ID)
	ada.Email = "ada.l@example.com"
	ok(t, s.UpdateUser(ctx(), ada), "change email")
	gone(ten.ID, ada.ID, "after the email changed")
	ada.Email = "ada@example.com"
	ok(t, s.UpdateUser(ctx(), ada), "change it back")
	gone(ten.ID, ada.ID, "after the email changed back: it was cleared, not hidden")
	ok(t, s.PutSlackID(ctx(), &store.SlackID{TenantID: ten.ID, UserID: ada.ID, TeamID: "T1", SlackUserID: "U1", Email: "ada@example.com", VerifiedAt: at}), "put Ada")
	ada.Status, ada.TerminatedAt = accessbot.UserTerminated, &at
	ok(t, s.UpdateUser(ctx(), ada), "terminate")
	gone(ten.ID, ada.ID, "after the user was terminated")
	ada.Status, ada.TerminatedAt = accessbot.UserActive, nil
	ok(t, s.UpdateUser(ctx(), ada), "reactivate")
	ok(t, s.PutSlackID(ctx(), &store.SlackID{TenantID: ten.ID, UserID: bob.ID, TeamID: "T1", SlackUserID: "U3", Email: "bob@example.com", VerifiedAt: at}), "put Bob")
	// A DM Slack refused (the Slack user is gone): every email is forgotten,
	// only that Slack user's row, only in the tenant.
	n, err = s.ForgetSlackUser(ctx(), other.ID, "T1", "U3", "")
	ok(t, err, "forget through another tenant")
	if n != 0 {
		t.Fatalf("forget through another tenant dropped %d", n)
	}
	get(ten.ID, bob.ID)
	ok(t, s.DeleteUser(ctx(), ten.ID, bob.ID), "delete Bob")
	gone(ten.ID, bob.ID, "after deleting the user")
	ok(t, s.PutSlackID(ctx(), &store.SlackID{TenantID: ten.ID, UserID: ada.ID, TeamID: "T1", SlackUserID: "U1", Email: "ada@example.com", VerifiedAt: at}), "put Ada again")
	n, err = s.ForgetSlackUser(ctx(), ten.ID, "T1", "U9", "")
	ok(t, err, "forget another Slack user")
	if n != 0 {
		t.Fatalf("forgetting another Slack user dropped %d", n)
	}
	get(ten.ID, ada.ID)
	n, err = s.ForgetSlackUser(ctx(), ten.ID, "T1", "U1", "")
	ok(t, err, "forget Ada's Slack user")
	if n != 1 {
		t.Fatalf("forgetting Ada's Slack user dropped %d, want 1", n)
	}
	gone(ten.ID, ada.ID, "after her Slack user was forgotten")
}

// testUserBySlackID covers finding the tenant user by a stored Slack id:
// only in its tenant and team, only verified since the time asked, only
// while the user keeps the email it was verified for.
func testUserBySlackID(t *testing.T, s store.Store) {
	ten, other := newTenant(t, s), newTenant(t, s)
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		change      func(t *testing.T, u *accessbot.User) // after the id was stored
		tenant      string                                // "" : the user's
		team, slack string                                // "" : T1, the user's
		since       time.Time
		found       bool
	}{
		{name: "found", since: at, found: true},
		{name: "verified earlier than asked", since: at.Add(time.Microsecond)},
		{name: "verified long ago", since: at.Add(-time.Hour), found: true},
		{name: "another team", team: "T2", since: at},
		{name: "another Slack user", slack: "U9", since: at},
		{name: "another tenant", tenant: other.ID, since: at},
		{name: "renamed", since: at, found: true, change: func(t *testing.T, u *accessbot.User) {
			u.Name = "Renamed"
			ok(t, s.UpdateUser(ctx(), u), "rename")
		}},
		{name: "leaving date set: still found, with it", since: at, found: true, change: func(t *testing.T, u *accessbot.User) {
			u.TerminatedAt = &at
			ok(t, s.UpdateUser(ctx(), u), "set leaving date")
		}},
		{name: "email changed", since: at, change: func(t *testing.T, u *accessbot.User) {
			u.Email = "new-" + u.Email
			ok(t, s.UpdateUser(ctx(), u), "change email")
		}},
		{name: "terminated", since: at, change: func(t *testing.T, u *accessbot.User) {
			u.Status, u.TerminatedAt = accessbot.UserTerminated, &at
			ok(t, s.UpdateUser(ctx(), u), "terminate")
		}},
		{name: "deleted", since: at, change: func(t *testing.T, u *accessbot.User) {
			ok(t, s.DeleteUser(ctx(), u.TenantID, u.ID), "delete")
		}},
	}
	for i, tt := range tests {
		slack := fmt.Sprintf("U%d", i)
		u := newUser(t, s, ten.ID, fmt.Sprintf("Person%d@Example.com", i))
		// The same email and Slack id in the other tenant: never its answer.
		newUser(t, s, other.ID, fmt.Sprintf("person%d@example.com", i))
		ok(t, s.PutSlackID(ctx(), &store.SlackID{TenantID: ten.ID, UserID: u.ID, TeamID: "T1", SlackUserID: slack,
			Email: u.Email, VerifiedAt: at}), tt.name+": put")
		if tt.change != nil {
			tt.change(t, u)
		}
		tenant, team := ten.ID, "T1"
		if tt.tenant != "" {
			tenant = tt.tenant
		}
		if tt.team != "" {
			team = tt.team
		}
		if tt.slack != "" {
			slack = tt.slack
		}
		got, verified, err := s.UserBySlackID(ctx(), tenant, team, slack, tt.since)
		if !tt.found {
			isErr(t, err, accessbot.ErrNotFound, tt.name)
			continue
		}
		ok(t, err, tt.name)
		want, err := s.GetUser(ctx(), ten.ID, u.ID)
		ok(t, err, tt.name+": get user")
		same(t, *got, *want, tt.name)
		if !verified.Equal(at) {
			t.Fatalf("%s: verified at %v, want %v", tt.name, verified, at)
		}
	}
}
