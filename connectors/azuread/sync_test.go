package azuread_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/connectors/azuread"
	"github.com/accessbot/accessbot/connectors/azuread/graphfake"
	"github.com/accessbot/accessbot/flows/dirsync"
	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/flows/inventory"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

type syncFixture struct {
	st     store.Store
	tenant *accessbot.Tenant
	app    *accessbot.Application
	sy     *dirsync.Syncer
	src    azuread.Source
	fake   *graphfake.Server
	now    time.Time
}

func newSyncFixture(t *testing.T, driver string, f *graphfake.Server) *syncFixture {
	t.Helper()
	ctx := context.Background()
	x := &syncFixture{st: storetest.Open(t, driver), fake: f, now: t0}
	clock := func() time.Time { return x.now }
	x.tenant = &accessbot.Tenant{Slug: "contoso", Name: "Contoso"}
	must(t, x.st.CreateTenant(ctx, x.tenant))
	owner := &accessbot.User{TenantID: x.tenant.ID, Email: "owner@contoso.com", Name: "Owner", Role: accessbot.RoleAdmin}
	must(t, x.st.CreateUser(ctx, owner))
	x.app = &accessbot.Application{TenantID: x.tenant.ID, Name: "Entra", Connector: "azuread", PrimaryOwnerID: owner.ID}
	must(t, x.st.CreateApplication(ctx, x.app))
	c, _ := newClient(t, f)
	x.src = azuread.Source{C: c}
	x.sy = dirsync.New(x.st, findings.NewEngine(clock, zerolog.Nop()), clock, zerolog.Nop())
	return x
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (x *syncFixture) sync(t *testing.T, opt dirsync.Options) *dirsync.Result {
	t.Helper()
	opt.TempDir = t.TempDir()
	res, err := x.sy.Sync(context.Background(), x.tenant.ID, x.app, x.src, opt)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	for _, im := range res.Imports {
		for _, r := range im.Rejected {
			t.Errorf("rejected: %v", r)
		}
	}
	return res
}

// relations lists "identity-external-id→entitlement-name" of the app.
func (x *syncFixture) relations(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	ids, err := x.st.ListIdentities(ctx, x.tenant.ID, x.app.ID, false)
	must(t, err)
	ents, err := x.st.ListAppEntitlements(ctx, x.tenant.ID, x.app.ID, false)
	must(t, err)
	rels, err := x.st.ListRelations(ctx, x.tenant.ID, x.app.ID, false)
	must(t, err)
	in, en := map[string]string{}, map[string]string{}
	for _, i := range ids {
		in[i.ID] = i.Email
	}
	for _, e := range ents {
		en[e.ID] = e.Name
	}
	var out []string
	for _, r := range rels {
		out = append(out, in[r.IdentityID]+"→"+en[r.EntitlementID])
	}
	sort.Strings(out)
	return out
}

func TestSyncFullThenDeltaThenResyncAfterExpiry(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			f := graphfake.New()
			defer f.Close()
			f.PageSize = 3
			left := t0.Add(-48 * time.Hour)
			alice := f.PutUser(graphfake.User{UPN: "alice@contoso.com", Mail: "alice@contoso.com", DisplayName: "Alice", AccountEnabled: true})
			bob := f.PutUser(graphfake.User{UPN: "bob@contoso.com", DisplayName: "Bob", AccountEnabled: true, LeaveDate: &left})
			carol := f.PutUser(graphfake.User{UPN: "carol@contoso.com", DisplayName: "Carol", AccountEnabled: false})
			dave := f.PutUser(graphfake.User{UPN: "dave@contoso.com", DisplayName: "Dave", AccountEnabled: true})
			guest := f.PutUser(graphfake.User{UPN: "erin_example.com#EXT#@contoso.onmicrosoft.com", DisplayName: "Erin (guest)", AccountEnabled: true})
			sales := f.PutGroup(graphfake.Group{DisplayName: "Sales"})
			ops := f.PutGroup(graphfake.Group{DisplayName: "Ops"})
			f.AddMember(sales, alice)
			f.AddMember(sales, bob)
			f.AddMember(ops, carol)
			f.AddMember(ops, guest)
			f.PutRole("Global Administrator", alice)

			x := newSyncFixture(t, driver, f)
			bobEmp := &accessbot.User{TenantID: x.tenant.ID, Email: "bob@contoso.com", Name: "Bob"}
			must(t, x.st.CreateUser(ctx, bobEmp))
			daveEmp := &accessbot.User{TenantID: x.tenant.ID, Email: "dave@contoso.com", Name: "Dave"}
			must(t, x.st.CreateUser(ctx, daveEmp))
			// Dave asked for Ops through accessbot: his membership is no drift.
			opsConn := &accessbot.Connection{TenantID: x.tenant.ID, AppID: x.app.ID, Name: "Ops", Type: "group"}
			must(t, x.st.CreateConnection(ctx, opsConn))
			must(t, x.st.CreateEntitlement(ctx, &accessbot.Entitlement{TenantID: x.tenant.ID, UserID: daveEmp.ID, ConnectionID: opsConn.ID, GrantedAt: t0}))

			res := x.sync(t, dirsync.Options{})
			if !res.Full || !res.Written || res.Identities != 5 || res.Groups != 3 || res.Relations != 5 {
				t.Fatalf("first sync: %s", res.Summary())
			}
			// The guest's UPN is no address: its identity has no email.
			want := []string{"alice@contoso.com→Global Administrator", "alice@contoso.com→Sales", "bob@contoso.com→Sales", "carol@contoso.com→Ops", "→Ops"}
			got := x.relations(t)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("relations = %v\nwant %v", got, want)
			}
			ids, _ := x.st.ListIdentities(ctx, x.tenant.ID, x.app.ID, false)
			for _, i := range ids {
				if i.ExternalID == carol && i.Status != accessbot.IdentityDisabled {
					t.Errorf("carol (accountEnabled false) = %s", i.Status)
				}
			}
			b, _ := x.st.GetUserByEmail(ctx, x.tenant.ID, "bob@contoso.com")
			if b.Status != accessbot.UserTerminated || b.TerminatedAt == nil || !b.TerminatedAt.Equal(left) || len(res.Terminated) != 1 {
				t.Fatalf("bob after a passed leave date = %s %v (%v)", b.Status, b.TerminatedAt, res.Terminated)
			}
			if res.Drift != 0 {
				t.Fatalf("first sync raised drift: %d", res.Drift)
			}

			// Outside accessbot: Dave joins Ops (granted in accessbot),
			// Alice joins Ops (not granted), Bob leaves Sales, Carol is
			// deleted, Sales is renamed and a group appears.
			x.now = t0.Add(time.Hour)
			deltaBefore := f.Count("GET /users/delta")
			f.AddMember(ops, dave)
			f.AddMember(ops, alice)
			f.RemoveMember(sales, bob)
			f.DeleteUser(carol)
			f.PutGroup(graphfake.Group{ID: sales, DisplayName: "Sales EMEA"})
			f.PutGroup(graphfake.Group{DisplayName: "New"})
			res = x.sync(t, dirsync.Options{})
			if res.Full || !res.Written {
				t.Fatalf("second sync: %s", res.Summary())
			}
			if n := f.Count("GET /users/delta") - deltaBefore; n != 1 {
				t.Errorf("delta read %d user pages; want 1 (only the change)", n)
			}
			got = x.relations(t)
			want = []string{"alice@contoso.com→Global Administrator", "alice@contoso.com→Ops", "alice@contoso.com→Sales EMEA", "dave@contoso.com→Ops", "→Ops"}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("after delta relations = %v\nwant %v", got, want)
			}
			if res.Drift != 1 {
				t.Fatalf("drift = %d; want 1 (alice in Ops)", res.Drift)
			}
			fs, err := x.st.ListFindings(ctx, x.tenant.ID, accessbot.FindingFilter{Rule: dirsync.RuleDrift})
			must(t, err)
			if len(fs) != 1 || !strings.Contains(fs[0].Subject.Display, "alice@contoso.com") || !strings.Contains(string(fs[0].Details), `"Ops"`) {
				t.Fatalf("drift findings = %+v", fs)
			}

			// The delta token expires: the next sync reads everything.
			f.ExpireDeltaTokens()
			f.RemoveMember(ops, alice)
			f.Throttle(time.Second)
			x.now = t0.Add(2 * time.Hour)
			res = x.sync(t, dirsync.Options{})
			if !res.Full || !res.Written {
				t.Fatalf("resync: %s", res.Summary())
			}
			got = x.relations(t)
			want = []string{"alice@contoso.com→Global Administrator", "alice@contoso.com→Sales EMEA", "dave@contoso.com→Ops", "→Ops"}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("after resync relations = %v", got)
			}
			st, err := x.st.GetConnectorSync(ctx, x.tenant.ID, x.app.ID)
			must(t, err)
			if st.LastError != "" || st.LastFullAt == nil || !st.LastFullAt.Equal(x.now) || !strings.Contains(st.Summary, "full sync of Entra") {
				t.Fatalf("status = %+v", st)
			}

			// A failing read is recorded and leaves the cursor alone.
			cursor := st.Cursor
			real := f.ClientSecret
			f.ClientSecret = "an-old-secret"
			stale, _ := newClient(t, f) // sends the old secret
			f.ClientSecret = real
			if _, err := x.sy.Sync(ctx, x.tenant.ID, x.app, azuread.Source{C: stale}, dirsync.Options{TempDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "AADSTS7000215") {
				t.Fatalf("sync with a wrong secret: %v", err)
			}
			st, err = x.st.GetConnectorSync(ctx, x.tenant.ID, x.app.ID)
			must(t, err)
			if !strings.Contains(st.LastError, "invalid_client") || st.Cursor != cursor || st.LastOKAt == nil {
				t.Fatalf("status after a failure = %+v", st)
			}
		})
	}
}

