package conformance

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// invWorld is a tenant with one application and a small inventory.
type invWorld struct {
	tenant *accessbot.Tenant
	user   *accessbot.User
	app    *accessbot.Application
}

func newInvWorld(t *testing.T, s store.Store) *invWorld {
	t.Helper()
	w := &invWorld{tenant: newTenant(t, s)}
	w.user = newUser(t, s, w.tenant.ID, "owner-"+randHex(3)+"@example.com")
	w.app = newApp(t, s, w.tenant.ID, "inv-app", w.user.ID)
	return w
}

func identity(ext, email string, status accessbot.IdentityStatus) accessbot.Identity {
	return accessbot.Identity{ExternalID: ext, Email: email, DisplayName: "Name " + ext, Status: status}
}

func extIDs[T any](rows []T, ext func(T) string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = ext(r)
	}
	slices.Sort(out)
	return out
}

func identExt(i accessbot.Identity) string     { return i.ExternalID }
func entExt(e accessbot.AppEntitlement) string { return e.ExternalID }

func testInventory(t *testing.T, s store.Store) {
	w := newInvWorld(t, s)
	tid, aid := w.tenant.ID, w.app.ID
	t0 := fixedTime()
	seen := t0.Add(-48 * time.Hour)

	res, err := s.ReplaceIdentities(ctx(), tid, aid, []accessbot.Identity{
		identity("u1", "A@example.com", accessbot.IdentityActive),
		{ExternalID: "u2", Email: "b@example.com", Status: accessbot.IdentityDisabled, LastSeenAt: &seen},
		identity("u3", "", ""),
	}, accessbot.SnapshotKeep{}, t0)
	ok(t, err, "replace identities")
	if res != (accessbot.SnapshotResult{Created: 3}) {
		t.Fatalf("first upload: %+v", res)
	}
	ids, err := s.ListIdentities(ctx(), tid, aid, false)
	ok(t, err, "list identities")
	if got := extIDs(ids, identExt); !slices.Equal(got, []string{"u1", "u2", "u3"}) {
		t.Fatalf("identities %v", got)
	}
	for _, i := range ids {
		if i.ExternalID == "u2" && (i.LastSeenAt == nil || !i.LastSeenAt.Equal(seen.Truncate(time.Microsecond)) || i.Status != accessbot.IdentityDisabled) {
			t.Fatalf("u2 = %+v", i)
		}
		if i.ExternalID == "u3" && i.Status != accessbot.IdentityActive {
			t.Fatalf("empty status should default to active: %+v", i)
		}
		if !i.CreatedAt.Equal(t0.UTC().Truncate(time.Microsecond)) {
			t.Fatalf("created at %v, want %v", i.CreatedAt, t0)
		}
	}

	_, err = s.ReplaceAppEntitlements(ctx(), tid, aid, []accessbot.AppEntitlement{
		{ExternalID: "admins", Name: "Admins", Type: "group", Labels: []string{" Privileged ", "ops", "ops"}},
		{ExternalID: "devs", Name: "Devs", Type: "group"},
	}, accessbot.SnapshotKeep{}, t0)
	ok(t, err, "replace entitlements")
	ents, err := s.ListAppEntitlements(ctx(), tid, aid, false)
	ok(t, err, "list entitlements")
	if len(ents) != 2 || !slices.Equal(ents[0].Labels, []string{"ops", "privileged"}) || !ents[0].HasLabel(accessbot.LabelPrivileged) {
		t.Fatalf("entitlements %+v", ents)
	}

	_, err = s.ReplaceRelations(ctx(), tid, aid, []accessbot.RelationKey{rel("u1", "admins"), rel("u1", "devs"), rel("u2", "devs")}, accessbot.SnapshotKeep{}, t0)
	ok(t, err, "replace relations")
	_, err = s.ReplaceRelations(ctx(), tid, aid, []accessbot.RelationKey{rel("u1", "admins"), rel("nobody", "devs")}, accessbot.SnapshotKeep{}, t0)
	isErr(t, err, accessbot.ErrNotFound, "relation to unknown identity")
	_, err = s.ReplaceRelations(ctx(), tid, aid, []accessbot.RelationKey{rel("u1", "nothing")}, accessbot.SnapshotKeep{}, t0)
	isErr(t, err, accessbot.ErrNotFound, "relation to unknown entitlement")
	_, err = s.ReplaceRelations(ctx(), tid, aid, []accessbot.RelationKey{rel("u1", "devs"), rel("u1", "devs")}, accessbot.SnapshotKeep{}, t0)
	isErr(t, err, accessbot.ErrInvalid, "repeated relation")
	rels, err := s.ListRelations(ctx(), tid, aid, false)
	ok(t, err, "list relations")
	if len(rels) != 3 {
		t.Fatalf("failed replacements changed relations: %d", len(rels))
	}

	// Re-upload: u3 leaves, u1 changes, u2 stays, u4 arrives.
	t1 := t0.Add(time.Hour)
	res, err = s.ReplaceIdentities(ctx(), tid, aid, []accessbot.Identity{
		identity("u1", "a@example.com", accessbot.IdentityDisabled),
		{ExternalID: "u2", Email: "b@example.com", DisplayName: "", Status: accessbot.IdentityDisabled, LastSeenAt: &seen},
		identity("u4", "d@example.com", accessbot.IdentityActive),
	}, accessbot.SnapshotKeep{}, t1)
	ok(t, err, "re-upload identities")
	if res != (accessbot.SnapshotResult{Created: 1, Updated: 1, Removed: 1, Unchanged: 1}) {
		t.Fatalf("re-upload: %+v", res)
	}
	all, err := s.ListIdentities(ctx(), tid, aid, true)
	ok(t, err, "list all identities")
	for _, i := range all {
		if (i.ExternalID == "u3") != (i.RemovedAt != nil) {
			t.Fatalf("removed_at of %s = %v", i.ExternalID, i.RemovedAt)
		}
		if i.ExternalID == "u3" && !i.RemovedAt.Equal(t1.UTC().Truncate(time.Microsecond)) {
			t.Fatalf("removed at %v, want %v", i.RemovedAt, t1)
		}
	}
	// Removing entitlement "admins" hides u1's relation to it, without touching the relation.
	_, err = s.ReplaceAppEntitlements(ctx(), tid, aid, []accessbot.AppEntitlement{{ExternalID: "devs", Name: "Devs", Type: "group"}}, accessbot.SnapshotKeep{}, t1)
	ok(t, err, "re-upload entitlements")
	rels, err = s.ListRelations(ctx(), tid, aid, false)
	ok(t, err, "list relations")
	if len(rels) != 2 {
		t.Fatalf("relations of a removed entitlement are still current: %+v", rels)
	}
	// Coming back restores it.
	res, err = s.ReplaceIdentities(ctx(), tid, aid, []accessbot.Identity{
		identity("u1", "a@example.com", accessbot.IdentityDisabled),
		{ExternalID: "u2", Email: "b@example.com", DisplayName: "", Status: accessbot.IdentityDisabled, LastSeenAt: &seen},
		identity("u3", "", ""), identity("u4", "d@example.com", accessbot.IdentityActive),
	}, accessbot.SnapshotKeep{}, t1)
	ok(t, err, "restore identity")
	if res.Restored != 1 || res.Removed != 0 {
		t.Fatalf("restore: %+v", res)
	}
	res, err = s.ReplaceRelations(ctx(), tid, aid, []accessbot.RelationKey{rel("u2", "devs"), rel("u4", "devs")}, accessbot.SnapshotKeep{}, t1)
	ok(t, err, "re-upload relations")
	if res != (accessbot.SnapshotResult{Created: 1, Removed: 2, Unchanged: 1}) {
		t.Fatalf("relations re-upload: %+v", res)
	}
	res, err = s.ReplaceRelations(ctx(), tid, aid, []accessbot.RelationKey{rel("u2", "devs"), rel("u4", "devs"), rel("u1", "devs")}, accessbot.SnapshotKeep{}, t1)
	ok(t, err, "restore relation")
	if res != (accessbot.SnapshotResult{Restored: 1, Unchanged: 2}) {
		t.Fatalf("relation restore: %+v", res)
	}

	// Mappings.
	u1 := findIdent(t, all, "u1")
	_, err = s.ReplaceIdentityMappings(ctx(), tid, nil, []accessbot.IdentityMapping{{IdentityID: u1.ID, UserID: w.user.ID}})
	ok(t, err, "map")
	_, err = s.ReplaceIdentityMappings(ctx(), tid, nil, []accessbot.IdentityMapping{{IdentityID: u1.ID, UserID: "no-such-user"}})
	isErr(t, err, accessbot.ErrNotFound, "map to unknown user")
	ms, err := s.ListIdentityMappings(ctx(), tid)
	ok(t, err, "list mappings")
	if len(ms) != 1 || ms[0].UserID != w.user.ID {
		t.Fatalf("mappings %+v", ms)
	}
	res, err = s.ReplaceIdentityMappings(ctx(), tid, []string{aid}, nil)
	ok(t, err, "clear mappings")
	if res.Removed != 1 {
		t.Fatalf("clear mappings: %+v", res)
	}

	// Atomic: a repeated id changes nothing.
	_, err = s.ReplaceIdentities(ctx(), tid, aid, []accessbot.Identity{identity("x", "", ""), identity("x", "", "")}, accessbot.SnapshotKeep{}, t1)
	isErr(t, err, accessbot.ErrInvalid, "repeated identity")
	again, err := s.ListIdentities(ctx(), tid, aid, true)
	ok(t, err, "list after failed replace")
	if len(again) != 4 {
		t.Fatalf("failed replace wrote rows: %d", len(again))
	}

	// Inside a transaction that rolls back, nothing stays.
	_ = s.InTx(ctx(), func(q store.Queries) error {
		_, err := q.ReplaceIdentities(ctx(), tid, aid, nil, accessbot.SnapshotKeep{}, t1)
		ok(t, err, "replace in tx")
		return accessbot.ErrInvalid
	})
	cur, err := s.ListIdentities(ctx(), tid, aid, false)
	ok(t, err, "list after rollback")
	if len(cur) != 4 {
		t.Fatalf("rolled back replace left %d current identities", len(cur))
	}
}

