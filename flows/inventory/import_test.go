package inventory_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/flows/inventory"
	"github.com/accessbot/accessbot/flows/userimport"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

var t0 = time.Date(2025, 6, 2, 9, 0, 0, 0, time.UTC)

type fixture struct {
	st     store.Store
	tenant *accessbot.Tenant
	app    *accessbot.Application
	im     *inventory.Importer
	now    time.Time
}

func setup(t *testing.T, driver string) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{st: storetest.Open(t, driver), now: t0}
	clock := func() time.Time { return f.now }
	f.tenant = &accessbot.Tenant{Slug: "acme", Name: "Acme"}
	must(t, f.st.CreateTenant(ctx, f.tenant))
	term := t0.Add(-24 * time.Hour)
	for _, u := range []*accessbot.User{
		{TenantID: f.tenant.ID, Email: "alice@acme.com", Name: "Alice", Role: accessbot.RoleAdmin},
		{TenantID: f.tenant.ID, Email: "bob@acme.com", Name: "Bob", Status: accessbot.UserTerminated, TerminatedAt: &term},
		{TenantID: f.tenant.ID, Email: "carol@acme.com", Name: "Carol"},
	} {
		must(t, f.st.CreateUser(ctx, u))
	}
	owner, err := f.st.GetUserByEmail(ctx, f.tenant.ID, "alice@acme.com")
	must(t, err)
	f.app = &accessbot.Application{TenantID: f.tenant.ID, Name: "GitLab", Connector: "manual", PrimaryOwnerID: owner.ID}
	must(t, f.st.CreateApplication(ctx, f.app))
	f.im = inventory.NewImporter(f.st, findings.NewEngine(clock, zerolog.Nop()), clock, zerolog.Nop())
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) upload(t *testing.T, kind inventory.Kind, csv string, opt inventory.Options) (*inventory.Result, error) {
	t.Helper()
	return f.im.Import(context.Background(), f.tenant.ID, kind, "GitLab", string(kind)+".csv", strings.NewReader(csv), opt)
}

func (f *fixture) ok(t *testing.T, kind inventory.Kind, csv string) *inventory.Result {
	t.Helper()
	res, err := f.upload(t, kind, csv, inventory.Options{Strict: true, AllowRemovals: true})
	if err != nil {
		if res != nil {
			for _, r := range res.Rejected {
				t.Log(r)
			}
		}
		t.Fatalf("import %s: %v", kind, err)
	}
	return res
}

// open lists "rule subject-display" of open findings, sorted.
func (f *fixture) open(t *testing.T) []string {
	t.Helper()
	fs, err := f.st.ListFindings(context.Background(), f.tenant.ID, accessbot.FindingFilter{Statuses: []accessbot.FindingStatus{accessbot.FindingOpen}})
	must(t, err)
	var out []string
	for _, x := range fs {
		out = append(out, x.Rule+" "+x.Subject.Display)
	}
	slices.Sort(out)
	return out
}

const (
	identitiesCSV = `Identity_ID,email,display_name,status,last_seen_at
u-alice,ALICE@acme.com,Alice,active,2025-06-01T10:00:00Z
u-bob,bob@acme.com,Bob,active,2025-05-30T10:00:00Z
svc-ci,,CI bot,active,
u-old,carol@acme.com,Carol,active,2024-01-01T00:00:00Z
u-gone,dave@acme.com,Dave,disabled,
`
	entitlementsCSV = `entitlement_id,name,type,labels
admins,Admins,group,privileged;ops
devs,Developers,group,
`
	relationsCSV = `identity_id,entitlement_id
u-alice,admins
u-alice,devs
u-bob,devs
svc-ci,devs
`
)

