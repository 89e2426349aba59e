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

// pagedWorld is a tenant whose full rule runs touch every kind of finding:
// opened, seen, reopened, resolved because the identity was removed,
// acknowledged, and employee rules whose employee's identities fall on
// different pages.
func pagedWorld(t *testing.T, st store.Store, pageSize int) (results [][]findings.RuleResult, open []string) {
	t.Helper()
	ctx := context.Background()
	ten := newTenant(t, st, "acme")
	users := map[string]*accessbot.User{}
	for i, name := range []string{"alice", "bob", "carol", "dave", "erin", "frank"} {
		u := &accessbot.User{TenantID: ten.ID, Email: name + "@acme.com", Name: name, Department: []string{"Sales", "Eng"}[i%2]}
		if name == "dave" {
			u.Status, u.TerminatedAt = accessbot.UserTerminated, &t0
		}
		users[name] = u
		must(t, st.CreateUser(ctx, u))
	}
	var apps []*accessbot.Application
	for _, name := range []string{"AWS", "GitLab"} {
		a := &accessbot.Application{TenantID: ten.ID, Name: name, PrimaryOwnerID: users["alice"].ID}
		must(t, st.CreateApplication(ctx, a))
		apps = append(apps, a)
	}
	old := t0.Add(-200 * 24 * time.Hour)
	identities := func(drop string) {
		for _, a := range apps {
			var ids []accessbot.Identity
			for _, name := range []string{"alice", "bob", "carol", "dave", "erin", "svc"} {
				if a.Name+":"+name == drop {
					continue
				}
				id := accessbot.Identity{ExternalID: name, Email: name + "@acme.com", Status: accessbot.IdentityActive}
				if name == "svc" {
					id.Email = ""
				}
				if name == "carol" {
					id.LastSeenAt = &old
				}
				if name == "erin" && a.Name == "GitLab" {
					id.Status = accessbot.IdentityDisabled
				}
				ids = append(ids, id)
			}
			_, err := st.ReplaceIdentities(ctx, ten.ID, a.ID, ids, accessbot.SnapshotKeep{}, t0)
			must(t, err)
			_, err = st.ReplaceAppEntitlements(ctx, ten.ID, a.ID, []accessbot.AppEntitlement{
				{ExternalID: "root", Name: "Root", Labels: []string{"privileged"}}, {ExternalID: "ro", Name: "ReadOnly"}}, accessbot.SnapshotKeep{}, t0)
			must(t, err)
		}
	}
	relations := func(keys ...string) {
		for _, a := range apps {
			src := &relSource{}
			for _, k := range keys {
				app, rest, _ := strings.Cut(k, ":")
				ident, ent, _ := strings.Cut(rest, "=")
				if app == a.Name {
					src.keys = append(src.keys, [2]string{ident, ent})
				}
			}
			_, err := st.ReplaceRelationsFrom(ctx, ten.ID, a.ID, src, t0)
			must(t, err)
		}
	}
	identities("")
	must(t, st.ReplaceTenantRules(ctx, ten.ID, []accessbot.TenantRule{
		{Name: "sales-privileged", Severity: accessbot.SeverityHigh, Subject: accessbot.SubjectIdentity, Filter: accessbot.Filter{All: []accessbot.Filter{
			{Field: "employee.department", Op: "eq", Value: "sales"},
			{Field: "entitlement.labels", Op: "contains", Value: "privileged"},
		}}},
		{Name: "root-anywhere", Severity: accessbot.SeverityLow, Subject: accessbot.SubjectEmployee, Filter: accessbot.Filter{
			Field: "entitlement.id", Op: "eq", Value: "root"}},
		{Name: "no-accounts", Severity: accessbot.SeverityLow, Subject: accessbot.SubjectEmployee, Filter: accessbot.Filter{
			Field: "employee.department", Op: "eq", Value: "eng"}},
	}))
	relations("AWS:alice=root", "AWS:bob=ro", "GitLab:bob=root", "AWS:carol=root", "GitLab:dave=ro", "AWS:svc=root", "GitLab:erin=root")
	// A finding of a subject that is no identity at all (an old rule's).
	_, err := st.SyncFindings(ctx, ten.ID, findings.RuleOrphan, []accessbot.FindingMatch{{Severity: accessbot.SeverityHigh,
		Subject: accessbot.Subject{Kind: accessbot.SubjectIdentity, ID: "long-gone", Display: "gone"}}}, t0.Add(-time.Hour))
	must(t, err)

	now := t0
	eng := findings.NewEngine(func() time.Time { return now }, zerolog.Nop())
	eng.PageSize = pageSize
	run := func() {
		res, err := eng.RunTx(ctx, st, ten.ID)
		must(t, err)
		results = append(results, res.Rules)
	}
	run()
	// Acknowledge alice's privileged finding, resolve bob's by hand (it
	// reopens), remove carol's AWS identity, move svc off root.
	fs, err := st.ListFindings(ctx, ten.ID, accessbot.FindingFilter{Rule: findings.RulePrivileged})
	must(t, err)
	for _, f := range fs {
		switch f.Subject.Display {
		case "AWS: alice (alice@acme.com)":
			must(t, st.SetFindingStatus(ctx, ten.ID, f.ID, []accessbot.FindingStatus{accessbot.FindingOpen}, accessbot.FindingAcknowledged, users["alice"].ID, t0))
		case "GitLab: bob (bob@acme.com)":
			must(t, st.SetFindingStatus(ctx, ten.ID, f.ID, []accessbot.FindingStatus{accessbot.FindingOpen}, accessbot.FindingResolved, users["alice"].ID, t0))
		}
	}
	now = t0.Add(time.Hour)
	identities("AWS:carol")
	relations("AWS:alice=root", "AWS:bob=ro", "GitLab:bob=root", "GitLab:dave=ro", "AWS:svc=ro", "GitLab:erin=root", "GitLab:carol=root")
	run()

	fs, err = st.ListFindings(ctx, ten.ID, accessbot.FindingFilter{})
	must(t, err)
	for _, f := range fs {
		open = append(open, fmt.Sprintf("%s %s %q %s %s %s by=%s seen=%s", f.Rule, f.Subject.Kind, f.Subject.Display, f.Severity, f.Status, f.Details,
			map[bool]string{true: "user", false: f.StatusBy}[f.StatusBy == users["alice"].ID], f.LastSeen.Sub(t0)))
	}
	slices.Sort(open)
	return results, open
}

