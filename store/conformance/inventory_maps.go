package conformance

import (
	"errors"
	"io"
	"reflect"
	"slices"
	"testing"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// mappingSource is a MappingSource over rows.
type mappingSource struct {
	rows    []store.MappingRow
	i       int
	failAt  int // Next fails at this row (1-based); 0: never
	rejects []store.MappingReject
}

func (s *mappingSource) Next() (store.MappingRow, error) {
	if s.failAt > 0 && s.i+1 == s.failAt {
		return store.MappingRow{}, errors.New("broken source")
	}
	if s.i == len(s.rows) {
		return store.MappingRow{}, io.EOF
	}
	s.i++
	return s.rows[s.i-1], nil
}

func (s *mappingSource) Reject(r store.MappingReject) error {
	s.rejects = append(s.rejects, r)
	return nil
}

// testMappingsFrom: a streamed mappings replacement resolves each row's
// identity (in its application, or in any) and employee (email in any
// case), tells its source of the rows it leaves out in line order, keeps
// what rejected rows name, writes only what changes, stays in its scope
// and tenant, and writes nothing when its source fails.
func testMappingsFrom(t *testing.T, s store.Store) {
	w, other := newInvWorld(t, s), newInvWorld(t, s)
	tid, t0 := w.tenant.ID, fixedTime()
	app2 := newApp(t, s, tid, "inv-app-2", w.user.ID)
	ann, ben, cat := newUser(t, s, tid, "ann@example.com"), newUser(t, s, tid, "ben@example.com"), newUser(t, s, tid, "cat@example.com")
	for _, a := range []string{w.app.ID, app2.ID} {
		_, err := s.ReplaceIdentities(ctx(), tid, a, []accessbot.Identity{identity("both", "", ""), identity("k1", "", ""), identity("k2", "", ""),
			identity("k3", "", ""), identity("k4", "", "")}, accessbot.SnapshotKeep{}, t0)
		ok(t, err, "identities")
	}
	_, err := s.ReplaceIdentities(ctx(), tid, w.app.ID, []accessbot.Identity{identity("only1", "", ""), identity("both", "", ""), identity("k1", "", ""),
		identity("k2", "", ""), identity("k3", "", ""), identity("k4", "", "")}, accessbot.SnapshotKeep{}, t0)
	ok(t, err, "identities of app 1")
	_, err = s.ReplaceIdentities(ctx(), other.tenant.ID, other.app.ID, []accessbot.Identity{identity("only1", "", "")}, accessbot.SnapshotKeep{}, t0)
	ok(t, err, "other tenant's identity")
	idents, err := s.ListIdentities(ctx(), tid, "", false)
	ok(t, err, "list identities")
	id := map[string]string{} // "1:k1" → id
	for _, i := range idents {
		id[map[string]string{w.app.ID: "1:", app2.ID: "2:"}[i.AppID]+i.ExternalID] = i.ID
	}
	state := func() map[string]string { // identity id → user id
		t.Helper()
		ms, err := s.ListIdentityMappings(ctx(), tid)
		ok(t, err, "list mappings")
		m := map[string]string{}
		for _, x := range ms {
			m[x.IdentityID] = x.UserID
		}
		return m
	}
	_, err = s.ReplaceIdentityMappings(ctx(), tid, nil, []accessbot.IdentityMapping{
		{IdentityID: id["1:k1"], UserID: ann.ID}, {IdentityID: id["1:k2"], UserID: ann.ID}, {IdentityID: id["2:k2"], UserID: ben.ID},
		{IdentityID: id["1:k3"], UserID: cat.ID}, {IdentityID: id["2:k4"], UserID: ben.ID}, {IdentityID: id["1:k4"], UserID: ann.ID},
	})
	ok(t, err, "stored mappings")
	oid, err := s.ListIdentities(ctx(), other.tenant.ID, "", false)
	ok(t, err, "other tenant's identities")
	_, err = s.ReplaceIdentityMappings(ctx(), other.tenant.ID, nil, []accessbot.IdentityMapping{{IdentityID: oid[0].ID, UserID: other.user.ID}})
	ok(t, err, "other tenant's mapping")

	src := &mappingSource{rows: []store.MappingRow{
		{Line: 2, IdentityExternalID: "only1", Email: " ANN@example.com"},                 // created, in any application
		{Line: 3, IdentityExternalID: "both", Email: "ann@example.com"},                   // ambiguous: keeps ann's mappings
		{Line: 4, IdentityExternalID: "k1", AppID: app2.ID, Email: "cat@example.com"},     // created (not both: line 3 keeps it)
		{Line: 5, IdentityExternalID: "k2", AppID: app2.ID, Email: "cat@example.com"},     // updated
		{Line: 6, IdentityExternalID: "nope", Email: "ben@example.com"},                   // no such identity: keeps ben's
		{Line: 7, IdentityExternalID: "k3", AppID: w.app.ID, Email: "nobody@example.com"}, // unknown employee: keeps 1:k3
		{Line: 8, IdentityExternalID: "k3", AppID: w.app.ID, Email: "ann@example.com"},    // repeated (and kept)
		{Line: 9, IdentityExternalID: "only1", Email: "", Skip: true},                     // the caller's reject: keeps only1
	}}
	res, err := s.ReplaceIdentityMappingsFrom(ctx(), tid, nil, src)
	ok(t, err, "replace mappings from a source")
	wantRejects := []store.MappingReject{
		{Line: 3, IdentityExternalID: "both", Email: "ann@example.com", Problem: store.AmbiguousIdentity},
		{Line: 6, IdentityExternalID: "nope", Email: "ben@example.com", Problem: store.NoSuchIdentity},
		{Line: 7, IdentityExternalID: "k3", Email: "nobody@example.com", Problem: store.UnknownEmployee},
		{Line: 8, IdentityExternalID: "k3", Email: "ann@example.com", Problem: store.RepeatedMapping, FirstLine: 7},
	}
	if !reflect.DeepEqual(src.rejects, wantRejects) {
		t.Fatalf("rejects %+v, want %+v", src.rejects, wantRejects)
	}
	// only1 is kept by line 9, so line 2 is not written; 1:k1, 1:k2, 1:k4
	// (ann's), 2:k4 (ben's) and 1:k3 are kept; nothing is removed.
	want := accessbot.SnapshotResult{Created: 1, Updated: 1, Kept: 5}
	if res != want {
		t.Fatalf("result %+v, want %+v", res, want)
	}
	wantState := map[string]string{id["1:k1"]: ann.ID, id["1:k2"]: ann.ID, id["2:k2"]: cat.ID, id["1:k3"]: cat.ID, id["2:k4"]: ben.ID,
		id["1:k4"]: ann.ID, id["2:k1"]: cat.ID}
	if got := state(); !reflect.DeepEqual(got, wantState) {
		t.Fatalf("mappings %v, want %v", got, wantState)
	}

	// A clean file for application 2 only: 2:both created, 2:k2
	// unchanged, 2:k1 updated, 2:k4 removed, application 1's left alone.
	res, err = s.ReplaceIdentityMappingsFrom(ctx(), tid, []string{app2.ID}, &mappingSource{rows: []store.MappingRow{
		{Line: 2, IdentityExternalID: "both", AppID: app2.ID, Email: "cat@example.com"},
		{Line: 3, IdentityExternalID: "k2", AppID: app2.ID, Email: "cat@example.com"},
		{Line: 4, IdentityExternalID: "k1", AppID: app2.ID, Email: "Ben@Example.com"},
	}})
	ok(t, err, "replace mappings of application 2")
	if want := (accessbot.SnapshotResult{Created: 1, Updated: 1, Unchanged: 1, Removed: 1}); res != want {
		t.Fatalf("application 2: %+v, want %+v", res, want)
	}
	delete(wantState, id["2:k4"])
	wantState[id["2:k1"]], wantState[id["2:both"]] = ben.ID, cat.ID
	if got := state(); !reflect.DeepEqual(got, wantState) {
		t.Fatalf("application 2: mappings %v, want %v", got, wantState)
	}

	// A row that names nothing keeps every mapping in scope.
	res, err = s.ReplaceIdentityMappingsFrom(ctx(), tid, nil, &mappingSource{rows: []store.MappingRow{{Line: 2, Skip: true}}})
	ok(t, err, "replace mappings with a row that names nothing")
	if want := (accessbot.SnapshotResult{Kept: len(wantState)}); res != want {
		t.Fatalf("a row that names nothing: %+v, want %+v", res, want)
	}

	// A failing source writes nothing.
	_, err = s.ReplaceIdentityMappingsFrom(ctx(), tid, nil, &mappingSource{failAt: 2, rows: []store.MappingRow{
		{Line: 2, IdentityExternalID: "k1", AppID: w.app.ID, Email: "cat@example.com"}, {Line: 3}}})
	if err == nil {
		t.Fatal("a failing source: no error")
	}
	if got := state(); !reflect.DeepEqual(got, wantState) {
		t.Fatalf("after a failing source: mappings %v, want %v", got, wantState)
	}
	ms, err := s.ListIdentityMappings(ctx(), other.tenant.ID)
	ok(t, err, "other tenant's mappings")
	if len(ms) != 1 || ms[0].UserID != other.user.ID {
		t.Fatalf("other tenant's mappings %+v, want its one, untouched", ms)
	}

	// A page's mappings, by its range of identity ids; the tenant's only.
	ids := slices.Sorted(func(yield func(string) bool) {
		for k := range wantState {
			if !yield(k) {
				return
			}
		}
	})
	for _, r := range []struct{ after, through string }{{"", ""}, {"", ids[2]}, {ids[1], ids[4]}, {ids[4], ""}, {ids[len(ids)-1], ""}} {
		got, err := s.ListIdentityMappingsBetween(ctx(), tid, r.after, r.through)
		ok(t, err, "mappings between")
		var gotIDs, want []string
		for _, m := range got {
			if m.TenantID != tid || m.UserID != wantState[m.IdentityID] {
				t.Fatalf("mappings after %q through %q: %+v", r.after, r.through, m)
			}
			gotIDs = append(gotIDs, m.IdentityID)
		}
		for _, i := range ids {
			if i > r.after && (r.through == "" || i <= r.through) {
				want = append(want, i)
			}
		}
		if !slices.Equal(gotIDs, want) {
			t.Fatalf("mappings after %q through %q: %v, want %v", r.after, r.through, gotIDs, want)
		}
	}
}

// testEntitlementsOf: ListAppEntitlementsOf returns the tenant's current
// entitlements among the ids, once each, in id order.
func testEntitlementsOf(t *testing.T, s store.Store) {
	w, other := newInvWorld(t, s), newInvWorld(t, s)
	tid, t0 := w.tenant.ID, fixedTime()
	_, err := s.ReplaceAppEntitlements(ctx(), tid, w.app.ID, []accessbot.AppEntitlement{{ExternalID: "e1", Labels: []string{"Privileged"}}, {ExternalID: "e2"},
		{ExternalID: "gone"}}, accessbot.SnapshotKeep{}, t0)
	ok(t, err, "entitlements")
	_, err = s.ReplaceAppEntitlements(ctx(), tid, w.app.ID, []accessbot.AppEntitlement{{ExternalID: "e1", Labels: []string{"Privileged"}}, {ExternalID: "e2"}},
		accessbot.SnapshotKeep{}, t0)
	ok(t, err, "entitlements again")
	_, err = s.ReplaceAppEntitlements(ctx(), other.tenant.ID, other.app.ID, []accessbot.AppEntitlement{{ExternalID: "x1"}}, accessbot.SnapshotKeep{}, t0)
	ok(t, err, "other tenant's entitlements")
	all, err := s.ListAppEntitlements(ctx(), tid, "", true)
	ok(t, err, "list entitlements")
	oth, err := s.ListAppEntitlements(ctx(), other.tenant.ID, "", true)
	ok(t, err, "other tenant's entitlements")
	var ask, want []string
	for _, e := range all {
		ask = append(ask, e.ID, e.ID)
		if e.RemovedAt == nil {
			want = append(want, e.ID)
		}
	}
	ask = append(ask, oth[0].ID, "no-such-id")
	slices.Sort(want)
	got, err := s.ListAppEntitlementsOf(ctx(), tid, ask)
	ok(t, err, "entitlements of ids")
	var gotIDs []string
	for _, e := range got {
		if e.TenantID != tid || (e.ExternalID == "e1" && !slices.Equal(e.Labels, []string{"privileged"})) {
			t.Fatalf("entitlement %+v", e)
		}
		gotIDs = append(gotIDs, e.ID)
	}
	if !slices.Equal(gotIDs, want) {
		t.Fatalf("entitlements of ids: %v, want the current ones, once each, in id order: %v", gotIDs, want)
	}
	got, err = s.ListAppEntitlementsOf(ctx(), tid, nil)
	ok(t, err, "entitlements of no ids")
	if len(got) != 0 {
		t.Fatalf("entitlements of no ids: %+v", got)
	}
}
