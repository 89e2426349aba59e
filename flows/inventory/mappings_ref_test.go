package inventory

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/csvrows"
	"github.com/accessbot/accessbot/flows/userimport"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

// refMappings is mappings as it was before it was streamed (revision
// 6cdb398, flows/inventory/mappings.go): the whole file and the stored
// mappings in memory. It is the reference the streamed import must agree
// with.
func (j *job) refMappings(ctx context.Context, appName string, t *csvrows.Table) error {
	j.res.Rejected = append(j.res.Rejected, t.Rejected...)
	var scope []string
	var only *accessbot.Application
	if appName != "" {
		a, err := j.app(ctx, appName)
		if err != nil {
			return err
		}
		only, scope = a, []string{a.ID}
	}
	apps, err := j.q.ListApplications(ctx, j.tenantID, "", 0)
	if err != nil {
		return err
	}
	appByName := map[string]*accessbot.Application{}
	for i := range apps {
		appByName[strings.ToLower(apps[i].Name)] = &apps[i]
	}
	idents, err := j.q.ListIdentities(ctx, j.tenantID, "", true)
	if err != nil {
		return err
	}
	byExt := map[string][]*accessbot.Identity{} // current identities only
	appOf := map[string]string{}                // identity id → application id
	for i := range idents {
		appOf[idents[i].ID] = idents[i].AppID
		if idents[i].RemovedAt == nil {
			byExt[idents[i].ExternalID] = append(byExt[idents[i].ExternalID], &idents[i])
		}
	}
	users, err := j.q.ListUsers(ctx, j.tenantID)
	if err != nil {
		return err
	}
	userByEmail := map[string]string{}
	for _, u := range users {
		userByEmail[accessbot.NormalizeEmail(u.Email)] = u.ID
	}
	current, err := j.q.ListIdentityMappings(ctx, j.tenantID)
	if err != nil {
		return err
	}

	keepIdent, keepUser, keepAll := map[string]bool{}, map[string]bool{}, false
	// keepNamed records what a rejected row names (app narrows the
	// identities when known).
	keepNamed := func(rec csvrows.Row, app *accessbot.Application) {
		ext, uid := rec.Cell.Get("identity_id"), userByEmail[accessbot.NormalizeEmail(rec.Cell.Get("employee_email"))]
		for _, i := range byExt[ext] {
			if app == nil || i.AppID == app.ID {
				keepIdent[i.ID] = true
			}
		}
		if uid != "" {
			keepUser[uid] = true
		}
		if ext == "" && uid == "" {
			keepAll = true
		}
	}
	for _, rec := range t.Malformed {
		keepNamed(rec, only)
	}
	var good []accessbot.IdentityMapping
	dups := map[string]int{}
	for _, rec := range t.Rows {
		c := rec.Cell
		ext := c.Get("identity_id")
		if ext == "" {
			j.reject(rec, "", "identity_id is empty")
			keepNamed(rec, only)
			continue
		}
		app := only
		if name := c.Get("app"); name != "" {
			a := appByName[strings.ToLower(name)]
			switch {
			case a == nil:
				j.reject(rec, "app", "the tenant has no such application")
				keepNamed(rec, only)
				continue
			case only != nil && a.ID != only.ID:
				j.reject(rec, "app", fmt.Sprintf("--app is %s", only.Name))
				continue // names nothing in scope
			}
			app = a
		}
		var cands []*accessbot.Identity
		for _, i := range byExt[ext] {
			if app == nil || i.AppID == app.ID {
				cands = append(cands, i)
			}
		}
		switch {
		case len(cands) == 0:
			j.reject(rec, "identity_id", "no such identity (upload the application's identities first)")
			keepNamed(rec, app)
			continue
		case len(cands) > 1:
			j.reject(rec, "identity_id", "several applications have this identity: add an app column or use --app")
			keepNamed(rec, app)
			continue
		}
		ident := cands[0]
		if first, dup := dups[ident.ID]; dup {
			j.reject(rec, "identity_id", fmt.Sprintf("already on line %d (both rows skipped)", first))
			keepNamed(rec, app)
			continue
		}
		dups[ident.ID] = rec.Line
		email := c.Get("employee_email")
		uid := userByEmail[accessbot.NormalizeEmail(email)]
		switch {
		case email == "":
			j.reject(rec, "", "employee_email is empty")
		case uid == "":
			j.reject(rec, "employee_email", "no employee with this email in the tenant")
		default:
			good = append(good, accessbot.IdentityMapping{IdentityID: ident.ID, UserID: uid})
			continue
		}
		keepNamed(rec, app)
	}
	kept := 0
	out := good[:0]
	for _, m := range good {
		if !keepIdent[m.IdentityID] {
			out = append(out, m)
		}
	}
	good = out
	inFile := map[string]bool{}
	for _, m := range good {
		inFile[m.IdentityID] = true
	}
	for _, m := range current {
		inScope := len(scope) == 0 || slices.Contains(scope, appOf[m.IdentityID])
		if inScope && !inFile[m.IdentityID] && (keepAll || keepIdent[m.IdentityID] || keepUser[m.UserID]) {
			good = append(good, accessbot.IdentityMapping{IdentityID: m.IdentityID, UserID: m.UserID})
			kept++
		}
	}
	sr, err := j.q.ReplaceIdentityMappings(ctx, j.tenantID, scope, good)
	// The store counts kept mappings as unchanged: they were left out.
	sr.Kept, sr.Unchanged = kept, sr.Unchanged-kept
	return j.done(sr, err)
}

