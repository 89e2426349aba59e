package findings_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

// relSource is a relations snapshot that hears what the store changed.
type relSource struct {
	keys [][2]string
	i    int
	ids  []string
	all  bool
}

func (s *relSource) Next() (int, accessbot.RelationKey, error) {
	if s.i == len(s.keys) {
		return 0, accessbot.RelationKey{}, io.EOF
	}
	s.i++
	k := s.keys[s.i-1]
	return s.i, accessbot.RelationKey{IdentityExternalID: k[0], EntitlementExternalID: k[1]}, nil
}
func (s *relSource) Reject(store.RelationReject) error { return nil }
func (s *relSource) Keep() accessbot.SnapshotKeep      { return accessbot.SnapshotKeep{} }
func (s *relSource) Changed(ids []string, all bool)    { s.ids, s.all = ids, all }

// TestRunRelationsMatchesFullRun: after a relations change, re-evaluating
// only the identities whose relations changed leaves the findings exactly
// as a full run would (a full run afterwards changes nothing), and the
// other identities' findings are not touched.
func TestRunRelationsMatchesFullRun(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, driver)
			ten := newTenant(t, st, "acme")
			users := map[string]*accessbot.User{}
			for _, u := range []struct{ name, dept string }{{"alice", "Sales"}, {"bob", "Eng"}, {"carol", "Eng"}} {
				users[u.name] = &accessbot.User{TenantID: ten.ID, Email: u.name + "@acme.com", Name: u.name, Department: u.dept}
				must(t, st.CreateUser(ctx, users[u.name]))
			}
			app := &accessbot.Application{TenantID: ten.ID, Name: "AWS", PrimaryOwnerID: users["alice"].ID}
			must(t, st.CreateApplication(ctx, app))
			_, err := st.ReplaceIdentities(ctx, ten.ID, app.ID, []accessbot.Identity{
				{ExternalID: "a", Email: "alice@acme.com"}, {ExternalID: "b", Email: "bob@acme.com"},
				{ExternalID: "c", Email: "carol@acme.com"}, {ExternalID: "c2", Email: "carol@acme.com"},
				{ExternalID: "b2", Email: "bob@acme.com"}, {ExternalID: "orphan"},
			}, accessbot.SnapshotKeep{}, t0)
			must(t, err)
			_, err = st.ReplaceAppEntitlements(ctx, ten.ID, app.ID, []accessbot.AppEntitlement{
				{ExternalID: "root", Name: "Root", Labels: []string{"privileged"}}, {ExternalID: "ro", Name: "ReadOnly"},
				{ExternalID: "admin", Name: "Admin", Labels: []string{"privileged"}}}, accessbot.SnapshotKeep{}, t0)
			must(t, err)
			must(t, st.ReplaceTenantRules(ctx, ten.ID, []accessbot.TenantRule{
				{Name: "sales-privileged", Severity: accessbot.SeverityHigh, Subject: accessbot.SubjectIdentity, Filter: accessbot.Filter{All: []accessbot.Filter{
					{Field: "employee.department", Op: "eq", Value: "sales"},
					{Field: "entitlement.labels", Op: "contains", Value: "privileged"},
				}}},
				{Name: "admins", Severity: accessbot.SeverityLow, Subject: accessbot.SubjectEmployee, Filter: accessbot.Filter{
					Field: "entitlement.id", Op: "eq", Value: "admin"}},
			}))
			now := t0
			eng := findings.NewEngine(func() time.Time { return now }, zerolog.Nop())
			replace := func(keys ...[2]string) *relSource {
				src := &relSource{keys: keys}
				_, err := st.ReplaceRelationsFrom(ctx, ten.ID, app.ID, src, now)
				must(t, err)
				return src
			}
			replace([2]string{"a", "root"}, [2]string{"b", "ro"}, [2]string{"b2", "admin"}, [2]string{"c", "admin"}, [2]string{"c2", "admin"}, [2]string{"orphan", "root"})
			_, err = eng.RunTx(ctx, st, ten.ID)
			must(t, err)

			// a loses root; b gains admin (bob holds it through b2 as
			// well); c loses admin, which carol still holds through c2, an
			// identity out of scope; c2 and the orphan are unchanged.
			now = t0.Add(time.Hour)
			after := [][2]string{{"a", "ro"}, {"b", "ro"}, {"b", "admin"}, {"b2", "admin"}, {"c", "ro"}, {"c2", "admin"}, {"orphan", "root"}}
			src := replace(after...)
			if src.all || len(src.ids) != 3 {
				t.Fatalf("changed identities: %v (all %v), want a, b and c", src.ids, src.all)
			}
			var scoped *findings.RunResult
			must(t, st.InTx(ctx, func(q store.Queries) error {
				scoped, err = eng.RunRelations(ctx, q, ten.ID, src.ids)
				return err
			}))
			got := map[string]accessbot.SyncResult{}
			for _, r := range scoped.Rules {
				got[r.Rule] = r.SyncResult
			}
			want := map[string]accessbot.SyncResult{
				findings.RulePrivileged: {Opened: 1, Resolved: 2}, // b opened, a and c resolved
				"sales-privileged":      {Resolved: 1},            // a
				"admins":                {Seen: 2},                // bob (b, b2) and carol (c2, out of scope)
			}
			for rule, w := range want {
				if got[rule] != w {
					t.Errorf("scoped run, rule %s: %+v, want %+v", rule, got[rule], w)
				}
			}
			if len(scoped.Rules) != len(want) {
				t.Errorf("scoped run ran %d rules, want %d (relation rules only): %+v", len(scoped.Rules), len(want), scoped.Rules)
			}
			fs, err := st.ListFindings(ctx, ten.ID, accessbot.FindingFilter{})
			must(t, err)
			for _, f := range fs {
				if f.Subject.Display == "AWS: c2 (carol@acme.com)" || f.Subject.Display == "AWS: orphan" {
					if !f.LastSeen.Equal(t0) {
						t.Errorf("%s of %s touched by a run scoped to a and b: last seen %s", f.Rule, f.Subject.Display, f.LastSeen)
					}
				}
			}

			// A full run now finds the same.
			full, err := eng.RunTx(ctx, st, ten.ID)
			must(t, err)
			if tot := full.Total(); tot.Opened+tot.Reopened+tot.Resolved != 0 {
				t.Fatalf("full run after the scoped one changed findings: %+v", full.Rules)
			}
			// Nothing changed: nothing listed, nothing run.
			src = replace(after...)
			if src.all || len(src.ids) != 0 {
				t.Fatalf("unchanged upload: changed %v (all %v)", src.ids, src.all)
			}
		})
	}
}
