package findings_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

// joinedWorld is a tenant whose findings depend on what a run reads with
// each page of identities: explicit mappings (to an employee other than the
// email's, or to one for an identity without email), labels declared on
// an application and on a connection, and a relation to an entitlement
// removed since. It runs every rule a page of pageSize at a time, then
// re-evaluates every identity as a relations upload would (RunRelations),
// and returns the findings and the scoped run's result.
func joinedWorld(t *testing.T, st store.Store, pageSize int) (open []string, scoped accessbot.SyncResult) {
	t.Helper()
	ctx := context.Background()
	ten := newTenant(t, st, "acme")
	users := map[string]*accessbot.User{}
	for i, name := range []string{"alice", "bob", "dave"} {
		u := &accessbot.User{TenantID: ten.ID, Email: name + "@acme.com", Name: name, Department: []string{"Eng", "Sales"}[i%2]}
		if name == "dave" {
			u.Status, u.TerminatedAt = accessbot.UserTerminated, &t0
		}
		users[name] = u
		must(t, st.CreateUser(ctx, u))
	}
	aws := &accessbot.Application{TenantID: ten.ID, Name: "AWS", PrimaryOwnerID: users["alice"].ID}
	vault := &accessbot.Application{TenantID: ten.ID, Name: "Vault", PrimaryOwnerID: users["alice"].ID, Labels: []string{"privileged"}}
	for _, a := range []*accessbot.Application{aws, vault} {
		must(t, st.CreateApplication(ctx, a))
	}
	must(t, st.CreateConnection(ctx, &accessbot.Connection{TenantID: ten.ID, AppID: aws.ID, Name: "PowerUsers", Type: "group", Labels: []string{"privileged"}}))
	idents := map[string][]accessbot.Identity{
		aws.ID: {{ExternalID: "alice", Email: "alice@acme.com"}, {ExternalID: "svc"}, {ExternalID: "x1", Email: "dave-old@other.com"},
			{ExternalID: "orphan1"}, {ExternalID: "bob", Email: "bob@acme.com"}},
		vault.ID: {{ExternalID: "bob", Email: "bob@acme.com"}, {ExternalID: "ghost", Email: "nobody@acme.com"}},
	}
	ents := map[string][]accessbot.AppEntitlement{
		aws.ID:   {{ExternalID: "pu", Name: "PowerUsers"}, {ExternalID: "ro", Name: "ReadOnly"}, {ExternalID: "old", Name: "Old", Labels: []string{"privileged"}}},
		vault.ID: {{ExternalID: "kv", Name: "KV"}},
	}
	rels := map[string][][2]string{
		aws.ID:   {{"alice", "pu"}, {"svc", "ro"}, {"svc", "old"}, {"x1", "ro"}, {"bob", "ro"}},
		vault.ID: {{"bob", "kv"}, {"ghost", "kv"}},
	}
	for _, a := range []*accessbot.Application{aws, vault} {
		_, err := st.ReplaceIdentities(ctx, ten.ID, a.ID, idents[a.ID], accessbot.SnapshotKeep{}, t0)
		must(t, err)
		_, err = st.ReplaceAppEntitlements(ctx, ten.ID, a.ID, ents[a.ID], accessbot.SnapshotKeep{}, t0)
		must(t, err)
		_, err = st.ReplaceRelationsFrom(ctx, ten.ID, a.ID, &relSource{keys: rels[a.ID]}, t0)
		must(t, err)
	}
	// old leaves; svc's relation to it stays current.
	_, err := st.ReplaceAppEntitlements(ctx, ten.ID, aws.ID, ents[aws.ID][:2], accessbot.SnapshotKeep{}, t0)
	must(t, err)
	all, err := st.ListIdentities(ctx, ten.ID, "", false)
	must(t, err)
	id := map[string]string{}
	var ids []string
	for _, i := range all {
		id[i.AppID+"/"+i.ExternalID] = i.ID
		ids = append(ids, i.ID)
	}
	_, err = st.ReplaceIdentityMappings(ctx, ten.ID, nil, []accessbot.IdentityMapping{
		{IdentityID: id[aws.ID+"/svc"], UserID: users["bob"].ID}, {IdentityID: id[aws.ID+"/x1"], UserID: users["dave"].ID},
		{IdentityID: id[aws.ID+"/bob"], UserID: users["alice"].ID}})
	must(t, err)
	must(t, st.ReplaceTenantRules(ctx, ten.ID, []accessbot.TenantRule{
		{Name: "sales-privileged", Severity: accessbot.SeverityHigh, Subject: accessbot.SubjectIdentity, Filter: accessbot.Filter{All: []accessbot.Filter{
			{Field: "employee.department", Op: "eq", Value: "sales"},
			{Field: "entitlement.labels", Op: "contains", Value: "privileged"},
		}}},
		{Name: "holds-old", Severity: accessbot.SeverityLow, Subject: accessbot.SubjectEmployee, Filter: accessbot.Filter{
			Field: "entitlement.id", Op: "eq", Value: "old"}},
	}))

	eng := findings.NewEngine(func() time.Time { return t0 }, zerolog.Nop())
	eng.PageSize = pageSize
	_, err = eng.RunTx(ctx, st, ten.ID)
	must(t, err)
	must(t, st.InTx(ctx, func(q store.Queries) error {
		res, err := eng.RunRelations(ctx, q, ten.ID, ids)
		if err == nil {
			scoped = res.Total()
		}
		return err
	}))
	fs, err := st.ListFindings(ctx, ten.ID, accessbot.FindingFilter{})
	must(t, err)
	for _, f := range fs {
		open = append(open, fmt.Sprintf("%s %q %s %s %s", f.Rule, f.Subject.Display, f.Severity, f.Status, f.Details))
	}
	slices.Sort(open)
	return open, scoped
}