// TestFullRunPagedMatchesUnpaged: a full run a page of one, two or three
// identities at a time records exactly the findings, and the same counts,
// as one page holding every identity, on both stores.
func TestFullRunPagedMatchesUnpaged(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			wantRes, want := pagedWorld(t, storetest.Open(t, driver), 1000)
			// Spot checks that the scenario covers what paging could break.
			for _, s := range []string{
				`orphan_identity identity "gone" high resolved`,                                 // no identity: the last pass
				`privileged_entitlement identity "AWS: carol (carol@acme.com)" medium resolved`, // removed
				`privileged_entitlement identity "AWS: alice (alice@acme.com)" medium acknowledged`,
				`privileged_entitlement identity "GitLab: bob (bob@acme.com)" medium open`, // reopened
				`root-anywhere employee "carol <carol@acme.com>" low open {"employee":"carol@acme.com","identities":1}`,
				`no-accounts employee "bob <bob@acme.com>" low open {"employee":"bob@acme.com","identities":2}`,
				`no-accounts employee "frank <frank@acme.com>" low open {"employee":"frank@acme.com","identities":0}`,
				`inactive_identity identity "GitLab: carol (carol@acme.com)" low open`,
				`terminated_employee_active_identity identity "GitLab: dave (dave@acme.com)" critical open`,
			} {
				if !slices.ContainsFunc(want, func(f string) bool { return strings.HasPrefix(f, s) }) {
					t.Errorf("unpaged findings lack %s:\n%s", s, strings.Join(want, "\n"))
				}
			}
			t.Logf("[counts] %s: %d findings after two runs; second run %+v", driver, len(want), wantRes[1])
			for _, size := range []int{1, 2, 3} {
				gotRes, got := pagedWorld(t, storetest.Open(t, driver), size)
				if !slices.Equal(got, want) {
					t.Errorf("page of %d: findings\n%s\nwant (one page)\n%s", size, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
				for i := range wantRes {
					if !slices.Equal(gotRes[i], wantRes[i]) {
						t.Errorf("page of %d, run %d: %+v, want %+v", size, i+1, gotRes[i], wantRes[i])
					}
				}
			}
		})
	}
}