func findIdent(t *testing.T, ids []accessbot.Identity, ext string) accessbot.Identity {
	t.Helper()
	for _, i := range ids {
		if i.ExternalID == ext {
			return i
		}
	}
	t.Fatalf("no identity %s", ext)
	return accessbot.Identity{}
}

func match(sev accessbot.Severity, id string) accessbot.FindingMatch {
	return accessbot.FindingMatch{Severity: sev, Subject: accessbot.Subject{Kind: accessbot.SubjectIdentity, ID: id, Display: "D " + id}}
}

func testFindings(t *testing.T, s store.Store) {
	w := newInvWorld(t, s)
	tid := w.tenant.ID
	t0 := fixedTime()
	t1, t2, t3 := t0.Add(time.Hour), t0.Add(2*time.Hour), t0.Add(3*time.Hour)

	res, err := s.SyncFindings(ctx(), tid, "r1", []accessbot.FindingMatch{match(accessbot.SeverityHigh, "a"), match(accessbot.SeverityHigh, "b")}, t0)
	ok(t, err, "sync 1")
	if res != (accessbot.SyncResult{Opened: 2}) {
		t.Fatalf("sync 1: %+v", res)
	}
	// Rerun with the same matches: de-duplicated.
	res, err = s.SyncFindings(ctx(), tid, "r1", []accessbot.FindingMatch{match(accessbot.SeverityHigh, "a"), match(accessbot.SeverityHigh, "b")}, t1)
	ok(t, err, "sync 2")
	if res != (accessbot.SyncResult{Seen: 2}) {
		t.Fatalf("sync 2: %+v", res)
	}
	all, err := s.ListFindings(ctx(), tid, accessbot.FindingFilter{})
	ok(t, err, "list")
	if len(all) != 2 || !all[0].LastSeen.Equal(t1.UTC().Truncate(time.Microsecond)) || !all[0].FirstSeen.Equal(t0.UTC().Truncate(time.Microsecond)) {
		t.Fatalf("after rerun: %+v", all)
	}
	// b stops matching: resolved by system. a is acknowledged by a user.
	a := findFinding(t, all, "a")
	ok(t, s.SetFindingStatus(ctx(), tid, a.ID, []accessbot.FindingStatus{accessbot.FindingOpen}, accessbot.FindingAcknowledged, w.user.ID, t1), "ack")
	err = s.SetFindingStatus(ctx(), tid, a.ID, []accessbot.FindingStatus{accessbot.FindingOpen}, accessbot.FindingAcknowledged, w.user.ID, t1)
	isErr(t, err, accessbot.ErrStale, "second ack")
	err = s.SetFindingStatus(ctx(), tid, "nope", []accessbot.FindingStatus{accessbot.FindingOpen}, accessbot.FindingAcknowledged, w.user.ID, t1)
	isErr(t, err, accessbot.ErrNotFound, "ack unknown")
	res, err = s.SyncFindings(ctx(), tid, "r1", []accessbot.FindingMatch{match(accessbot.SeverityHigh, "a")}, t2)
	ok(t, err, "sync 3")
	if res != (accessbot.SyncResult{Seen: 1, Resolved: 1}) {
		t.Fatalf("sync 3: %+v", res)
	}
	b, err := s.ListFindings(ctx(), tid, accessbot.FindingFilter{Statuses: []accessbot.FindingStatus{accessbot.FindingResolved}})
	ok(t, err, "list resolved")
	if len(b) != 1 || b[0].Subject.ID != "b" || b[0].StatusBy != accessbot.ActorSystem || b[0].StatusAt == nil {
		t.Fatalf("resolved: %+v", b)
	}
	got, err := s.GetFinding(ctx(), tid, a.ID)
	ok(t, err, "get a")
	if got.Status != accessbot.FindingAcknowledged || got.StatusBy != w.user.ID {
		t.Fatalf("acknowledged finding changed by a rerun: %+v", got)
	}
	// b matches again: reopened, and new since t2.
	details := json.RawMessage(`{"why":"again"}`)
	m := match(accessbot.SeverityCritical, "b")
	m.Details = details
	res, err = s.SyncFindings(ctx(), tid, "r1", []accessbot.FindingMatch{match(accessbot.SeverityHigh, "a"), m}, t3)
	ok(t, err, "sync 4")
	if res != (accessbot.SyncResult{Seen: 1, Reopened: 1}) {
		t.Fatalf("sync 4: %+v", res)
	}
	fresh, err := s.NewFindings(ctx(), tid, t2, t3, 10)
	ok(t, err, "new since")
	if len(fresh.Items) != 1 || fresh.Items[0].Subject.ID != "b" || fresh.Items[0].Severity != accessbot.SeverityCritical ||
		string(fresh.Items[0].Details) != string(details) || !reflect.DeepEqual(fresh.Counts, map[accessbot.Severity]int{accessbot.SeverityCritical: 1}) {
		t.Fatalf("new since: %+v", fresh)
	}
	// Opened at t3: not in a window ending before it; counted beyond the limit.
	if fresh, err = s.NewFindings(ctx(), tid, t2, t3.Add(-time.Microsecond), 10); err != nil || len(fresh.Items)+len(fresh.Counts) != 0 {
		t.Fatalf("new in (t2, t3): %+v, %v", fresh, err)
	}
	if fresh, err = s.NewFindings(ctx(), tid, t2, t3, 0); err != nil || len(fresh.Items) != 0 || fresh.Counts[accessbot.SeverityCritical] != 1 {
		t.Fatalf("new since, none listed: %+v, %v", fresh, err)
	}
	// Filters.
	crit, err := s.ListFindings(ctx(), tid, accessbot.FindingFilter{Severities: []accessbot.Severity{accessbot.SeverityCritical}})
	ok(t, err, "list critical")
	if len(crit) != 1 {
		t.Fatalf("critical: %+v", crit)
	}
	since, err := s.ListFindings(ctx(), tid, accessbot.FindingFilter{Since: t3})
	ok(t, err, "list since")
	if len(since) != 2 {
		t.Fatalf("since: %d", len(since))
	}
	// Bad input changes nothing.
	_, err = s.SyncFindings(ctx(), tid, "r1", []accessbot.FindingMatch{match("urgent", "z")}, t3)
	isErr(t, err, accessbot.ErrInvalid, "unknown severity")
	_, err = s.SyncFindings(ctx(), tid, "r1", []accessbot.FindingMatch{match(accessbot.SeverityLow, "z"), match(accessbot.SeverityLow, "z")}, t3)
	isErr(t, err, accessbot.ErrInvalid, "repeated subject")
	after, err := s.ListFindings(ctx(), tid, accessbot.FindingFilter{})
	ok(t, err, "list after bad sync")
	if len(after) != 2 {
		t.Fatalf("bad sync wrote: %d findings", len(after))
	}
	// Reported (external) findings never resolve others.
	res, err = s.ReportFindings(ctx(), tid, "r1", []accessbot.FindingMatch{match(accessbot.SeverityLow, "c")}, t3)
	ok(t, err, "report")
	if res != (accessbot.SyncResult{Opened: 1}) {
		t.Fatalf("report: %+v", res)
	}
	// The list is most severe first, then newest; a limit cuts across
	// severities; the count ignores the limit.
	res, err = s.ReportFindings(ctx(), tid, "r2", []accessbot.FindingMatch{match(accessbot.SeverityLow, "d"), match(accessbot.SeverityHigh, "e")}, t3.Add(time.Hour))
	ok(t, err, "report r2")
	order, err := s.ListFindings(ctx(), tid, accessbot.FindingFilter{})
	ok(t, err, "list in order")
	var subjects []string
	for _, f := range order {
		subjects = append(subjects, f.Subject.ID)
	}
	if strings.Join(subjects, ",") != "b,e,a,d,c" {
		t.Fatalf("list order: %v, want b (critical), e, a (high, newest first), d, c (low, newest first)", subjects)
	}
	for _, tt := range []struct {
		f     accessbot.FindingFilter
		want  string
		count int
	}{
		{accessbot.FindingFilter{Limit: 3}, "b,e,a", 5},
		{accessbot.FindingFilter{Limit: 2, Severities: []accessbot.Severity{accessbot.SeverityLow, accessbot.SeverityHigh}}, "e,a", 4},
		{accessbot.FindingFilter{Limit: 10, Statuses: []accessbot.FindingStatus{accessbot.FindingOpen}}, "b,e,d,c", 4},
		{accessbot.FindingFilter{Rule: "r2"}, "e,d", 2},
	} {
		got, err := s.ListFindings(ctx(), tid, tt.f)
		ok(t, err, "list limited")
		subjects = subjects[:0]
		for _, f := range got {
			subjects = append(subjects, f.Subject.ID)
		}
		n, err := s.CountFindings(ctx(), tid, tt.f)
		ok(t, err, "count")
		if strings.Join(subjects, ",") != tt.want || n != tt.count {
			t.Fatalf("%+v: list %v, count %d; want %s, %d", tt.f, subjects, n, tt.want, tt.count)
		}
	}

	// Tenant rules and the token.
	rules := []accessbot.TenantRule{{Name: "admins-disabled", Severity: accessbot.SeverityHigh, Subject: accessbot.SubjectIdentity,
		Filter: accessbot.Filter{All: []accessbot.Filter{{Field: "identity.status", Op: "eq", Value: "disabled"}}}}}
	ok(t, s.ReplaceTenantRules(ctx(), tid, rules), "replace rules")
	got2, err := s.ListTenantRules(ctx(), tid)
	ok(t, err, "list rules")
	if len(got2) != 1 || got2[0].Filter.All[0].Value != "disabled" {
		t.Fatalf("rules: %+v", got2)
	}
	_, err = s.FindingsTokenHash(ctx(), tid)
	isErr(t, err, accessbot.ErrNotFound, "no token yet")
	ok(t, s.PutFindingsToken(ctx(), tid, []byte{1, 2}, t0), "put token")
	ok(t, s.PutFindingsToken(ctx(), tid, []byte{3, 4}, t1), "rotate token")
	h, err := s.FindingsTokenHash(ctx(), tid)
	ok(t, err, "token")
	if string(h) != string([]byte{3, 4}) {
		t.Fatalf("token hash %v", h)
	}
}