// TestMappingsMatchReference imports random mappings files, over random
// stored mappings, with the streamed import and with refMappings, each in
// a transaction rolled back, and checks that they agree: counts, rejected
// rows and the mappings left. The worlds mix what the rows check: ids in
// several applications or removed, unknown applications and employees,
// --app, repeated identities, emails in another case, rows that name
// nothing and rows with the wrong number of fields.
func TestMappingsMatchReference(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			st := storetest.Open(t, driver)
			ten := &accessbot.Tenant{Slug: "acme", Name: "Acme"}
			refMust(t, st.CreateTenant(ctx, ten))
			var users []*accessbot.User
			for _, name := range []string{"alice", "bob", "carol", "dave"} {
				u := &accessbot.User{TenantID: ten.ID, Email: name + "@acme.com", Name: name}
				refMust(t, st.CreateUser(ctx, u))
				users = append(users, u)
			}
			var apps []*accessbot.Application
			var idents []accessbot.Identity // current and removed
			for i, name := range []string{"AWS", "GitLab", "Okta"} {
				a := &accessbot.Application{TenantID: ten.ID, Name: name, PrimaryOwnerID: users[0].ID}
				refMust(t, st.CreateApplication(ctx, a))
				apps = append(apps, a)
				// u1..u4 in each application, but for one each; one removed.
				var ids []accessbot.Identity
				for k := 1; k <= 4; k++ {
					if k != i+2 {
						ids = append(ids, accessbot.Identity{ExternalID: fmt.Sprintf("u%d", k)})
					}
				}
				_, err := st.ReplaceIdentities(ctx, ten.ID, a.ID, ids, accessbot.SnapshotKeep{}, at)
				refMust(t, err)
				_, err = st.ReplaceIdentities(ctx, ten.ID, a.ID, ids[1:], accessbot.SnapshotKeep{}, at)
				refMust(t, err)
				all, err := st.ListIdentities(ctx, ten.ID, a.ID, true)
				refMust(t, err)
				idents = append(idents, all...)
			}
			n := 150
			if driver != "sqlite" {
				n = 100
			}
			// seen counts what the runs did, to show that they cover it all.
			seen := map[string]int{}
			for seed := range n {
				r := rand.New(rand.NewPCG(uint64(seed), 18))
				// Stored mappings: some identities, current or removed.
				var stored []accessbot.IdentityMapping
				for _, i := range idents {
					if r.IntN(2) == 0 {
						stored = append(stored, accessbot.IdentityMapping{IdentityID: i.ID, UserID: users[r.IntN(len(users))].ID})
					}
				}
				file, app := randomMappings(r)
				type outcome struct {
					Res      accessbot.SnapshotResult
					Rejected []string
					Maps     []string
				}
				run := func(ref bool) outcome {
					var o outcome
					err := st.InTx(ctx, func(q store.Queries) error {
						if _, err := q.ReplaceIdentityMappings(ctx, ten.ID, nil, stored); err != nil {
							return err
						}
						res := &Result{}
						j := &job{q: q, tenantID: ten.ID, file: "m.csv", at: at, res: res}
						cols := csvrows.Columns{Known: mappingColumns, Required: mappingColumns[:2]}
						var err error
						if ref {
							var tb *csvrows.Table
							if tb, err = csvrows.ReadAll("m.csv", strings.NewReader(file), cols); err == nil {
								err = j.refMappings(ctx, app, tb)
							}
						} else {
							var rd *csvrows.Reader
							if rd, err = csvrows.NewReader("m.csv", strings.NewReader(file), cols); err == nil {
								err = j.mappings(ctx, app, rd)
							}
						}
						if err != nil {
							return err
						}
						o.Res = res.SnapshotResult
						for _, e := range res.Rejected {
							o.Rejected = append(o.Rejected, refRejectString(e))
						}
						slices.Sort(o.Rejected)
						ms, err := q.ListIdentityMappings(ctx, ten.ID)
						if err != nil {
							return err
						}
						for _, m := range ms {
							o.Maps = append(o.Maps, m.IdentityID+"→"+m.UserID)
						}
						return errRollback
					})
					if !errors.Is(err, errRollback) {
						t.Fatalf("seed %d (ref %v): %v\n%s", seed, ref, err, file)
					}
					return o
				}
				want, got := run(true), run(false)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("seed %d, --app %q:\n%s\nstreamed  %+v\nreference %+v", seed, app, file, got, want)
				}
				res := got.Res
				for what, n := range map[string]int{"created": res.Created, "updated": res.Updated, "unchanged": res.Unchanged, "removed": res.Removed, "kept": res.Kept} {
					if n > 0 {
						seen[what]++
					}
				}
				if res.Kept > 0 && res.Removed == 0 && len(got.Maps) >= len(stored) {
					seen["kept everything"]++
				}
				for _, e := range got.Rejected {
					for _, msg := range []string{"fields, but the header", "identity_id is empty", "no such application", "--app is", "no such identity",
						"several applications", "already on line", "employee_email is empty", "no employee with this email"} {
						if strings.Contains(e, msg) {
							seen[msg]++
						}
					}
				}
			}
			t.Logf("runs that did each: %v", seen)
			if len(seen) != 15 {
				t.Errorf("the random files do not cover every outcome: %v", seen)
			}
		})
	}
}

