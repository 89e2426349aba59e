package conformance

import (
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

func testApplications(t *testing.T, s store.Store) {
	ten := newTenant(t, s)
	o1 := newUser(t, s, ten.ID, "o1@example.com")
	o2 := newUser(t, s, ten.ID, "o2@example.com")
	a := &accessbot.Application{
		TenantID: ten.ID, Name: "GitLab", Description: "code", Connector: "gitlab",
		PrimaryOwnerID: o1.ID, SecondaryOwnerID: o2.ID, MaxDuration: 72 * time.Hour,
		ConnectionSchema: []accessbot.SchemaField{{Name: "group", Label: "Group", Type: "select", Required: true, Options: []string{"a", "b"}}},
		Labels:           []string{" Privileged ", "ops", "ops"},
	}
	ok(t, s.CreateApplication(ctx(), a), "create application")
	same(t, a.Labels, []string{"ops", "privileged"}, "labels normalized on create")
	got, err := s.GetApplication(ctx(), ten.ID, a.ID)
	ok(t, err, "get application")
	same(t, got, a, "get application")
	got, err = s.GetApplicationByName(ctx(), ten.ID, "gitlab")
	ok(t, err, "get application by name, other case")
	same(t, got, a, "get application by name")

	newApp(t, s, ten.ID, "Entra ID", o1.ID)
	newApp(t, s, ten.ID, "100%_Legit", "")
	tests := []struct {
		query string
		limit int
		want  []string
	}{
		{"", 0, []string{"100%_Legit", "Entra ID", "GitLab"}},
		{"", 2, []string{"100%_Legit", "Entra ID"}},
		{"LAB", 0, []string{"GitLab"}},
		{"i", 0, []string{"100%_Legit", "Entra ID", "GitLab"}},
		{"%", 0, []string{"100%_Legit"}}, // LIKE wildcards are literal
		{"_", 0, []string{"100%_Legit"}},
		{"nothing", 0, nil},
	}
	for _, tc := range tests {
		list, err := s.ListApplications(ctx(), ten.ID, tc.query, tc.limit)
		ok(t, err, "list applications")
		var names []string
		for _, x := range list {
			names = append(names, x.Name)
		}
		same(t, names, tc.want, "ListApplications("+tc.query+")")
	}

	a.Name, a.SecondaryOwnerID, a.MaxDuration, a.ConnectionSchema, a.Labels = "GitLab EE", "", 0, nil, nil
	ok(t, s.UpdateApplication(ctx(), a), "update application")
	got, err = s.GetApplication(ctx(), ten.ID, a.ID)
	ok(t, err, "get updated application")
	same(t, got, a, "updated application")

	c := newConn(t, s, ten.ID, a.ID, "devs")
	ok(t, s.DeleteApplication(ctx(), ten.ID, a.ID), "delete application")
	_, err = s.GetApplication(ctx(), ten.ID, a.ID)
	isErr(t, err, accessbot.ErrNotFound, "get deleted application")
	_, err = s.GetConnection(ctx(), ten.ID, c.ID)
	isErr(t, err, accessbot.ErrNotFound, "connection of deleted application")
	isErr(t, s.DeleteApplication(ctx(), ten.ID, a.ID), accessbot.ErrNotFound, "delete twice")
	isErr(t, s.UpdateApplication(ctx(), a), accessbot.ErrNotFound, "update deleted application")
	isErr(t, s.CreateApplication(ctx(), &accessbot.Application{TenantID: ten.ID, Name: "X", PrimaryOwnerID: "nobody"}),
		accessbot.ErrNotFound, "create with missing owner")
}

func testConnections(t *testing.T, s store.Store) {
	ten := newTenant(t, s)
	a := newApp(t, s, ten.ID, "App", "")
	c := &accessbot.Connection{TenantID: ten.ID, AppID: a.ID, Name: "admins", Type: "role", Description: "d",
		Attributes: map[string]string{"object_id": "123"}, Labels: []string{"privileged"}}
	ok(t, s.CreateConnection(ctx(), c), "create connection")
	got, err := s.GetConnection(ctx(), ten.ID, c.ID)
	ok(t, err, "get connection")
	same(t, got, c, "get connection")
	got, err = s.GetConnectionByName(ctx(), ten.ID, a.ID, "admins")
	ok(t, err, "get connection by name")
	same(t, got, c, "get connection by name")
	newConn(t, s, ten.ID, a.ID, "devs")
	list, err := s.ListConnections(ctx(), ten.ID, a.ID)
	ok(t, err, "list connections")
	if len(list) != 2 || list[0].Name != "admins" || list[1].Name != "devs" {
		t.Fatalf("ListConnections = %+v", list)
	}

	c.Name, c.Attributes, c.Description, c.Labels = "owners", map[string]string{"object_id": "456", "x": "y"}, "", []string{"Break-Glass", "privileged"}
	ok(t, s.UpdateConnection(ctx(), c), "update connection")
	got, err = s.GetConnection(ctx(), ten.ID, c.ID)
	ok(t, err, "get updated connection")
	same(t, got, c, "updated connection")
	same(t, got.Labels, []string{"break-glass", "privileged"}, "updated connection labels")

	ok(t, s.DeleteConnection(ctx(), ten.ID, c.ID), "delete connection")
	_, err = s.GetConnection(ctx(), ten.ID, c.ID)
	isErr(t, err, accessbot.ErrNotFound, "get deleted connection")
	isErr(t, s.DeleteConnection(ctx(), ten.ID, c.ID), accessbot.ErrNotFound, "delete twice")
	isErr(t, s.UpdateConnection(ctx(), c), accessbot.ErrNotFound, "update deleted connection")
	isErr(t, s.CreateConnection(ctx(), &accessbot.Connection{TenantID: ten.ID, AppID: "missing", Name: "x"}),
		accessbot.ErrNotFound, "create connection of missing app")
}

func testResources(t *testing.T, s store.Store) {
	ten := newTenant(t, s)
	a := newApp(t, s, ten.ID, "App", "")
	r := &accessbot.Resource{TenantID: ten.ID, AppID: a.ID, Name: "repo-1", Type: "repository", CreatedAt: fixedTime()}
	ok(t, s.CreateResource(ctx(), r), "create resource")
	ok(t, s.CreateResource(ctx(), &accessbot.Resource{TenantID: ten.ID, AppID: a.ID, Name: "repo-0"}), "create resource 2")
	list, err := s.ListResources(ctx(), ten.ID, a.ID)
	ok(t, err, "list resources")
	if len(list) != 2 || list[0].Name != "repo-0" {
		t.Fatalf("ListResources = %+v", list)
	}
	same(t, list[1], *r, "listed resource")
	ok(t, s.DeleteResource(ctx(), ten.ID, r.ID), "delete resource")
	isErr(t, s.DeleteResource(ctx(), ten.ID, r.ID), accessbot.ErrNotFound, "delete twice")
	list, err = s.ListResources(ctx(), ten.ID, a.ID)
	ok(t, err, "list resources after delete")
	if len(list) != 1 {
		t.Fatalf("ListResources after delete = %+v", list)
	}
}

func testEntitlements(t *testing.T, s store.Store) {
	ten := newTenant(t, s)
	u := newUser(t, s, ten.ID, "u@example.com")
	a := newApp(t, s, ten.ID, "App", u.ID)
	c1 := newConn(t, s, ten.ID, a.ID, "c1")
	c2 := newConn(t, s, ten.ID, a.ID, "c2")
	req := newRequest(t, s, ten.ID, u.ID, "")
	now := time.Now().UTC().Truncate(time.Microsecond)
	exp := now.Add(time.Hour)
	e1 := &accessbot.Entitlement{TenantID: ten.ID, UserID: u.ID, ConnectionID: c1.ID, RequestID: req.ID, GrantedAt: now, ExpiresAt: &exp}
	ok(t, s.CreateEntitlement(ctx(), e1), "create entitlement")
	e2 := &accessbot.Entitlement{TenantID: ten.ID, UserID: u.ID, ConnectionID: c2.ID, GrantedAt: now.Add(time.Second)}
	ok(t, s.CreateEntitlement(ctx(), e2), "create permanent entitlement")

	list, err := s.ListEntitlements(ctx(), ten.ID, u.ID)
	ok(t, err, "list entitlements")
	same(t, list, []accessbot.Entitlement{*e1, *e2}, "list entitlements")

	for _, tc := range []struct {
		before time.Time
		want   int
	}{
		{exp.Add(-time.Microsecond), 0},
		{exp, 1}, // inclusive
		{exp.Add(24 * time.Hour), 1},
	} {
		list, err := s.ListExpiringEntitlements(ctx(), ten.ID, tc.before)
		ok(t, err, "list expiring")
		if len(list) != tc.want {
			t.Fatalf("ListExpiringEntitlements(%v) = %d, want %d", tc.before, len(list), tc.want)
		}
	}

	ok(t, s.DeleteEntitlement(ctx(), ten.ID, e1.ID), "delete entitlement")
	isErr(t, s.DeleteEntitlement(ctx(), ten.ID, e1.ID), accessbot.ErrNotFound, "delete twice")
	isErr(t, s.CreateEntitlement(ctx(), &accessbot.Entitlement{TenantID: ten.ID, UserID: u.ID, ConnectionID: "missing"}),
		accessbot.ErrNotFound, "entitlement to missing connection")
	// Deleting the connection removes what was granted from it.
	ok(t, s.DeleteConnection(ctx(), ten.ID, c2.ID), "delete connection")
	list, err = s.ListEntitlements(ctx(), ten.ID, "")
	ok(t, err, "list tenant entitlements")
	if len(list) != 0 {
		t.Fatalf("entitlements survive their connection: %+v", list)
	}
}

func testApprovalChains(t *testing.T, s store.Store) {
	ten := newTenant(t, s)
	a := newApp(t, s, ten.ID, "App", "")
	levels := []accessbot.ApprovalLevel{
		{Approvers: []accessbot.Approver{{Kind: accessbot.ApproverManager}}, Rule: accessbot.RuleAny},
		{Approvers: []accessbot.Approver{{Kind: accessbot.ApproverUser, UserID: "u1"}, {Kind: accessbot.ApproverOwners}}, Rule: accessbot.RuleAll},
	}
	c := &accessbot.ApprovalChain{TenantID: ten.ID, Name: "two-level", AppID: a.ID, Levels: levels}
	ok(t, s.UpsertApprovalChain(ctx(), c), "create chain")
	got, err := s.GetApprovalChain(ctx(), ten.ID, c.ID)
	ok(t, err, "get chain")
	same(t, got, c, "get chain")

	// Upserting by name replaces in place and keeps id and creation time.
	repl := &accessbot.ApprovalChain{TenantID: ten.ID, Name: "two-level", Levels: levels[:1]}
	ok(t, s.UpsertApprovalChain(ctx(), repl), "replace chain")
	if repl.ID != c.ID || !repl.CreatedAt.Equal(c.CreatedAt) {
		t.Fatalf("replace changed identity: %s/%v, was %s/%v", repl.ID, repl.CreatedAt, c.ID, c.CreatedAt)
	}
	got, err = s.GetApprovalChain(ctx(), ten.ID, c.ID)
	ok(t, err, "get replaced chain")
	same(t, got, repl, "replaced chain")

	def := &accessbot.ApprovalChain{TenantID: ten.ID, Name: "default", Levels: levels}
	ok(t, s.UpsertApprovalChain(ctx(), def), "create default chain")
	list, err := s.ListApprovalChains(ctx(), ten.ID)
	ok(t, err, "list chains")
	if len(list) != 2 || list[0].Name != "default" || list[1].Name != "two-level" {
		t.Fatalf("ListApprovalChains = %+v", list)
	}
	ok(t, s.DeleteApprovalChain(ctx(), ten.ID, def.ID), "delete chain")
	_, err = s.GetApprovalChain(ctx(), ten.ID, def.ID)
	isErr(t, err, accessbot.ErrNotFound, "get deleted chain")
	isErr(t, s.DeleteApprovalChain(ctx(), ten.ID, def.ID), accessbot.ErrNotFound, "delete twice")
	isErr(t, s.UpsertApprovalChain(ctx(), &accessbot.ApprovalChain{TenantID: ten.ID, Name: "x", ConnectionID: "missing"}),
		accessbot.ErrNotFound, "chain for missing connection")
}