func findFinding(t *testing.T, fs []accessbot.Finding, subject string) accessbot.Finding {
	t.Helper()
	for _, f := range fs {
		if f.Subject.ID == subject {
			return f
		}
	}
	t.Fatalf("no finding for %s", subject)
	return accessbot.Finding{}
}

// testInventoryIsolation checks no inventory or findings method sees or
// touches another tenant's rows, even with the other tenant's ids.
func testInventoryIsolation(t *testing.T, s store.Store) {
	a, b := newInvWorld(t, s), newInvWorld(t, s)
	t0 := fixedTime()
	for _, w := range []*invWorld{a, b} {
		_, err := s.ReplaceIdentities(ctx(), w.tenant.ID, w.app.ID, []accessbot.Identity{identity("same", "x@example.com", "")}, accessbot.SnapshotKeep{}, t0)
		ok(t, err, "identities")
		_, err = s.ReplaceAppEntitlements(ctx(), w.tenant.ID, w.app.ID, []accessbot.AppEntitlement{{ExternalID: "same"}}, accessbot.SnapshotKeep{}, t0)
		ok(t, err, "entitlements")
		_, err = s.ReplaceRelations(ctx(), w.tenant.ID, w.app.ID, []accessbot.RelationKey{rel("same", "same")}, accessbot.SnapshotKeep{}, t0)
		ok(t, err, "relations")
		_, err = s.SyncFindings(ctx(), w.tenant.ID, "r", []accessbot.FindingMatch{match(accessbot.SeverityLow, "same")}, t0)
		ok(t, err, "findings")
		ok(t, s.PutFindingsToken(ctx(), w.tenant.ID, []byte(w.tenant.ID), t0), "token")
	}
	// GetIdentity finds a tenant's own identity, removed or not, and never another tenant's.
	aIDs, err := s.ListIdentities(ctx(), a.tenant.ID, a.app.ID, false)
	ok(t, err, "list a identities")
	got, err := s.GetIdentity(ctx(), a.tenant.ID, aIDs[0].ID)
	ok(t, err, "get identity")
	if got.ID != aIDs[0].ID || got.TenantID != a.tenant.ID || got.AppID != a.app.ID || got.ExternalID != "same" || got.Email != "x@example.com" {
		t.Fatalf("get identity: %+v", got)
	}
	_, err = s.GetIdentity(ctx(), b.tenant.ID, aIDs[0].ID)
	isErr(t, err, accessbot.ErrNotFound, "get another tenant's identity")
	_, err = s.GetIdentity(ctx(), a.tenant.ID, "no-such-identity")
	isErr(t, err, accessbot.ErrNotFound, "get unknown identity")
	// Tenant a's application id used with tenant b: nothing there.
	ids, err := s.ListIdentities(ctx(), b.tenant.ID, a.app.ID, true)
	ok(t, err, "list cross")
	if len(ids) != 0 {
		t.Fatalf("tenant b sees tenant a's identities")
	}
	_, err = s.ReplaceIdentities(ctx(), b.tenant.ID, a.app.ID, []accessbot.Identity{identity("evil", "", "")}, accessbot.SnapshotKeep{}, t0)
	isErr(t, err, accessbot.ErrNotFound, "write into another tenant's application")
	// Emptying tenant b's snapshot leaves tenant a's alone.
	_, err = s.ReplaceIdentities(ctx(), b.tenant.ID, b.app.ID, nil, accessbot.SnapshotKeep{}, t0)
	ok(t, err, "empty b")
	bIDs, err := s.ListIdentities(ctx(), b.tenant.ID, b.app.ID, true)
	ok(t, err, "list b identities")
	if removed, err := s.GetIdentity(ctx(), b.tenant.ID, bIDs[0].ID); err != nil || removed.RemovedAt == nil {
		t.Fatalf("get removed identity: %+v, %v", removed, err)
	}
	_, err = s.SyncFindings(ctx(), b.tenant.ID, "r", nil, t0)
	ok(t, err, "resolve b")
	ai, err := s.ListIdentities(ctx(), a.tenant.ID, "", false)
	ok(t, err, "list a")
	af, err := s.ListFindings(ctx(), a.tenant.ID, accessbot.FindingFilter{Statuses: []accessbot.FindingStatus{accessbot.FindingOpen}})
	ok(t, err, "findings a")
	ar, err := s.ListRelations(ctx(), a.tenant.ID, "", false)
	ok(t, err, "relations a")
	if len(ai) != 1 || len(af) != 1 || len(ar) != 1 {
		t.Fatalf("tenant a changed by tenant b: %d identities, %d open findings, %d relations", len(ai), len(af), len(ar))
	}
	err = s.SetFindingStatus(ctx(), b.tenant.ID, af[0].ID, []accessbot.FindingStatus{accessbot.FindingOpen}, accessbot.FindingResolved, "x", t0)
	isErr(t, err, accessbot.ErrNotFound, "resolve another tenant's finding")
	_, err = s.GetFinding(ctx(), b.tenant.ID, af[0].ID)
	isErr(t, err, accessbot.ErrNotFound, "get another tenant's finding")
	h, err := s.FindingsTokenHash(ctx(), a.tenant.ID)
	ok(t, err, "token a")
	if string(h) != a.tenant.ID {
		t.Fatalf("token of a is %q", h)
	}
}

