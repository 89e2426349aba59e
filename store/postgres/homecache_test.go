package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/internal/testenv"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/postgres"
	"github.com/accessbot/accessbot/store/sqlstore"
)

// homeRig is a store that keeps Home versions (with a TTL long enough that
// only its listener can make it see another connection's write), another
// connection to the same schema (another replica), and a tenant.
type homeRig struct {
	t      *testing.T
	ctx    context.Context
	st     *sqlstore.Store
	other  *sql.DB
	app    string // the application_name of the store's connections
	tenant *accessbot.Tenant
}

func newHomeRig(t *testing.T) *homeRig {
	t.Helper()
	if !testenv.PostgresAvailable(t) {
		t.Skip("*** POSTGRES NOT REACHABLE: postgres tests SKIPPED ***")
	}
	ctx := context.Background()
	dsn := testenv.PostgresDSN(t)
	app := fmt.Sprintf("home-test-%d", time.Now().UnixNano())
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		q := u.Query()
		q.Set("application_name", app)
		u.RawQuery = q.Encode()
		dsn = u.String()
	} else {
		dsn += " application_name=" + app
	}
	st, err := postgres.Open(ctx, dsn, zerolog.Nop(), sqlstore.WithHomeVersionTTL(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	other, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	ten := &accessbot.Tenant{Slug: "acme", Name: "Acme"}
	if err := st.CreateTenant(ctx, ten); err != nil {
		t.Fatal(err)
	}
	return &homeRig{t: t, ctx: ctx, st: st, other: other, app: app, tenant: ten}
}

func (r *homeRig) version() int64 {
	r.t.Helper()
	v, err := r.st.HomeVersion(r.ctx, r.tenant.ID, "", false)
	if err != nil {
		r.t.Fatal(err)
	}
	return v.Tenant
}

// listener is the pid of the store's LISTEN connection, once there is one
// other than not.
func (r *homeRig) listener(not int) int {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		r.version() // starts the listener on first use
		var pid int
		err := r.other.QueryRowContext(r.ctx, `SELECT pid FROM pg_stat_activity
			WHERE application_name = $1 AND query = 'LISTEN accessbot_home' AND pid <> $2`, r.app, not).Scan(&pid)
		if err == nil {
			return pid
		}
		if err != sql.ErrNoRows {
			r.t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.t.Fatalf("no listener connection after 10 s")
	return 0
}

// kept shows the version is answered from memory: a change of the counter
// that no trigger notifies (nothing else writes it) is not seen. It
// returns the counter's value in the database. (Tried again for a moment:
// the listener may have been seen listening just before it says so.)
func (r *homeRig) kept() int64 {
	r.t.Helper()
	for range 100 {
		v := r.version()
		r.version()
		if _, err := r.other.ExecContext(r.ctx, `UPDATE home_versions SET version = version + 100 WHERE tenant_id = $1`, r.tenant.ID); err != nil {
			r.t.Fatal(err)
		}
		if got := r.version(); got == v {
			return v + 100
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.t.Fatalf("an unnotified change of the counter was always seen: versions are not kept in memory")
	return 0
}

// seenWithin writes through the other connection (a Home-visible write:
// the trigger bumps and notifies) and waits until the store's version is
// past floor.
func (r *homeRig) seenWithin(floor int64, bound time.Duration, what string) time.Duration {
	r.t.Helper()
	if _, err := r.other.ExecContext(r.ctx, `UPDATE tenants SET name = name || '.' WHERE id = $1`, r.tenant.ID); err != nil {
		r.t.Fatal(err)
	}
	start := time.Now()
	for {
		if v := r.version(); v > floor {
			d := time.Since(start)
			r.t.Logf("%s: seen after %s (version %d)", what, d, v)
			return d
		}
		if time.Since(start) > bound {
			r.t.Fatalf("%s: another connection's write not seen within %s", what, bound)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestHomeVersionKeptAndNotified: Home versions are answered from memory;
// a write through another connection (another replica, `accessbot apply`)
// is seen within a bounded time through LISTEN/NOTIFY (the TTL is an hour
// here); this process's own writes are seen at once.
func TestHomeVersionKeptAndNotified(t *testing.T) {
	t.Parallel()
	r := newHomeRig(t)
	r.listener(0)
	floor := r.kept()
	r.seenWithin(floor, time.Second, "write by another connection")

	floor = r.kept()
	ten := *r.tenant
	ten.Name = "Acme Corp"
	if err := r.st.UpdateTenant(r.ctx, &ten); err != nil {
		t.Fatal(err)
	}
	if v := r.version(); v <= floor {
		t.Fatalf("own write: version %d right after it, want past %d", v, floor)
	}
	floor = r.kept()
	if err := r.st.InTx(r.ctx, func(q store.Queries) error {
		return q.CreateUser(r.ctx, &accessbot.User{TenantID: r.tenant.ID, Email: "a@acme.test", Name: "A", Status: accessbot.UserActive})
	}); err != nil {
		t.Fatal(err)
	}
	if v := r.version(); v <= floor {
		t.Fatalf("own transaction: version %d right after its commit, want past %d", v, floor)
	}
}

// TestHomeVersionListenerReconnects: when the listener's connection is
// lost, writes it could not hear are still seen (the store reads the
// database until it listens again, and then drops what it kept), and once
// it is back, versions are kept and notified again.
func TestHomeVersionListenerReconnects(t *testing.T) {
	t.Parallel()
	r := newHomeRig(t)
	pid := r.listener(0)
	floor := r.kept()
	var ok bool
	if err := r.other.QueryRowContext(r.ctx, `SELECT pg_terminate_backend($1)`, pid).Scan(&ok); err != nil || !ok {
		t.Fatalf("terminate the listener's backend %d: %v %v", pid, ok, err)
	}
	// Written while no one listens: no notification reaches this store.
	r.seenWithin(floor, 2*time.Second, "write while the listener is lost")

	next := r.listener(pid)
	t.Logf("listener back: backend %d, was %d", next, pid)
	floor = r.kept()
	r.seenWithin(floor, time.Second, "write after the reconnect")
}

// TestHomeVersionUserPartNotified: a user's part of the Home version (a
// request naming them, written by another connection) is seen through the
// notification too, though it leaves the tenant's part alone; a user the
// request does not name keeps the version kept in memory.
func TestHomeVersionUserPartNotified(t *testing.T) {
	t.Parallel()
	r := newHomeRig(t)
	var ids []string
	for _, n := range []string{"rita", "uma"} {
		u := &accessbot.User{TenantID: r.tenant.ID, Email: n + "@acme.test", Name: n, Status: accessbot.UserActive}
		if err := r.st.CreateUser(r.ctx, u); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	// Both named once (own write), so each has a part of its own.
	if err := r.st.CreateRequest(r.ctx, &accessbot.AccessRequest{TenantID: r.tenant.ID, Kind: accessbot.RequestUserAccess, RequesterID: ids[0],
		TargetUserID: ids[1], Status: accessbot.StatusPending, OpenKey: "both"}); err != nil {
		t.Fatal(err)
	}
	r.listener(0)
	read := func(id string) store.HomeVersion {
		v, err := r.st.HomeVersion(r.ctx, r.tenant.ID, id, false)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	dbUser := func(id string) int64 {
		var v int64
		if err := r.other.QueryRowContext(r.ctx, `SELECT version FROM home_user_versions WHERE tenant_id = $1 AND user_id = $2`, r.tenant.ID, id).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	// Kept: a change no trigger notifies is not seen (tried again for a
	// moment: the listener may be seen listening just before it says so).
	var rita0 store.HomeVersion
	for i := 0; ; i++ {
		rita0 = read(ids[0])
		read(ids[0])
		if _, err := r.other.ExecContext(r.ctx, `UPDATE home_user_versions SET version = version + 100 WHERE tenant_id = $1 AND user_id = $2`, r.tenant.ID, ids[0]); err != nil {
			t.Fatal(err)
		}
		if read(ids[0]) == rita0 {
			break
		}
		if i == 100 {
			t.Fatalf("an unnotified change of rita's part was always seen: versions are not kept in memory")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if rita0.User == 0 {
		t.Fatalf("a request naming rita left her part at 0: %+v", rita0)
	}
	uma0 := dbUser(ids[1])
	if _, err := r.other.ExecContext(r.ctx, `INSERT INTO access_requests (tenant_id, id, kind, requester_id, target_user_id, status, levels, created_at, updated_at)
		VALUES ($1, 'r-notified', 'user_access', $2, $2, 'pending', '[]', now(), now())`, r.tenant.ID, ids[0]); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		v := read(ids[0])
		if v.User > rita0.User {
			t.Logf("seen after %s: %+v -> %+v", time.Since(start), rita0, v)
			if v.Tenant != rita0.Tenant {
				t.Fatalf("a request moved the tenant's part: %+v -> %+v", rita0, v)
			}
			break
		}
		if time.Since(start) > time.Second {
			t.Fatalf("a request naming rita, written by another connection, not seen within 1s: %+v", v)
		}
		time.Sleep(time.Millisecond)
	}
	if v := dbUser(ids[1]); v != uma0 {
		t.Fatalf("a request naming rita alone moved uma's part: %d -> %d", uma0, v)
	}
}

// homeViewer is one viewer of the rig's tenant whose Home version the
// store keeps.
type homeViewer struct {
	name, id string
	admin    bool
}

func (r *homeRig) read(v homeViewer) store.HomeVersion {
	r.t.Helper()
	got, err := r.st.HomeVersion(r.ctx, r.tenant.ID, v.id, v.admin)
	if err != nil {
		r.t.Fatal(err)
	}
	return got
}

// silently moves v's own part in the database, through no trigger: no
// notification tells the store.
func (r *homeRig) silently(v homeViewer) {
	r.t.Helper()
	if _, err := r.other.ExecContext(r.ctx, `INSERT INTO home_user_versions (tenant_id, user_id, version) VALUES ($1, $2, 100)
		ON CONFLICT (tenant_id, user_id) DO UPDATE SET version = home_user_versions.version + 100`, r.tenant.ID, v.id); err != nil {
		r.t.Fatal(err)
	}
}

// dbVersion is v's version in the database.
func (r *homeRig) dbVersion(v homeViewer) store.HomeVersion {
	r.t.Helper()
	var db store.HomeVersion
	if err := r.other.QueryRowContext(r.ctx, `SELECT COALESCE((SELECT version FROM home_versions WHERE tenant_id = $1), 0),
		COALESCE((SELECT admins FROM home_versions WHERE tenant_id = $1), 0),
		COALESCE((SELECT version FROM home_user_versions WHERE tenant_id = $1 AND user_id = $2), 0)`, r.tenant.ID, v.id).Scan(&db.Tenant, &db.Admins, &db.User); err != nil {
		r.t.Fatal(err)
	}
	if !v.admin {
		db.Admins = 0
	}
	return db
}

// keepAll reads each viewer's version until every one is answered from
// memory: a silent change of its own part is not seen (tried again for a
// moment: the listener may be seen listening just before it says so). It
// returns what each read then.
func (r *homeRig) keepAll(vs []homeViewer) map[string]store.HomeVersion {
	r.t.Helper()
	for range 100 {
		kept := map[string]store.HomeVersion{}
		for _, v := range vs {
			kept[v.name] = r.read(v)
			r.read(v)
		}
		for _, v := range vs {
			r.silently(v)
		}
		all := true
		for _, v := range vs {
			all = all && r.read(v) == kept[v.name]
		}
		if all {
			return kept
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.t.Fatalf("an unnotified change was always seen: versions are not kept in memory")
	return nil
}

// fromMemory reads v's version and reports whether the store answered it
// without the database.
func (r *homeRig) fromMemory(v homeViewer) (store.HomeVersion, bool) {
	r.t.Helper()
	before := r.st.HomeVersionStats()
	got := r.read(v)
	after := r.st.HomeVersionStats()
	return got, after.Read == before.Read && after.Kept == before.Kept+1
}

// seen waits until ok holds of v's version, as a notification drops one of
// its parts; bound is how long it may take.
func (r *homeRig) seen(v homeViewer, ok func(store.HomeVersion) bool, bound time.Duration, what string) store.HomeVersion {
	r.t.Helper()
	start := time.Now()
	for {
		got := r.read(v)
		if ok(got) {
			r.t.Logf("%s: seen in %s's version after %s: %+v", what, v.name, time.Since(start), got)
			return got
		}
		if time.Since(start) > bound {
			r.t.Fatalf("%s: not seen in %s's version within %s: %+v (the database's: %+v)", what, v.name, bound, got, r.dbVersion(v))
		}
		time.Sleep(time.Millisecond)
	}
}

// TestHomeVersionOnlyTheNamedPartDropped: a write by another connection
// drops, through its notification, only the part it moved. Each viewer's
// own part was moved silently first (no notification), so a viewer whose
// part is dropped sees the database's, and one whose version is kept
// still reads the old one, from memory:
//   - a request naming rita: rita sees it (with her silent change); uma and
//     the admin are answered from memory, their parts as kept;
//   - a schedule (the admins' part): the admin sees it; the members are
//     answered from memory;
//   - the tenant renamed (everyone's part): every viewer sees it.
func TestHomeVersionOnlyTheNamedPartDropped(t *testing.T) {
	t.Parallel()
	r := newHomeRig(t)
	vs := []homeViewer{{name: "rita"}, {name: "uma"}, {name: "ada", admin: true}}
	for i, v := range vs {
		role := accessbot.RoleMember
		if v.admin {
			role = accessbot.RoleAdmin
		}
		u := &accessbot.User{TenantID: r.tenant.ID, Email: v.name + "@acme.test", Name: v.name, Status: accessbot.UserActive, Role: role}
		if err := r.st.CreateUser(r.ctx, u); err != nil {
			t.Fatal(err)
		}
		vs[i].id = u.ID
	}
	rita, uma, ada := vs[0], vs[1], vs[2]
	r.listener(0)
	others := func(what string, kept map[string]store.HomeVersion, vs ...homeViewer) {
		t.Helper()
		for _, v := range vs {
			got, mem := r.fromMemory(v)
			if !mem || got.User != kept[v.name].User {
				t.Fatalf("%s dropped %s's version: %+v (from memory: %v), kept %+v, the database's %+v",
					what, v.name, got, mem, kept[v.name], r.dbVersion(v))
			}
		}
	}

	kept := r.keepAll(vs)
	if _, err := r.other.ExecContext(r.ctx, `INSERT INTO access_requests (tenant_id, id, kind, requester_id, target_user_id, status, levels, created_at, updated_at)
		VALUES ($1, 'r-rita', 'user_access', $2, $2, 'pending', '[]', now(), now())`, r.tenant.ID, rita.id); err != nil {
		t.Fatal(err)
	}
	want := r.dbVersion(rita)
	if want.User <= kept[rita.name].User+100 {
		t.Fatalf("a request naming rita left her part at %d (kept %d, silently +100)", want.User, kept[rita.name].User)
	}
	r.seen(rita, func(v store.HomeVersion) bool { return v == want }, time.Second, "a request naming rita")
	others("a request naming rita alone", kept, uma, ada)

	kept = r.keepAll(vs)
	if _, err := r.other.ExecContext(r.ctx, `INSERT INTO schedules (tenant_id, job, cron, time_zone, since, updated_at)
		VALUES ($1, 'digest', '0 9 * * *', 'UTC', now(), now())`, r.tenant.ID); err != nil {
		t.Fatal(err)
	}
	want = r.dbVersion(ada)
	if want.Admins <= kept[ada.name].Admins {
		t.Fatalf("a schedule left the admins' part at %d", want.Admins)
	}
	r.seen(ada, func(v store.HomeVersion) bool { return v == want }, time.Second, "a schedule")
	others("a schedule (the admins' part)", kept, rita, uma)

	kept = r.keepAll(vs)
	if _, err := r.other.ExecContext(r.ctx, `UPDATE tenants SET name = name || '.' WHERE id = $1`, r.tenant.ID); err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		want := r.dbVersion(v).Tenant
		if want <= kept[v.name].Tenant {
			t.Fatalf("renaming the tenant left everyone's part at %d", want)
		}
		r.seen(v, func(got store.HomeVersion) bool { return got.Tenant == want }, time.Second, "the tenant renamed")
	}
}

// TestHomeVersionUnreadableNotificationDropsAll: a notification on the
// channel that names no part it can read (a hand-made one, or the
// "schema/tenant" of a build before 00320) drops every version kept.
func TestHomeVersionUnreadableNotificationDropsAll(t *testing.T) {
	t.Parallel()
	r := newHomeRig(t)
	var vs []homeViewer
	for _, n := range []string{"rita", "uma"} {
		u := &accessbot.User{TenantID: r.tenant.ID, Email: n + "@acme.test", Name: n, Status: accessbot.UserActive}
		if err := r.st.CreateUser(r.ctx, u); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, homeViewer{name: n, id: u.ID})
	}
	r.listener(0)
	for _, payload := range []string{`current_schema() || '/garbage'`, `current_schema() || '/' || $1`,
		`current_schema() || '/' || jsonb_build_array($1::text)::text`} {
		kept := r.keepAll(vs)
		if _, err := r.other.ExecContext(r.ctx, `SELECT pg_notify('accessbot_home', `+payload+`) WHERE $1::text IS NOT NULL`, r.tenant.ID); err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			r.seen(v, func(got store.HomeVersion) bool { return got.User > kept[v.name].User }, time.Second, "notification "+payload)
		}
	}
}

// TestHomeVersionReconnectDropsAll: a viewer's part moved silently while
// versions are kept is seen once the listener has reconnected, though no
// notification ever named it: the reconnect drops everything.
func TestHomeVersionReconnectDropsAll(t *testing.T) {
	t.Parallel()
	r := newHomeRig(t)
	u := &accessbot.User{TenantID: r.tenant.ID, Email: "rita@acme.test", Name: "rita", Status: accessbot.UserActive}
	if err := r.st.CreateUser(r.ctx, u); err != nil {
		t.Fatal(err)
	}
	rita := homeViewer{name: "rita", id: u.ID}
	pid := r.listener(0)
	kept := r.keepAll([]homeViewer{rita})
	var ok bool
	if err := r.other.QueryRowContext(r.ctx, `SELECT pg_terminate_backend($1)`, pid).Scan(&ok); err != nil || !ok {
		t.Fatalf("terminate the listener's backend %d: %v %v", pid, ok, err)
	}
	r.listener(pid) // reads the tenant's version only, not rita's
	// Until the store keeps versions again (listening once more).
	tenantView := homeViewer{name: "the tenant"}
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		if _, mem := r.fromMemory(tenantView); mem {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("versions not kept again within 10 s of the reconnect")
		}
	}
	got := r.read(rita)
	if got.User <= kept[rita.name].User {
		t.Fatalf("after a reconnect rita's version %+v is the one kept before (%+v); the database's %+v", got, kept[rita.name], r.dbVersion(rita))
	}
}