// TestSyncScale: users and groups (three memberships each user) against
// the fake, then a delta that picks up only the changes, with the peak heap
// sampled. CI runs 2,000 users and 400 groups; ACCESSBOT_SYNC_SCALE=full
// runs the 10,000 users and 2,000 groups whose figures are in BENCHMARKS.md:
//
//	ACCESSBOT_SYNC_SCALE=full go test -run TestSyncScale -v -count=1 ./connectors/azuread/
func TestSyncScale(t *testing.T) {
	users, groups := 2000, 400
	drivers := []string{"sqlite"}
	if os.Getenv("ACCESSBOT_SYNC_SCALE") == "full" {
		users, groups, drivers = 10000, 2000, storetest.Drivers(t) // PostgreSQL too, when it is there
	}
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) { syncScale(t, driver, users, groups) })
	}
}

func syncScale(t *testing.T, driver string, users, groups int) {
	const per = 3
	f := graphfake.New()
	defer f.Close()
	f.PageSize = 999
	gids := make([]string, groups)
	for i := range gids {
		gids[i] = f.PutGroup(graphfake.Group{DisplayName: fmt.Sprintf("group-%04d", i)})
	}
	uids := make([]string, users)
	for i := range uids {
		uids[i] = f.PutUser(graphfake.User{UPN: fmt.Sprintf("user%05d@contoso.com", i), DisplayName: fmt.Sprintf("User %d", i), AccountEnabled: true})
		for k := range per {
			f.AddMember(gids[(i*7+k*131)%groups], uids[i])
		}
	}
	x := newSyncFixture(t, driver, f)
	var res *dirsync.Result
	d, peak := measure(t, func() { res = x.sync(t, dirsync.Options{}) })
	if !res.Full || res.Identities != users || res.Groups != groups || res.Relations != users*per {
		t.Fatalf("full sync: %s", res.Summary())
	}
	t.Logf("[counts] %s full sync: %d users, %d groups, %d relations in %.1fs, peak heap %.1f MiB", driver, users, groups, res.Relations, d.Seconds(), float64(peak)/(1<<20))
	const limit = 256 << 20
	if peak > limit {
		t.Errorf("full sync peak heap %.1f MiB > %d MiB", float64(peak)/(1<<20), limit>>20)
	}

	pagesBefore := f.Count("GET /users/delta") + f.Count("GET /groups/delta")
	x.now = t0.Add(time.Hour)
	f.AddMember(gids[5], uids[1])
	f.RemoveMember(gids[(2*7)%groups], uids[2])
	u := f.User(uids[3])
	u.AccountEnabled = false
	f.PutUser(*u)
	d, peak = measure(t, func() { res = x.sync(t, dirsync.Options{}) })
	im := res.Imports
	if res.Full || im[0].Updated != 1 || im[0].Created != 0 || im[2].Created != 1 || im[2].Removed != 1 || im[2].Unchanged != users*per-1 {
		t.Fatalf("delta: %s", res.Summary())
	}
	if pages := f.Count("GET /users/delta") + f.Count("GET /groups/delta") - pagesBefore; pages != 2 {
		t.Errorf("delta read %d pages; want 2 (one of users, one of groups)", pages)
	}
	if res.Drift != 1 {
		t.Errorf("delta drift = %d; want 1", res.Drift)
	}
	t.Logf("[counts] %s delta sync: 3 changes in %.1fs, peak heap %.1f MiB", driver, d.Seconds(), float64(peak)/(1<<20))
}