func rel(ident, ent string) accessbot.RelationKey {
	return accessbot.RelationKey{IdentityExternalID: ident, EntitlementExternalID: ent}
}

// testInventoryKeep: a snapshot leaves out rows that SnapshotKeep names
// (what an import's rejected rows name) as they are, and counts them Kept.
func testInventoryKeep(t *testing.T, s store.Store) {
	w := newInvWorld(t, s)
	tid, aid := w.tenant.ID, w.app.ID
	t0 := fixedTime()
	none := accessbot.SnapshotKeep{}
	_, err := s.ReplaceIdentities(ctx(), tid, aid, []accessbot.Identity{identity("u1", "", ""), identity("u2", "", ""), identity("u3", "", "")}, none, t0)
	ok(t, err, "identities")
	_, err = s.ReplaceAppEntitlements(ctx(), tid, aid, []accessbot.AppEntitlement{{ExternalID: "admins"}, {ExternalID: "devs"}, {ExternalID: "ops"}}, none, t0)
	ok(t, err, "entitlements")
	all := []accessbot.RelationKey{rel("u1", "devs"), rel("u2", "admins"), rel("u2", "devs"), rel("u3", "devs"), rel("u3", "ops")}
	_, err = s.ReplaceRelations(ctx(), tid, aid, all, none, t0)
	ok(t, err, "relations")
	curRels := func() []string {
		ids, err := s.ListIdentities(ctx(), tid, aid, true)
		ok(t, err, "list identities")
		es, err := s.ListAppEntitlements(ctx(), tid, aid, true)
		ok(t, err, "list entitlements")
		name := map[string]string{}
		for _, i := range ids {
			name[i.ID] = i.ExternalID
		}
		for _, e := range es {
			name[e.ID] = e.ExternalID
		}
		rs, err := s.ListRelations(ctx(), tid, aid, false)
		ok(t, err, "list relations")
		var out []string
		for _, r := range rs {
			out = append(out, name[r.IdentityID]+"→"+name[r.EntitlementID])
		}
		slices.Sort(out)
		return out
	}
	t1 := t0.Add(time.Hour)

	// Relations: keep u2's and every grant of ops; u1→devs is in the
	// snapshot; only u3→devs goes.
	res, err := s.ReplaceRelations(ctx(), tid, aid, []accessbot.RelationKey{rel("u1", "devs")},
		accessbot.SnapshotKeep{Identities: []string{"u2", "nobody"}, Entitlements: []string{"ops"}}, t1)
	ok(t, err, "relations with keep")
	if want := (accessbot.SnapshotResult{Unchanged: 1, Removed: 1, Kept: 3}); res != want {
		t.Fatalf("relations with keep: %+v, want %+v", res, want)
	}
	if got, want := curRels(), []string{"u1→devs", "u2→admins", "u2→devs", "u3→ops"}; !slices.Equal(got, want) {
		t.Fatalf("relations %v, want %v", got, want)
	}
	// All keeps every current relation.
	res, err = s.ReplaceRelations(ctx(), tid, aid, nil, accessbot.SnapshotKeep{All: true}, t1)
	ok(t, err, "relations keep all")
	if res != (accessbot.SnapshotResult{Kept: 4}) || len(curRels()) != 4 {
		t.Fatalf("relations keep all: %+v, %v", res, curRels())
	}

	// Identities: u2 kept as it was (not updated, not removed).
	res, err = s.ReplaceIdentities(ctx(), tid, aid, []accessbot.Identity{identity("u1", "", "")}, accessbot.SnapshotKeep{Identities: []string{"u2"}}, t1)
	ok(t, err, "identities with keep")
	if want := (accessbot.SnapshotResult{Unchanged: 1, Removed: 1, Kept: 1}); res != want || res.Current() != 3 {
		t.Fatalf("identities with keep: %+v, want %+v", res, want)
	}
	ids, err := s.ListIdentities(ctx(), tid, aid, false)
	ok(t, err, "list identities")
	if got := extIDs(ids, identExt); !slices.Equal(got, []string{"u1", "u2"}) {
		t.Fatalf("identities %v", got)
	}
	res, err = s.ReplaceIdentities(ctx(), tid, aid, nil, accessbot.SnapshotKeep{All: true}, t1)
	ok(t, err, "identities keep all")
	if res != (accessbot.SnapshotResult{Kept: 2}) {
		t.Fatalf("identities keep all: %+v", res)
	}

	// Entitlements: ops kept, admins removed.
	res, err = s.ReplaceAppEntitlements(ctx(), tid, aid, []accessbot.AppEntitlement{{ExternalID: "devs"}}, accessbot.SnapshotKeep{Entitlements: []string{"ops"}}, t1)
	ok(t, err, "entitlements with keep")
	if want := (accessbot.SnapshotResult{Unchanged: 1, Removed: 1, Kept: 1}); res != want {
		t.Fatalf("entitlements with keep: %+v, want %+v", res, want)
	}
	es, err := s.ListAppEntitlements(ctx(), tid, aid, false)
	ok(t, err, "list entitlements")
	if got := extIDs(es, entExt); !slices.Equal(got, []string{"devs", "ops"}) {
		t.Fatalf("entitlements %v", got)
	}
}

