package conformance

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// testIdentityPages: ListIdentitiesAfter walks the tenant's current
// identities in id order, a page at a time, and nothing else;
// EachRelationBetween and SyncFindingsBetween read and sync by a page's
// range; ResolveFindingsBeyond resolves what such a walk left.
func testIdentityPages(t *testing.T, s store.Store) {
	w, other := newInvWorld(t, s), newInvWorld(t, s)
	tid, t0 := w.tenant.ID, fixedTime()
	app2 := newApp(t, s, tid, "inv-app-2", w.user.ID)
	_, err := s.ReplaceIdentities(ctx(), tid, w.app.ID, []accessbot.Identity{
		identity("a1", "", ""), identity("a2", "", ""), identity("a3", "", ""), identity("gone", "", ""),
	}, accessbot.SnapshotKeep{}, t0)
	ok(t, err, "identities")
	_, err = s.ReplaceIdentities(ctx(), tid, w.app.ID, []accessbot.Identity{
		identity("a1", "", ""), identity("a2", "", ""), identity("a3", "", ""),
	}, accessbot.SnapshotKeep{}, t0) // gone is removed
	ok(t, err, "identities again")
	_, err = s.ReplaceIdentities(ctx(), tid, app2.ID, []accessbot.Identity{identity("b1", "", ""), identity("b2", "", "")}, accessbot.SnapshotKeep{}, t0)
	ok(t, err, "identities of app 2")
	_, err = s.ReplaceIdentities(ctx(), other.tenant.ID, other.app.ID, []accessbot.Identity{identity("x1", "", "")}, accessbot.SnapshotKeep{}, t0)
	ok(t, err, "other tenant's identities")

	cur, err := s.ListIdentities(ctx(), tid, "", false)
	ok(t, err, "list identities")
	var want []string
	for _, i := range cur {
		want = append(want, i.ID)
	}
	slices.Sort(want)
	for _, limit := range []int{1, 2, 5, 100} {
		var got []string
		pages := 0
		for after := ""; ; {
			page, err := s.ListIdentitiesAfter(ctx(), tid, after, limit)
			ok(t, err, "list identities after")
			if len(page) == 0 {
				break
			}
			if len(page) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(page))
			}
			pages++
			for _, i := range page {
				if i.TenantID != tid || i.ExternalID == "" {
					t.Fatalf("limit %d: identity %+v", limit, i)
				}
				got = append(got, i.ID)
			}
			after = page[len(page)-1].ID
		}
		if !slices.Equal(got, want) {
			t.Fatalf("limit %d: walked %v, want the 5 current identities in id order %v", limit, got, want)
		}
		if wantPages := (len(want) + limit - 1) / limit; pages != wantPages {
			t.Fatalf("limit %d: %d pages, want %d", limit, pages, wantPages)
		}
	}
	_, err = s.ListIdentitiesAfter(ctx(), tid, "", 0)
	isErr(t, err, accessbot.ErrInvalid, "limit 0")

	// EachRelationBetween reads a page's relations by its range.
	for _, a := range []string{w.app.ID, app2.ID} {
		_, err = s.ReplaceAppEntitlements(ctx(), tid, a, []accessbot.AppEntitlement{{ExternalID: "e1"}, {ExternalID: "e2"}}, accessbot.SnapshotKeep{}, t0)
		ok(t, err, "entitlements")
	}
	_, err = s.ReplaceRelations(ctx(), tid, w.app.ID, []accessbot.RelationKey{{IdentityExternalID: "a1", EntitlementExternalID: "e1"},
		{IdentityExternalID: "a1", EntitlementExternalID: "e2"}, {IdentityExternalID: "a3", EntitlementExternalID: "e2"}}, accessbot.SnapshotKeep{}, t0)
	ok(t, err, "relations")
	_, err = s.ReplaceRelations(ctx(), tid, app2.ID, []accessbot.RelationKey{{IdentityExternalID: "b2", EntitlementExternalID: "e1"}}, accessbot.SnapshotKeep{}, t0)
	ok(t, err, "relations of app 2")
	var all [][2]string
	ok(t, s.EachRelation(ctx(), tid, nil, func(i, e string) error { all = append(all, [2]string{i, e}); return nil }), "each relation")
	var paged [][2]string
	for after := ""; ; {
		page, err := s.ListIdentitiesAfter(ctx(), tid, after, 2)
		ok(t, err, "list identities after")
		if len(page) == 0 {
			break
		}
		through := page[len(page)-1].ID
		in := map[string]bool{}
		for _, i := range page {
			in[i.ID] = true
		}
		ok(t, s.EachRelationBetween(ctx(), tid, after, through, func(i, e string) error {
			if !in[i] {
				t.Fatalf("relation of %s read for the page %v", i, in)
			}
			paged = append(paged, [2]string{i, e})
			return nil
		}), "each relation between")
		after = through
	}
	var tail int
	ok(t, s.EachRelationBetween(ctx(), tid, "", "", func(string, string) error { tail++; return nil }), "each relation, no bounds")
	cmp := func(a, b [2]string) int { return strings.Compare(a[0]+" "+a[1], b[0]+" "+b[1]) }
	slices.SortFunc(all, cmp)
	slices.SortFunc(paged, cmp)
	if len(all) != 4 || !slices.Equal(all, paged) || tail != 4 {
		t.Fatalf("relations by page %v (no bounds: %d), want %v (4)", paged, tail, all)
	}

	// SyncFindingsBetween syncs the subjects of a range only.
	ks := func(ids ...string) []accessbot.FindingMatch {
		var out []accessbot.FindingMatch
		for _, id := range ids {
			out = append(out, match(accessbot.SeverityHigh, id))
		}
		return out
	}
	_, err = s.SyncFindings(ctx(), tid, "rb", ks("k1", "k2", "k3", "k4", "k5"), t0)
	ok(t, err, "sync rb")
	for _, step := range []struct {
		after, through string
		matches        []string
		want           accessbot.SyncResult
	}{
		{"k1", "k3", []string{"k2"}, accessbot.SyncResult{Seen: 1, Resolved: 1}},                // k3 resolved
		{"k3", "", []string{"k4", "k6"}, accessbot.SyncResult{Opened: 1, Seen: 1, Resolved: 1}}, // k5 resolved
	} {
		res, err := s.SyncFindingsBetween(ctx(), tid, "rb", accessbot.SubjectIdentity, step.after, step.through, ks(step.matches...), t0)
		ok(t, err, "sync between")
		if res != step.want {
			t.Fatalf("sync (%s, %s]: %+v, want %+v", step.after, step.through, res, step.want)
		}
	}
	rb, err := s.ListFindings(ctx(), tid, accessbot.FindingFilter{Rule: "rb"})
	ok(t, err, "list rb")
	for subj, want := range map[string]accessbot.FindingStatus{"k1": accessbot.FindingOpen, "k2": accessbot.FindingOpen, "k3": accessbot.FindingResolved,
		"k4": accessbot.FindingOpen, "k5": accessbot.FindingResolved, "k6": accessbot.FindingOpen} {
		if f := findFinding(t, rb, subj); f.Status != want {
			t.Errorf("rb finding of %s: %s, want %s", subj, f.Status, want)
		}
	}

	// ResolveFindingsBeyond: what a walk through "m5" left.
	employee := accessbot.FindingMatch{Severity: accessbot.SeverityLow, Subject: accessbot.Subject{Kind: accessbot.SubjectEmployee, ID: "a"}}
	_, err = s.SyncFindings(ctx(), tid, "r", []accessbot.FindingMatch{
		match(accessbot.SeverityHigh, "m1"), match(accessbot.SeverityHigh, "m5"), // in the walk: stay
		match(accessbot.SeverityHigh, "n1"), match(accessbot.SeverityHigh, "z"), // beyond: resolved (n1 acknowledged first)
		match(accessbot.SeverityHigh, "x"), employee, // beyond, resolved already: not counted; another kind: resolved
	}, t0)
	ok(t, err, "sync r")
	_, err = s.SyncFindings(ctx(), tid, "other-rule", []accessbot.FindingMatch{match(accessbot.SeverityHigh, "z")}, t0)
	ok(t, err, "sync other-rule")
	_, err = s.SyncFindings(ctx(), other.tenant.ID, "r", []accessbot.FindingMatch{match(accessbot.SeverityHigh, "z")}, t0)
	ok(t, err, "sync other tenant")
	fs, err := s.ListFindings(ctx(), tid, accessbot.FindingFilter{Rule: "r"})
	ok(t, err, "list findings")
	ok(t, s.SetFindingStatus(ctx(), tid, findFinding(t, fs, "n1").ID, []accessbot.FindingStatus{accessbot.FindingOpen}, accessbot.FindingAcknowledged, w.user.ID, t0), "ack")
	ok(t, s.SetFindingStatus(ctx(), tid, findFinding(t, fs, "x").ID, []accessbot.FindingStatus{accessbot.FindingOpen}, accessbot.FindingResolved, w.user.ID, t0), "resolve")

	t1 := t0.Add(time.Hour)
	n, err := s.ResolveFindingsBeyond(ctx(), tid, "r", accessbot.SubjectIdentity, "m5", t1)
	ok(t, err, "resolve findings beyond m5")
	if n != 3 {
		t.Fatalf("resolved %d, want 3 (n1, z, the employee's)", n)
	}
	fs, err = s.ListFindings(ctx(), tid, accessbot.FindingFilter{Rule: "r"})
	ok(t, err, "list findings")
	for _, f := range fs {
		want := accessbot.FindingResolved
		if f.Subject.ID == "m1" || f.Subject.ID == "m5" {
			want = accessbot.FindingOpen
		}
		if f.Status != want {
			t.Errorf("%s finding of %s %s: %s, want %s", f.Rule, f.Subject.Kind, f.Subject.ID, f.Status, want)
		}
		if f.Status == accessbot.FindingResolved && f.Subject.ID != "x" && (f.StatusBy != accessbot.ActorSystem || f.StatusAt == nil || !f.StatusAt.Equal(t1.Truncate(time.Microsecond))) {
			t.Errorf("%s finding of %s: resolved by %q at %v, want the system at %s", f.Rule, f.Subject.ID, f.StatusBy, f.StatusAt, t1)
		}
	}
	for _, c := range []struct {
		tenant, rule string
		want         accessbot.FindingStatus
	}{{tid, "other-rule", accessbot.FindingOpen}, {other.tenant.ID, "r", accessbot.FindingOpen}} {
		fs, err := s.ListFindings(ctx(), c.tenant, accessbot.FindingFilter{Rule: c.rule})
		ok(t, err, "list findings")
		if len(fs) != 1 || fs[0].Status != c.want {
			t.Fatalf("%s findings touched: %+v", c.rule, fs)
		}
	}
	// after "": every finding of the rule.
	n, err = s.ResolveFindingsBeyond(ctx(), tid, "other-rule", accessbot.SubjectIdentity, "", t1)
	ok(t, err, "resolve every finding")
	if n != 1 {
		t.Fatalf("resolved %d of other-rule, want 1", n)
	}
}