func measure(t *testing.T, fn func()) (time.Duration, uint64) {
	runtime.GC()
	var (
		peak uint64
		mu   sync.Mutex
		wg   sync.WaitGroup
	)
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			mu.Lock()
			peak = max(peak, ms.HeapInuse)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	start := time.Now()
	fn()
	d := time.Since(start)
	close(done)
	wg.Wait()
	return d, peak
}

// A leave date read while it is still ahead terminates the employee at
// the first sync after it passes, though that sync is a delta in which
// the user did not change (Graph reports only changed users); a leave
// date cleared in Entra before it passes terminates no one.
func TestLeaveDateInTheFuturePassesBetweenDeltaSyncs(t *testing.T) {
	ctx := context.Background()
	f := graphfake.New()
	defer f.Close()
	soon, later := t0.Add(24*time.Hour), t0.Add(48*time.Hour)
	f.PutUser(graphfake.User{UPN: "fay@contoso.com", Mail: "fay@contoso.com", DisplayName: "Fay", AccountEnabled: true, LeaveDate: &soon})
	gus := f.PutUser(graphfake.User{UPN: "gus@contoso.com", Mail: "gus@contoso.com", DisplayName: "Gus", AccountEnabled: true, LeaveDate: &later})
	x := newSyncFixture(t, "sqlite", f)
	for _, e := range []string{"fay@contoso.com", "gus@contoso.com"} {
		must(t, x.st.CreateUser(ctx, &accessbot.User{TenantID: x.tenant.ID, Email: e, Name: e}))
	}
	status := func(email string) accessbot.UserStatus {
		u, err := x.st.GetUserByEmail(ctx, x.tenant.ID, email)
		must(t, err)
		return u.Status
	}
	if res := x.sync(t, dirsync.Options{}); !res.Full || len(res.Terminated) != 0 || status("fay@contoso.com") != accessbot.UserActive {
		t.Fatalf("first sync, leave dates ahead: %s; terminated %v", res.Summary(), res.Terminated)
	}
	// Gus's leave date is withdrawn in Entra; Fay's passes.
	u := f.User(gus)
	u.LeaveDate = nil
	f.PutUser(*u)
	x.now = soon.Add(time.Hour)
	res := x.sync(t, dirsync.Options{})
	if res.Full || len(res.Terminated) != 1 || res.Terminated[0] != "fay@contoso.com" {
		t.Fatalf("delta after Fay's leave date: %s; terminated %v", res.Summary(), res.Terminated)
	}
	fay, err := x.st.GetUserByEmail(ctx, x.tenant.ID, "fay@contoso.com")
	must(t, err)
	if fay.Status != accessbot.UserTerminated || fay.TerminatedAt == nil || !fay.TerminatedAt.Equal(soon) {
		t.Fatalf("fay = %s %v; want terminated on %s", fay.Status, fay.TerminatedAt, soon)
	}
	x.now = later.Add(time.Hour)
	if res := x.sync(t, dirsync.Options{}); res.Full || len(res.Terminated) != 0 || status("gus@contoso.com") != accessbot.UserActive {
		t.Fatalf("after Gus's withdrawn date: %s; terminated %v, gus %s", res.Summary(), res.Terminated, status("gus@contoso.com"))
	}
}

