package conformance

import (
	"reflect"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// same fails unless got and want are deeply equal.
func same(t *testing.T, got, want any, what string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got: %+v\nwant: %+v", what, got, want)
	}
}

func testTenants(t *testing.T, s store.Store) {
	ten := newTenant(t, s)
	if ten.ID == "" || ten.CreatedAt.IsZero() || !ten.UpdatedAt.Equal(ten.CreatedAt) {
		t.Fatalf("create did not fill id and times: %+v", ten)
	}
	got, err := s.GetTenant(ctx(), ten.ID)
	ok(t, err, "get tenant")
	same(t, got, ten, "get tenant")
	got, err = s.GetTenantBySlug(ctx(), ten.Slug)
	ok(t, err, "get tenant by slug")
	same(t, got, ten, "get tenant by slug")

	ten.Name = "Renamed"
	ten.Slug = ten.Slug + "-x"
	ok(t, s.UpdateTenant(ctx(), ten), "update tenant")
	got, err = s.GetTenant(ctx(), ten.ID)
	ok(t, err, "get updated tenant")
	same(t, got, ten, "updated tenant")

	list, err := s.ListTenants(ctx())
	ok(t, err, "list tenants")
	found := false
	for _, x := range list {
		found = found || x.ID == ten.ID
	}
	if !found {
		t.Fatalf("ListTenants misses %s", ten.ID)
	}

	_, err = s.GetTenant(ctx(), "missing")
	isErr(t, err, accessbot.ErrNotFound, "get missing tenant")
	_, err = s.GetTenantBySlug(ctx(), "missing")
	isErr(t, err, accessbot.ErrNotFound, "get missing slug")
	isErr(t, s.UpdateTenant(ctx(), &accessbot.Tenant{ID: "missing", Slug: "m"}), accessbot.ErrNotFound, "update missing tenant")
}

func testWorkspaces(t *testing.T, s store.Store) {
	ten := newTenant(t, s)
	w := &accessbot.Workspace{TenantID: ten.ID, TeamID: "T" + randHex(4), TeamName: "Acme", BotUserID: "U1", BotTokenSecret: "slack-bot"}
	ok(t, s.BindWorkspace(ctx(), w), "bind")
	got, err := s.WorkspaceByTeam(ctx(), w.TeamID)
	ok(t, err, "by team")
	same(t, got, w, "by team")
	got, err = s.WorkspaceByTenant(ctx(), ten.ID)
	ok(t, err, "by tenant")
	same(t, got, w, "by tenant")

	// Binding the same pair again updates in place; a zero InstalledAt keeps the stored one.
	installed := w.InstalledAt
	w.TeamName, w.BotUserID, w.InstalledAt = "Acme Corp", "U2", time.Time{}
	ok(t, s.BindWorkspace(ctx(), w), "rebind same pair")
	if w.InstalledAt != installed {
		t.Fatalf("rebind changed InstalledAt from %v to %v", installed, w.InstalledAt)
	}
	got, err = s.WorkspaceByTeam(ctx(), w.TeamID)
	ok(t, err, "by team after rebind")
	same(t, got, w, "after rebind")

	ok(t, s.UnbindWorkspace(ctx(), ten.ID), "unbind")
	_, err = s.WorkspaceByTeam(ctx(), w.TeamID)
	isErr(t, err, accessbot.ErrNotFound, "by team after unbind")
	_, err = s.WorkspaceByTenant(ctx(), ten.ID)
	isErr(t, err, accessbot.ErrNotFound, "by tenant after unbind")
	isErr(t, s.UnbindWorkspace(ctx(), ten.ID), accessbot.ErrNotFound, "unbind twice")

	// After unbinding, the tenant may bind another workspace.
	w2 := &accessbot.Workspace{TenantID: ten.ID, TeamID: "T" + randHex(4), TeamName: "New"}
	ok(t, s.BindWorkspace(ctx(), w2), "bind another after unbind")
}