// testUsersOf: ListUsersOf finds a page's employees by id or by email,
// case-insensitively, each once, in the tenant only.
func testUsersOf(t *testing.T, s store.Store) {
	ten, other := newTenant(t, s), newTenant(t, s)
	a := newUser(t, s, ten.ID, "ann-"+randHex(3)+"@example.com")
	b := newUser(t, s, ten.ID, "Bea-"+randHex(3)+"@Example.com")
	c := newUser(t, s, ten.ID, "cid-"+randHex(3)+"@example.com")
	x := newUser(t, s, other.ID, a.Email)
	emails := func(us ...*accessbot.User) []string {
		var out []string
		for _, u := range us {
			out = append(out, accessbot.NormalizeEmail(u.Email))
		}
		return out
	}
	for _, tc := range []struct {
		name        string
		ids, emails []string
		want        []string
	}{
		{"by id and email, a named twice", []string{a.ID, "nope"}, append(emails(a, b), "none@example.com"), []string{a.ID, b.ID}},
		{"by id only", []string{c.ID}, nil, []string{c.ID}},
		{"nothing", nil, nil, nil},
		{"another tenant's user, by id", []string{x.ID}, nil, nil},
	} {
		us, err := s.ListUsersOf(ctx(), ten.ID, tc.ids, tc.emails)
		ok(t, err, tc.name)
		var got []string
		for _, u := range us {
			if u.TenantID != ten.ID {
				t.Fatalf("%s: user of tenant %s", tc.name, u.TenantID)
			}
			got = append(got, u.ID)
		}
		slices.Sort(got)
		want := slices.Clone(tc.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: %v, want %v", tc.name, got, want)
		}
	}
}
