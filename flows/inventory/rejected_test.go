package inventory_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/flows/inventory"
	"github.com/accessbot/accessbot/store/storetest"
)

// The issue's example: a full snapshot where u-200 (bob, a terminated
// employee) holds a privileged role, then a relations upload whose line 3
// names an unknown identity and whose line 4 has no entitlement.
const (
	issueIdentities = `identity_id,email
u-100,alice@acme.com
u-200,bob@acme.com
u-300,carol@acme.com
`
	issueEntitlements = `entitlement_id,labels
role-read,
role-write,
role-admin,privileged
`
	issueRelations = `identity_id,entitlement_id
u-100,role-read
u-200,role-admin
u-200,role-read
u-300,role-read
u-300,role-write
`
	issueUpload = `identity_id,entitlement_id
u-100,role-read
u-404,role-read
u-200,
`
)

// relations lists "identity entitlement" of the application's current relations.
func (f *fixture) relations(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	ids, err := f.st.ListIdentities(ctx, f.tenant.ID, f.app.ID, true)
	must(t, err)
	ents, err := f.st.ListAppEntitlements(ctx, f.tenant.ID, f.app.ID, true)
	must(t, err)
	name := map[string]string{}
	for _, i := range ids {
		name[i.ID] = i.ExternalID
	}
	for _, e := range ents {
		name[e.ID] = e.ExternalID
	}
	rels, err := f.st.ListRelations(ctx, f.tenant.ID, f.app.ID, false)
	must(t, err)
	var out []string
	for _, r := range rels {
		out = append(out, name[r.IdentityID]+" "+name[r.EntitlementID])
	}
	slices.Sort(out)
	return out
}

func TestRejectedRelationKeepsWhatItNames(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			f := setup(t, driver)
			f.ok(t, inventory.Identities, issueIdentities)
			f.ok(t, inventory.Entitlements, issueEntitlements)
			f.ok(t, inventory.Relations, issueRelations)
			priv := "privileged_entitlement GitLab: u-200 (bob@acme.com)"
			if got := f.open(t); !slices.Contains(got, priv) {
				t.Fatalf("before: open findings %v lack %q", got, priv)
			}

			res, err := f.upload(t, inventory.Relations, issueUpload, inventory.Options{})
			must(t, err)
			t.Log(res.Summary())
			if len(res.Rejected) != 2 {
				t.Fatalf("rejected %d rows, want 2: %v", len(res.Rejected), res.Rejected)
			}
			// u-200's rows stay (line 4 names it), and so do role-read's
			// (line 3 names it, with an identity that may be a typo). Only
			// u-300 → role-write, which no rejected row names, goes.
			want := []string{"u-100 role-read", "u-200 role-admin", "u-200 role-read", "u-300 role-read"}
			if got := f.relations(t); !slices.Equal(got, want) {
				t.Fatalf("relations after upload:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if res.Removed != 1 || res.Kept != 3 || res.Unchanged != 1 {
				t.Errorf("counts: %+v (kept %d), want removed 1, kept 3, unchanged 1", res.SnapshotResult, res.Kept)
			}
			if !strings.Contains(res.Summary(), "removed 1") || !strings.Contains(res.Summary(), "3 stored row(s) kept") {
				t.Errorf("summary %q", res.Summary())
			}
			if got := f.open(t); !slices.Contains(got, priv) {
				t.Fatalf("after: open findings %v lack %q", got, priv)
			}
			if res.Findings == nil || res.Findings.Total().Resolved != 0 {
				t.Fatalf("findings resolved because of rejected rows: %+v", res.Findings)
			}
		})
	}
}

// current lists the external ids of the application's current identities
// and entitlements, and its explicit mappings as "identity→email".
func (f *fixture) current(t *testing.T) (idents, ents, maps []string) {
	t.Helper()
	ctx := context.Background()
	ids, err := f.st.ListIdentities(ctx, f.tenant.ID, f.app.ID, true)
	must(t, err)
	byID := map[string]string{}
	for _, i := range ids {
		if i.RemovedAt == nil {
			idents = append(idents, i.ExternalID+":"+i.Email)
		}
		byID[i.ID] = i.ExternalID
	}
	es, err := f.st.ListAppEntitlements(ctx, f.tenant.ID, f.app.ID, false)
	must(t, err)
	for _, e := range es {
		ents = append(ents, e.ExternalID)
	}
	users, err := f.st.ListUsers(ctx, f.tenant.ID)
	must(t, err)
	email := map[string]string{}
	for _, u := range users {
		email[u.ID] = u.Email
	}
	ms, err := f.st.ListIdentityMappings(ctx, f.tenant.ID)
	must(t, err)
	for _, m := range ms {
		maps = append(maps, byID[m.IdentityID]+"→"+email[m.UserID])
	}
	slices.Sort(idents)
	slices.Sort(ents)
	slices.Sort(maps)
	return idents, ents, maps
}