func TestUploadThenRules(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			f := setup(t, driver)
			f.ok(t, inventory.Identities, identitiesCSV)
			f.ok(t, inventory.Entitlements, entitlementsCSV)
			res := f.ok(t, inventory.Relations, relationsCSV)
			if res.Created != 4 || res.Findings == nil {
				t.Fatalf("relations: %+v", res)
			}
			want := []string{
				"inactive_identity GitLab: u-old (carol@acme.com)",
				"orphan_identity GitLab: svc-ci",
				"privileged_entitlement GitLab: u-alice (ALICE@acme.com)",
				"terminated_employee_active_identity GitLab: u-bob (bob@acme.com)",
			}
			if got := f.open(t); !slices.Equal(got, want) {
				t.Fatalf("open findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}

			// Rerun: de-duplicated, nothing new.
			f.now = t0.Add(time.Hour)
			again, err := findings.NewEngine(func() time.Time { return f.now }, zerolog.Nop()).RunTx(context.Background(), f.st, f.tenant.ID)
			must(t, err)
			if tot := again.Total(); tot.Opened != 0 || tot.Seen != 4 || tot.Resolved != 0 {
				t.Fatalf("rerun: %+v", tot)
			}

			// Re-upload without bob and svc-ci: they are marked removed, and
			// their findings resolve themselves.
			f.now = t0.Add(2 * time.Hour)
			res = f.ok(t, inventory.Identities, `identity_id,email,display_name,status,last_seen_at
u-alice,alice@acme.com,Alice,active,2025-06-01T10:00:00Z
u-old,carol@acme.com,Carol,active,2024-01-01T00:00:00Z
u-gone,dave@acme.com,Dave,disabled,
`)
			if res.Removed != 2 || res.Updated != 1 || res.Unchanged != 2 {
				t.Fatalf("re-upload: %+v", res.SnapshotResult)
			}
			all, err := f.st.ListIdentities(context.Background(), f.tenant.ID, f.app.ID, true)
			must(t, err)
			for _, i := range all {
				if gone := i.ExternalID == "u-bob" || i.ExternalID == "svc-ci"; gone != (i.RemovedAt != nil) {
					t.Errorf("%s removed_at = %v", i.ExternalID, i.RemovedAt)
				}
			}
			want = []string{
				"inactive_identity GitLab: u-old (carol@acme.com)",
				"privileged_entitlement GitLab: u-alice (alice@acme.com)",
			}
			if got := f.open(t); !slices.Equal(got, want) {
				t.Fatalf("open findings after re-upload:\n%s", strings.Join(got, "\n"))
			}
			resolved, err := f.st.ListFindings(context.Background(), f.tenant.ID, accessbot.FindingFilter{Statuses: []accessbot.FindingStatus{accessbot.FindingResolved}})
			must(t, err)
			if len(resolved) != 2 || resolved[0].StatusBy != accessbot.ActorSystem {
				t.Fatalf("resolved: %+v", resolved)
			}

			// An explicit mapping of a renamed account to carol ends nothing,
			// but mapping svc-ci back in (restored) to alice removes its orphan finding.
			f.ok(t, inventory.Identities, identitiesCSV)
			if got := f.open(t); !slices.Contains(got, "orphan_identity GitLab: svc-ci") {
				t.Fatalf("restored svc-ci is not an orphan again: %v", got)
			}
			f.ok(t, inventory.Mappings, "identity_id,employee_email\nsvc-ci,Alice@acme.com\n")
			if got := f.open(t); slices.Contains(got, "orphan_identity GitLab: svc-ci") {
				t.Fatalf("mapped svc-ci is still an orphan: %v", got)
			}
		})
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	cases := []struct {
		name    string
		kind    inventory.Kind
		csv     string
		wantErr string // file-level error, or "" for row errors
		wantRow []string
	}{
		{name: "unknown column", kind: inventory.Identities, csv: "identity_id,email,shoe_size\nx,,42\n",
			wantErr: `identities.csv:1: unknown column "shoe_size"`},
		{name: "missing column", kind: inventory.Relations, csv: "identity_id\nx\n",
			wantErr: `identities.csv:1: missing column "entitlement_id"`},
		{name: "bad status", kind: inventory.Identities, csv: "identity_id,status\nx,active\ny,locked\n",
			wantRow: []string{`identities.csv:3: status "locked": want active or disabled`}},
		{name: "bad time and email", kind: inventory.Identities, csv: "identity_id,email,last_seen_at\nx,nope,\ny,,yesterday\nx,,\n",
			wantRow: []string{`identities.csv:2: email "nope": not a valid email address`,
				`identities.csv:3: last_seen_at "yesterday": not an RFC 3339 time such as 2025-01-31T17:00:00Z`,
				`identities.csv:4: identity_id "x": already on line 2 (both rows skipped)`}},
		{name: "unknown identity in relation", kind: inventory.Relations, csv: "entitlement_id,identity_id\ndevs,u-alice\ndevs,ghost\nnope,u-alice\n",
			wantRow: []string{`identities.csv:3: identity_id "ghost": application GitLab has no such identity (upload it with import identities first)`,
				`identities.csv:4: entitlement_id "nope": application GitLab has no such entitlement (upload it with import entitlements first)`}},
		{name: "broken quote", kind: inventory.Identities, csv: "identity_id,email\n\"x,a@b.c\n",
			wantErr: `identities.csv:2: malformed CSV`},
	}
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			f := setup(t, driver)
			f.ok(t, inventory.Identities, identitiesCSV)
			f.ok(t, inventory.Entitlements, entitlementsCSV)
			f.ok(t, inventory.Relations, relationsCSV)
			before := dump(t, f)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					res, err := f.im.Import(context.Background(), f.tenant.ID, tc.kind, "GitLab", "identities.csv", strings.NewReader(tc.csv), inventory.Options{Strict: true})
					if tc.wantErr != "" {
						var fe *userimport.FileError
						if !errors.As(err, &fe) || !strings.HasPrefix(err.Error(), tc.wantErr) {
							t.Fatalf("err = %v, want a file error starting %q", err, tc.wantErr)
						}
					} else {
						if !errors.Is(err, inventory.ErrRejected) || res == nil || res.Written {
							t.Fatalf("err = %v, res = %+v; want rejected rows", err, res)
						}
						var got []string
						for _, r := range res.Rejected {
							got = append(got, r.Error())
						}
						if !slices.Equal(got, tc.wantRow) {
							t.Fatalf("rejected:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.wantRow, "\n"))
						}
					}
					if after := dump(t, f); after != before {
						t.Fatalf("store changed:\nbefore %s\nafter  %s", before, after)
					}
				})
			}
			// Without --strict a bad row is skipped and keeps what it names.
			res, err := f.upload(t, inventory.Identities, "identity_id,status\nu-alice,active\nu-bob,locked\n", inventory.Options{})
			must(t, err)
			if res.Kept != 1 || res.Removed != 3 || len(res.Rejected) != 1 {
				t.Fatalf("lenient: kept %d, removed %d, rejected %d", res.Kept, res.Removed, len(res.Rejected))
			}
			ids, err := f.st.ListIdentities(context.Background(), f.tenant.ID, f.app.ID, false)
			must(t, err)
			if len(ids) != 2 {
				t.Fatalf("current identities %d, want u-alice and the kept u-bob", len(ids))
			}
			// A dry run writes nothing.
			before = dump(t, f)
			_, err = f.upload(t, inventory.Identities, "identity_id\nzz\n", inventory.Options{DryRun: true})
			must(t, err)
			if dump(t, f) != before {
				t.Fatal("dry run wrote")
			}
		})
	}
}

// dump is a compact text of the tenant's inventory and findings.
func dump(t *testing.T, f *fixture) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	ids, err := f.st.ListIdentities(ctx, f.tenant.ID, "", true)
	must(t, err)
	for _, i := range ids {
		b.WriteString(i.ExternalID + ":" + string(i.Status) + ":" + i.UpdatedAt.String() + ",")
	}
	ents, err := f.st.ListAppEntitlements(ctx, f.tenant.ID, "", true)
	must(t, err)
	for _, e := range ents {
		b.WriteString(e.ExternalID + ":" + e.UpdatedAt.String() + ",")
	}
	rels, err := f.st.ListRelations(ctx, f.tenant.ID, "", true)
	must(t, err)
	for _, r := range rels {
		b.WriteString(r.IdentityID + r.EntitlementID + ",")
	}
	fs, err := f.st.ListFindings(ctx, f.tenant.ID, accessbot.FindingFilter{})
	must(t, err)
	for _, x := range fs {
		b.WriteString(x.Rule + string(x.Status) + x.LastSeen.String() + ",")
	}
	return b.String()
}