// A drift finding keeps every entitlement it named while the identity
// still holds it outside accessbot, drops what was removed, and is
// resolved once nothing is left (removed in Entra, or granted through
// accessbot since); drift that comes back reopens it.
func TestDriftFindingFollowsTheDirectory(t *testing.T) {
	ctx := context.Background()
	f := graphfake.New()
	defer f.Close()
	alice := f.PutUser(graphfake.User{UPN: "alice@contoso.com", Mail: "alice@contoso.com", DisplayName: "Alice", AccountEnabled: true})
	sales := f.PutGroup(graphfake.Group{DisplayName: "Sales"})
	ops := f.PutGroup(graphfake.Group{DisplayName: "Ops"})
	eng := f.PutGroup(graphfake.Group{DisplayName: "Eng"})
	f.AddMember(sales, alice)
	x := newSyncFixture(t, "sqlite", f)
	emp := &accessbot.User{TenantID: x.tenant.ID, Email: "alice@contoso.com", Name: "Alice"}
	must(t, x.st.CreateUser(ctx, emp))
	finding := func() *accessbot.Finding {
		fs, err := x.st.ListFindings(ctx, x.tenant.ID, accessbot.FindingFilter{Rule: dirsync.RuleDrift})
		must(t, err)
		if len(fs) != 1 {
			t.Fatalf("drift findings = %+v; want one", fs)
		}
		return &fs[0]
	}
	names := func(fd *accessbot.Finding) string {
		var d struct{ Entitlements []string }
		must(t, json.Unmarshal(fd.Details, &d))
		return strings.Join(d.Entitlements, ",")
	}
	step := func(what string, change func(), wantStatus accessbot.FindingStatus, wantNames string) {
		t.Helper()
		change()
		x.now = x.now.Add(time.Hour)
		x.sync(t, dirsync.Options{})
		fd := finding()
		if fd.Status != wantStatus || (wantNames != "" && names(fd) != wantNames) {
			t.Fatalf("%s: finding %s naming %q; want %s naming %q", what, fd.Status, names(fd), wantStatus, wantNames)
		}
	}
	// The caller's hook (the playbooks' finding.opened) runs in the
	// snapshot's transaction after drift is recorded: it sees a finding
	// the same sync opened.
	var hookSaw []string
	x.sy.WithAfterImport(func(ctx context.Context, q store.Queries, tenantID string, _ *inventory.Result, at time.Time) error {
		fs, err := q.ListFindings(ctx, tenantID, accessbot.FindingFilter{Rule: dirsync.RuleDrift, Statuses: []accessbot.FindingStatus{accessbot.FindingOpen}, Since: at})
		n := 0
		for _, f := range fs {
			if !f.OpenedAt.Before(at) {
				n++
			}
		}
		hookSaw = append(hookSaw, fmt.Sprint(n))
		return err
	})
	if res := x.sync(t, dirsync.Options{}); res.Drift != 0 { // the baseline
		t.Fatalf("baseline drift = %d", res.Drift)
	}
	step("Ops added outside", func() { f.AddMember(ops, alice) }, accessbot.FindingOpen, "Ops")
	step("Eng added outside", func() { f.AddMember(eng, alice) }, accessbot.FindingOpen, "Eng,Ops")
	step("Ops removed in Entra", func() { f.RemoveMember(ops, alice) }, accessbot.FindingOpen, "Eng")
	step("Eng granted through accessbot", func() {
		conn := &accessbot.Connection{TenantID: x.tenant.ID, AppID: x.app.ID, Name: "Eng", Type: "group"}
		must(t, x.st.CreateConnection(ctx, conn))
		must(t, x.st.CreateEntitlement(ctx, &accessbot.Entitlement{TenantID: x.tenant.ID, UserID: emp.ID, ConnectionID: conn.ID, GrantedAt: x.now}))
	}, accessbot.FindingResolved, "")
	step("Ops added outside again", func() { f.AddMember(ops, alice) }, accessbot.FindingOpen, "Ops")
	if !f.IsMember(ops, alice) || !f.IsMember(eng, alice) || !f.IsMember(sales, alice) {
		t.Fatal("a sync changed the directory")
	}
	// Opened by this sync: baseline none, Ops opens it, kept through Eng
	// and Ops' removal, resolved, reopened by Ops again.
	if got := strings.Join(hookSaw, ","); got != "0,1,0,0,0,1" {
		t.Fatalf("drift findings opened by the sync, as its hook saw them: %s; want 0,1,0,0,0,1", got)
	}
}