// TestRunReadsMappingsAndEntitlementsByPage: the entitlements and mappings
// a run reads with each page of identities give the findings that the
// tenant's mappings and declared labels call for, whatever the page size,
// and a scoped run (RunRelations) of every identity agrees with the full
// run: it changes nothing.
func TestRunReadsMappingsAndEntitlementsByPage(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			want, scoped := joinedWorld(t, storetest.Open(t, driver), 1000)
			has := func(s string) bool {
				return slices.ContainsFunc(want, func(f string) bool { return strings.HasPrefix(f, s) })
			}
			for _, s := range []string{
				`privileged_entitlement "AWS: alice (alice@acme.com)"`, // a connection's label
				`privileged_entitlement "Vault: bob (bob@acme.com)"`,   // the application's label
				`privileged_entitlement "Vault: ghost (nobody@acme.com)"`,
				`orphan_identity "AWS: orphan1"`,
				`orphan_identity "Vault: ghost (nobody@acme.com)"`,
				`terminated_employee_active_identity "AWS: x1 (dave-old@other.com)"`, // mapped to dave
				`sales-privileged "Vault: bob (bob@acme.com)"`,
			} {
				if !has(s) {
					t.Errorf("findings lack %s:\n%s", s, strings.Join(want, "\n"))
				}
			}
			for _, s := range []string{
				`privileged_entitlement "AWS: svc"`, // holds only the removed privileged entitlement
				`orphan_identity "AWS: svc"`,        // mapped to bob
				`orphan_identity "AWS: x1`,          // mapped to dave
				`holds-old`,                         // removed
				`sales-privileged "AWS: bob`,        // mapped to alice (eng), and ro is not privileged
			} {
				if has(s) {
					t.Errorf("findings have %s:\n%s", s, strings.Join(want, "\n"))
				}
			}
			if scoped.Opened+scoped.Reopened+scoped.Resolved != 0 || scoped.Seen == 0 {
				t.Errorf("a scoped run of every identity after the full run: %+v, want everything seen again", scoped)
			}
			for _, size := range []int{1, 2, 3} {
				got, scoped := joinedWorld(t, storetest.Open(t, driver), size)
				if !slices.Equal(got, want) {
					t.Errorf("page of %d: findings\n%s\nwant (one page)\n%s", size, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				if scoped.Opened+scoped.Reopened+scoped.Resolved != 0 {
					t.Errorf("page of %d: scoped run after the full run: %+v", size, scoped)
				}
			}
		})
	}
}