// Every import kind keeps what its rejected rows name, including rows with
// the wrong number of fields, and everything when a row names nothing.
func TestRejectedRowsKeepWhatTheyName(t *testing.T) {
	allIdents := []string{"u-100:alice@acme.com", "u-200:bob@acme.com", "u-300:carol@acme.com"}
	allEnts := []string{"role-admin", "role-read", "role-write"}
	allRels := strings.Split("u-100 role-read,u-200 role-admin,u-200 role-read,u-300 role-read,u-300 role-write", ",")
	allMaps := []string{"u-300→alice@acme.com"}
	cases := []struct {
		name   string
		kind   inventory.Kind
		csv    string
		idents []string
		ents   []string
		rels   []string
		maps   []string
	}{
		{name: "identity with a bad status", kind: inventory.Identities,
			csv:    "identity_id,email,status\nu-100,alice@acme.com,active\nu-200,bob@acme.com,locked\n",
			idents: allIdents[:2], rels: allRels[:3]},
		{name: "identity on two lines", kind: inventory.Identities,
			csv:    "identity_id,email\nu-100,alice@acme.com\nu-200,mallory@acme.com\nu-200,bob@acme.com\n",
			idents: allIdents[:2], rels: allRels[:3]},
		{name: "identity row with too many fields", kind: inventory.Identities,
			csv:    "identity_id,email\nu-100,alice@acme.com\nu-200,bob@acme.com,extra\n",
			idents: allIdents[:2], rels: allRels[:3]},
		{name: "identity row that names no identity", kind: inventory.Identities,
			csv:    "identity_id,email\nu-100,alice@acme.com\n,bob@acme.com\n",
			idents: allIdents},
		{name: "entitlement row with too few fields", kind: inventory.Entitlements,
			csv:  "entitlement_id,name\nrole-read,Read\nrole-admin\n",
			ents: []string{"role-admin", "role-read"}, rels: allRels[:4]},
		{name: "entitlement row that names none", kind: inventory.Entitlements,
			csv:  "entitlement_id,name\nrole-read,Read\n,Admin\n",
			ents: allEnts},
		{name: "relation row with too few fields", kind: inventory.Relations,
			csv:  "identity_id,entitlement_id\nu-100,role-read\nu-200\n",
			rels: allRels[:3]},
		{name: "relation naming an unknown entitlement", kind: inventory.Relations,
			csv: "identity_id,entitlement_id\nu-100,role-read\nu-200,role-admin\nu-200,role-read\nu-300,role-wirte\n"},
		{name: "mapping to an unknown employee", kind: inventory.Mappings,
			csv: "identity_id,employee_email\nu-300,nobody@acme.com\n"},
		{name: "mapping row with too few fields", kind: inventory.Mappings,
			csv: "identity_id,employee_email\nu-300\n"},
		{name: "mapping row naming an unknown identity and its employee", kind: inventory.Mappings,
			csv: "identity_id,employee_email\nu-3OO,alice@acme.com\n"},
		{name: "mapping on two lines", kind: inventory.Mappings,
			csv: "identity_id,employee_email\nu-300,carol@acme.com\nu-300,alice@acme.com\n"},
	}
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			f := setup(t, driver)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					f.ok(t, inventory.Identities, issueIdentities)
					f.ok(t, inventory.Entitlements, issueEntitlements)
					f.ok(t, inventory.Relations, issueRelations)
					f.ok(t, inventory.Mappings, "identity_id,employee_email\nu-300,alice@acme.com\n")
					before := f.open(t)
					res, err := f.upload(t, tc.kind, tc.csv, inventory.Options{})
					must(t, err)
					t.Log(res.Summary())
					if len(res.Rejected) == 0 || res.Kept == 0 {
						t.Fatalf("want rejected rows that keep stored ones: %s", res.Summary())
					}
					want := func(got, def []string) []string {
						if got == nil {
							return def
						}
						return got
					}
					idents, ents, maps := f.current(t)
					if w := want(tc.idents, allIdents); !slices.Equal(idents, w) {
						t.Errorf("identities %v, want %v", idents, w)
					}
					if w := want(tc.ents, allEnts); !slices.Equal(ents, w) {
						t.Errorf("entitlements %v, want %v", ents, w)
					}
					if w := want(tc.maps, allMaps); !slices.Equal(maps, w) {
						t.Errorf("mappings %v, want %v", maps, w)
					}
					if w := want(tc.rels, allRels); !slices.Equal(f.relations(t), w) {
						t.Errorf("relations %v, want %v", f.relations(t), w)
					}
					if res.Findings == nil || res.Findings.Total().Resolved != 0 {
						t.Errorf("findings resolved: %+v", res.Findings)
					}
					if after := f.open(t); !slices.Equal(after, before) {
						t.Errorf("open findings %v, were %v", after, before)
					}
				})
			}
		})
	}
}

var _ = findings.RulePrivileged
var _ = accessbot.ErrInvalid
