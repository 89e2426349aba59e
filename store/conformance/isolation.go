package conformance

import (
	"errors"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// world is one tenant with one row of everything.
type world struct {
	tenant      *accessbot.Tenant
	ws          *accessbot.Workspace
	boss, user  *accessbot.User
	app         *accessbot.Application
	conn        *accessbot.Connection
	res         *accessbot.Resource
	ent         *accessbot.Entitlement
	chain       *accessbot.ApprovalChain
	req         *accessbot.AccessRequest
	dec         *accessbot.Decision
	audit       *accessbot.AuditEntry
	secret      *accessbot.Secret
	msg         *accessbot.MessageRef
	prefix, key string
}

// newWorld fills a tenant; names carry prefix so lookups by name can't
// accidentally match the other tenant's rows.
func newWorld(t *testing.T, s store.Store, prefix string) *world {
	t.Helper()
	w := &world{tenant: newTenant(t, s), prefix: prefix, key: prefix + "-open-key"}
	id := w.tenant.ID
	w.ws = &accessbot.Workspace{TenantID: id, TeamID: "T" + randHex(5), TeamName: prefix}
	ok(t, s.BindWorkspace(ctx(), w.ws), "bind")
	w.boss = newUser(t, s, id, prefix+"-boss@example.com")
	w.user = &accessbot.User{TenantID: id, Email: prefix + "-user@example.com", ManagerID: w.boss.ID}
	ok(t, s.CreateUser(ctx(), w.user), "create user")
	w.app = newApp(t, s, id, prefix+"-app", w.boss.ID)
	w.conn = newConn(t, s, id, w.app.ID, prefix+"-conn")
	w.res = &accessbot.Resource{TenantID: id, AppID: w.app.ID, Name: prefix + "-res"}
	ok(t, s.CreateResource(ctx(), w.res), "create resource")
	exp := time.Now().Add(time.Hour)
	w.ent = &accessbot.Entitlement{TenantID: id, UserID: w.user.ID, ConnectionID: w.conn.ID, ExpiresAt: &exp}
	ok(t, s.CreateEntitlement(ctx(), w.ent), "create entitlement")
	w.chain = &accessbot.ApprovalChain{TenantID: id, Name: "shared-name", AppID: w.app.ID}
	ok(t, s.UpsertApprovalChain(ctx(), w.chain), "create chain")
	w.req = newRequest(t, s, id, w.user.ID, w.key)
	w.dec = &accessbot.Decision{TenantID: id, RequestID: w.req.ID, ApproverID: w.boss.ID, Decision: accessbot.DecisionApprove}
	ok(t, s.AddDecision(ctx(), w.dec), "add decision")
	w.audit = &accessbot.AuditEntry{TenantID: id, ActorID: w.user.ID, Action: "request.created", ObjectID: w.req.ID}
	ok(t, s.AppendAudit(ctx(), w.audit), "append audit")
	w.secret = &accessbot.Secret{TenantID: id, Name: "shared-secret", KeyID: "k", Ciphertext: []byte(prefix)}
	ok(t, s.PutSecret(ctx(), w.secret), "put secret")
	w.msg = &accessbot.MessageRef{TenantID: id, ObjectID: w.req.ID, Purpose: "requester", UserID: w.user.ID, ChannelID: "D" + prefix, TS: "1.0"}
	ok(t, s.SaveMessageRef(ctx(), w.msg), "save message ref")
	return w
}

// snapshot reads everything a tenant has through every list/get method.
func snapshot(t *testing.T, s store.Store, w *world) map[string]any {
	t.Helper()
	id := w.tenant.ID
	snap := map[string]any{}
	put := func(name string, v any, err error) {
		t.Helper()
		ok(t, err, "snapshot "+name)
		snap[name] = v
	}
	v1, err := s.WorkspaceByTenant(ctx(), id)
	put("workspace", v1, err)
	v2, err := s.ListUsers(ctx(), id)
	put("users", v2, err)
	v3, err := s.ListApplications(ctx(), id, "", 0)
	put("apps", v3, err)
	v4, err := s.ListConnections(ctx(), id, w.app.ID)
	put("conns", v4, err)
	v5, err := s.ListResources(ctx(), id, w.app.ID)
	put("resources", v5, err)
	v6, err := s.ListEntitlements(ctx(), id, "")
	put("entitlements", v6, err)
	v7, err := s.ListApprovalChains(ctx(), id)
	put("chains", v7, err)
	v8, err := s.ListRequestsByRequester(ctx(), id, w.user.ID, 0)
	put("requests", v8, err)
	v9, err := s.ListDecisions(ctx(), id, w.req.ID)
	put("decisions", v9, err)
	v10, err := s.ListAudit(ctx(), id, "")
	put("audit", v10, err)
	v11, err := s.ListSecrets(ctx(), id)
	put("secrets", v11, err)
	v12, err := s.ListMessageRefs(ctx(), id, w.req.ID)
	put("messages", v12, err)
	return snap
}

// testTenantIsolation calls every method under tenant A with tenant B's ids
// and names: reads find nothing, writes change nothing of B's.
func testTenantIsolation(t *testing.T, s store.Store) {
	a, b := newWorld(t, s, "a"), newWorld(t, s, "b")
	before := snapshot(t, s, b)
	A := a.tenant.ID
	notFound := func(what string, err error) {
		t.Helper()
		isErr(t, err, accessbot.ErrNotFound, what)
	}
	refused := func(what string, err error) { // a write naming B's rows must fail
		t.Helper()
		if err == nil {
			t.Fatalf("%s: tenant A wrote with tenant B's ids", what)
		}
		if !errors.Is(err, accessbot.ErrNotFound) && !errors.Is(err, accessbot.ErrConflict) {
			t.Fatalf("%s: got %v, want ErrNotFound or ErrConflict", what, err)
		}
	}
	empty := func(what string, n int, err error) {
		t.Helper()
		ok(t, err, what)
		if n != 0 {
			t.Fatalf("%s: tenant A sees %d of tenant B's rows", what, n)
		}
	}
	var err error
	var n int
	count := func(l int, e error) { n, err = l, e }

	// Reads.
	_, err = s.GetUser(ctx(), A, b.user.ID)
	notFound("GetUser", err)
	_, err = s.GetUserByEmail(ctx(), A, b.user.Email)
	notFound("GetUserByEmail", err)
	count(lenOf(s.ListReports(ctx(), A, b.boss.ID)))
	empty("ListReports", n, err)
	_, err = s.GetApplication(ctx(), A, b.app.ID)
	notFound("GetApplication", err)
	_, err = s.GetApplicationByName(ctx(), A, b.app.Name)
	notFound("GetApplicationByName", err)
	count(lenOf(s.ListApplications(ctx(), A, "b-", 0)))
	empty("ListApplications", n, err)
	_, err = s.GetConnection(ctx(), A, b.conn.ID)
	notFound("GetConnection", err)
	_, err = s.GetConnectionByName(ctx(), A, b.app.ID, b.conn.Name)
	notFound("GetConnectionByName", err)
	count(lenOf(s.ListConnections(ctx(), A, b.app.ID)))
	empty("ListConnections", n, err)
	count(lenOf(s.ListResources(ctx(), A, b.app.ID)))
	empty("ListResources", n, err)
	count(lenOf(s.ListEntitlements(ctx(), A, b.user.ID)))
	empty("ListEntitlements", n, err)
	exp, err := s.ListExpiringEntitlements(ctx(), A, time.Now().Add(24*time.Hour))
	ok(t, err, "ListExpiringEntitlements")
	if len(exp) != 1 || exp[0].ID != a.ent.ID {
		t.Fatalf("ListExpiringEntitlements under A = %+v, want only A's", exp)
	}
	_, err = s.GetApprovalChain(ctx(), A, b.chain.ID)
	notFound("GetApprovalChain", err)
	_, err = s.GetRequest(ctx(), A, b.req.ID)
	notFound("GetRequest", err)
	_, err = s.GetOpenRequestByKey(ctx(), A, b.key)
	notFound("GetOpenRequestByKey", err)
	count(lenOf(s.ListRequestsByRequester(ctx(), A, b.user.ID, 0)))
	empty("ListRequestsByRequester", n, err)
	pending, err := s.ListRequestsByStatus(ctx(), A, accessbot.StatusPending, 0)
	ok(t, err, "ListRequestsByStatus")
	if len(pending) != 1 || pending[0].ID != a.req.ID {
		t.Fatalf("ListRequestsByStatus under A = %v, want only A's", ids(pending))
	}
	count(lenOf(s.ListDecisions(ctx(), A, b.req.ID)))
	empty("ListDecisions", n, err)
	count(lenOf(s.ListAudit(ctx(), A, b.req.ID)))
	empty("ListAudit", n, err)
	count(lenOf(s.ListMessageRefs(ctx(), A, b.req.ID)))
	empty("ListMessageRefs", n, err)
	sec, err := s.GetSecret(ctx(), A, b.secret.Name) // same name in both tenants
	ok(t, err, "GetSecret")
	if string(sec.Ciphertext) != "a" {
		t.Fatalf("GetSecret under A returned B's ciphertext %q", sec.Ciphertext)
	}
	ws, err := s.WorkspaceByTenant(ctx(), A)
	ok(t, err, "WorkspaceByTenant")
	if ws.TeamID != a.ws.TeamID {
		t.Fatalf("WorkspaceByTenant under A = %+v", ws)
	}

	// Updates and deletes of B's rows under A's tenant id.
	u := *b.user
	u.TenantID, u.Name = A, "hijacked"
	notFound("UpdateUser", s.UpdateUser(ctx(), &u))
	notFound("DeleteUser", s.DeleteUser(ctx(), A, b.user.ID))
	app := *b.app
	app.TenantID, app.Name = A, "hijacked"
	app.PrimaryOwnerID = ""
	notFound("UpdateApplication", s.UpdateApplication(ctx(), &app))
	notFound("DeleteApplication", s.DeleteApplication(ctx(), A, b.app.ID))
	conn := *b.conn
	conn.TenantID, conn.Name = A, "hijacked"
	notFound("UpdateConnection", s.UpdateConnection(ctx(), &conn))
	notFound("DeleteConnection", s.DeleteConnection(ctx(), A, b.conn.ID))
	notFound("DeleteResource", s.DeleteResource(ctx(), A, b.res.ID))
	notFound("DeleteEntitlement", s.DeleteEntitlement(ctx(), A, b.ent.ID))
	notFound("DeleteApprovalChain", s.DeleteApprovalChain(ctx(), A, b.chain.ID))
	next := *b.req
	next.TenantID, next.Status = A, accessbot.StatusApproved
	notFound("TransitionRequest", s.TransitionRequest(ctx(), A, b.req.ID, accessbot.StatusPending, 0, &next))
	notFound("DeleteSecret", s.DeleteSecret(ctx(), A, "no-such-secret"))

	// Creates in A that point at B's rows.
	refused("CreateUser with B's manager", s.CreateUser(ctx(), &accessbot.User{TenantID: A, Email: "x@example.com", ManagerID: b.boss.ID}))
	refused("CreateApplication with B's owner", s.CreateApplication(ctx(), &accessbot.Application{TenantID: A, Name: "x", PrimaryOwnerID: b.boss.ID}))
	refused("CreateConnection in B's app", s.CreateConnection(ctx(), &accessbot.Connection{TenantID: A, AppID: b.app.ID, Name: "x"}))
	refused("CreateResource in B's app", s.CreateResource(ctx(), &accessbot.Resource{TenantID: A, AppID: b.app.ID, Name: "x"}))
	refused("CreateEntitlement to B's connection", s.CreateEntitlement(ctx(), &accessbot.Entitlement{TenantID: A, UserID: a.user.ID, ConnectionID: b.conn.ID}))
	refused("CreateEntitlement for B's user", s.CreateEntitlement(ctx(), &accessbot.Entitlement{TenantID: A, UserID: b.user.ID, ConnectionID: a.conn.ID}))
	refused("UpsertApprovalChain on B's app", s.UpsertApprovalChain(ctx(), &accessbot.ApprovalChain{TenantID: A, Name: "x", AppID: b.app.ID}))
	refused("CreateRequest by B's user", s.CreateRequest(ctx(), &accessbot.AccessRequest{TenantID: A, Kind: accessbot.RequestUserAccess, RequesterID: b.user.ID}))
	refused("AddDecision on B's request", s.AddDecision(ctx(), &accessbot.Decision{TenantID: A, RequestID: b.req.ID, ApproverID: a.boss.ID, Decision: accessbot.DecisionDeny}))
	refused("BindWorkspace to B's team", s.BindWorkspace(ctx(), &accessbot.Workspace{TenantID: A, TeamID: b.ws.TeamID}))

	// Upserts keyed by names B also uses land in A only.
	ok(t, s.UpsertApprovalChain(ctx(), &accessbot.ApprovalChain{TenantID: A, Name: b.chain.Name}), "UpsertApprovalChain same name")
	ok(t, s.PutSecret(ctx(), &accessbot.Secret{TenantID: A, Name: b.secret.Name, KeyID: "k2", Ciphertext: []byte("a2")}), "PutSecret same name")
	ok(t, s.SaveMessageRef(ctx(), &accessbot.MessageRef{TenantID: A, ObjectID: a.req.ID, Purpose: "x", ChannelID: b.msg.ChannelID, TS: b.msg.TS}), "SaveMessageRef same ts")
	ok(t, s.AppendAudit(ctx(), &accessbot.AuditEntry{TenantID: A, ActorID: "x", Action: "x", ObjectID: b.req.ID}), "AppendAudit about B's id")
	ok(t, s.UnbindWorkspace(ctx(), A), "UnbindWorkspace A")

	same(t, snapshot(t, s, b), before, "tenant B after tenant A's attempts")
	if _, err := s.WorkspaceByTeam(ctx(), b.ws.TeamID); err != nil {
		t.Fatalf("B's workspace lost: %v", err)
	}
}

func lenOf[T any](l []T, err error) (int, error) { return len(l), err }