func testImportSettings(t *testing.T, s store.Store) {
	a, b := newInvWorld(t, s), newInvWorld(t, s)
	_, err := s.GetImportSettings(ctx(), a.tenant.ID)
	isErr(t, err, accessbot.ErrNotFound, "settings before any put")
	ok(t, s.PutImportSettings(ctx(), &accessbot.ImportSettings{TenantID: a.tenant.ID, MaxRemovedRows: 5, MaxRemovedPercent: 30}), "put")
	ok(t, s.PutImportSettings(ctx(), &accessbot.ImportSettings{TenantID: a.tenant.ID, MaxRemovedRows: 50, MaxRemovedPercent: 100}), "put again")
	got, err := s.GetImportSettings(ctx(), a.tenant.ID)
	ok(t, err, "get")
	if got.MaxRemovedRows != 50 || got.MaxRemovedPercent != 100 || got.UpdatedAt.IsZero() {
		t.Fatalf("settings %+v", got)
	}
	_, err = s.GetImportSettings(ctx(), b.tenant.ID)
	isErr(t, err, accessbot.ErrNotFound, "other tenant's settings")
	err = s.PutImportSettings(ctx(), &accessbot.ImportSettings{TenantID: b.tenant.ID, MaxRemovedRows: 1, MaxRemovedPercent: 101})
	isErr(t, err, accessbot.ErrInvalid, "percent over 100")
}