// randomMappings is a small mappings file and an --app ("" or AWS).
func randomMappings(r *rand.Rand) (file, app string) {
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	withApp := r.IntN(2) == 0
	var b strings.Builder
	b.WriteString("identity_id,employee_email")
	if withApp {
		b.WriteString(",app")
	}
	b.WriteString("\n")
	for range r.IntN(8) {
		// Mostly good rows, so that some files have no reject at all.
		cells := []string{pick("u1", "u2", "u3", "u4", "u1", "u2", "u3", "u4", "u9", ""),
			pick("alice@acme.com", "Bob@ACME.com", "carol@acme.com", "dave@acme.com", "alice@acme.com", "dave@acme.com", "", "nobody@acme.com")}
		if withApp {
			cells = append(cells, pick("", "AWS", "AWS", "gitlab", "gitlab", "Okta", "Okta", "Nope"))
		}
		switch r.IntN(20) {
		case 0:
			cells = cells[:1] // too few fields
		case 1:
			cells = append(cells, "extra")
		}
		b.WriteString(strings.Join(cells, ",") + "\n")
	}
	return b.String(), pick("", "", "AWS")
}

func refRejectString(e *userimport.RowError) string {
	return fmt.Sprintf("%d %s %q %s", e.Line, e.Field, e.Value, e.Msg)
}

func refMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