func testUsers(t *testing.T, s store.Store) {
	ten := newTenant(t, s)
	boss := newUser(t, s, ten.ID, "boss@example.com")
	at := fixedTime()
	u := &accessbot.User{
		TenantID: ten.ID, Email: "  Ada.Lovelace@Example.COM ", Name: "Ada", ManagerID: boss.ID, Department: "R&D",
		Status: accessbot.UserActive, Role: accessbot.RoleAdmin, DelegateID: boss.ID, DelegateUntil: &at,
	}
	ok(t, s.CreateUser(ctx(), u), "create user")
	if u.Email != "ada.lovelace@example.com" {
		t.Fatalf("email stored as %q, want normalized", u.Email)
	}
	if boss.Status != accessbot.UserActive || boss.Role != accessbot.RoleMember {
		t.Fatalf("zero status/role not defaulted: %q %q", boss.Status, boss.Role)
	}
	got, err := s.GetUser(ctx(), ten.ID, u.ID)
	ok(t, err, "get user")
	same(t, got, u, "get user")
	got, err = s.GetUserByEmail(ctx(), ten.ID, "ADA.LOVELACE@example.com ")
	ok(t, err, "get user by email, other case")
	same(t, got, u, "get user by email")

	reports, err := s.ListReports(ctx(), ten.ID, boss.ID)
	ok(t, err, "list reports")
	if len(reports) != 1 || reports[0].ID != u.ID {
		t.Fatalf("reports of boss = %+v", reports)
	}
	users, err := s.ListUsers(ctx(), ten.ID)
	ok(t, err, "list users")
	if len(users) != 2 {
		t.Fatalf("ListUsers = %d users, want 2", len(users))
	}

	term := time.Now()
	u.Status, u.TerminatedAt, u.ManagerID, u.Name = accessbot.UserTerminated, &term, "", "Ada L."
	u.DelegateID, u.DelegateUntil = "", nil
	ok(t, s.UpdateUser(ctx(), u), "update user")
	got, err = s.GetUser(ctx(), ten.ID, u.ID)
	ok(t, err, "get updated user")
	same(t, got, u, "updated user")

	// Invalid enum values are refused, not stored.
	bad := *u
	bad.Status = "sleeping"
	isErr(t, s.UpdateUser(ctx(), &bad), accessbot.ErrInvalid, "update with bad status")
	// A manager that does not exist in the tenant is refused.
	isErr(t, s.CreateUser(ctx(), &accessbot.User{TenantID: ten.ID, Email: "x@example.com", ManagerID: "nope"}),
		accessbot.ErrNotFound, "create user with missing manager")

	// Deleting a manager clears the reports' manager.
	u.ManagerID = boss.ID
	ok(t, s.UpdateUser(ctx(), u), "set manager again")
	ok(t, s.DeleteUser(ctx(), ten.ID, boss.ID), "delete manager")
	got, err = s.GetUser(ctx(), ten.ID, u.ID)
	ok(t, err, "get report after manager deleted")
	if got.ManagerID != "" {
		t.Fatalf("report still points at deleted manager %q", got.ManagerID)
	}
	_, err = s.GetUser(ctx(), ten.ID, boss.ID)
	isErr(t, err, accessbot.ErrNotFound, "get deleted user")
	isErr(t, s.DeleteUser(ctx(), ten.ID, boss.ID), accessbot.ErrNotFound, "delete twice")
	isErr(t, s.UpdateUser(ctx(), &accessbot.User{TenantID: ten.ID, ID: "missing", Email: "m@x", Status: "active", Role: "member"}),
		accessbot.ErrNotFound, "update missing user")

	// A user still referenced (application owner) cannot be deleted.
	newApp(t, s, ten.ID, "Owned", u.ID)
	isErr(t, s.DeleteUser(ctx(), ten.ID, u.ID), accessbot.ErrConflict, "delete application owner")
	_, err = s.GetUser(ctx(), ten.ID, u.ID)
	ok(t, err, "owner survives failed delete")
}
