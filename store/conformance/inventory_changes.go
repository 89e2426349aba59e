package conformance

import (
	"io"
	"reflect"
	"slices"
	"testing"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// changeSource is a RelationSource that also hears what changed.
type changeSource struct {
	keys    []accessbot.RelationKey
	i       int
	told    int
	ids     []string
	all     bool
	rejects []store.RelationReject
}

func (c *changeSource) Next() (int, accessbot.RelationKey, error) {
	if c.i == len(c.keys) {
		return 0, accessbot.RelationKey{}, io.EOF
	}
	c.i++
	return c.i, c.keys[c.i-1], nil
}
func (c *changeSource) Reject(r store.RelationReject) error {
	c.rejects = append(c.rejects, r)
	return nil
}
func (c *changeSource) Keep() accessbot.SnapshotKeep   { return accessbot.SnapshotKeep{} }
func (c *changeSource) Changed(ids []string, all bool) { c.told++; c.ids, c.all = ids, all }

// testInventoryChanges: a relations replacement tells its source which
// identities gained or lost a relation; EachRelation streams current
// relations; SyncFindingsOf touches only its subjects' findings.
func testInventoryChanges(t *testing.T, s store.Store) {
	w := newInvWorld(t, s)
	tid, aid := w.tenant.ID, w.app.ID
	t0 := fixedTime()
	_, err := s.ReplaceIdentities(ctx(), tid, aid, []accessbot.Identity{
		identity("u1", "", ""), identity("u2", "", ""), identity("u3", "", ""),
	}, accessbot.SnapshotKeep{}, t0)
	ok(t, err, "identities")
	_, err = s.ReplaceAppEntitlements(ctx(), tid, aid, []accessbot.AppEntitlement{{ExternalID: "e1"}, {ExternalID: "e2"}}, accessbot.SnapshotKeep{}, t0)
	ok(t, err, "entitlements")
	idents, err := s.ListIdentities(ctx(), tid, aid, false)
	ok(t, err, "list identities")
	id := map[string]string{}
	for _, i := range idents {
		id[i.ExternalID] = i.ID
	}
	rk := func(i, e string) accessbot.RelationKey {
		return accessbot.RelationKey{IdentityExternalID: i, EntitlementExternalID: e}
	}
	sorted := func(ext ...string) []string {
		out := []string{}
		for _, e := range ext {
			out = append(out, id[e])
		}
		slices.Sort(out)
		return out
	}
	for _, step := range []struct {
		name    string
		keys    []accessbot.RelationKey
		all     bool
		changed []string
	}{
		{"first upload: all", []accessbot.RelationKey{rk("u1", "e1"), rk("u2", "e1"), rk("u3", "e1")}, true, nil},
		{"unchanged: none", []accessbot.RelationKey{rk("u1", "e1"), rk("u2", "e1"), rk("u3", "e1")}, false, sorted()},
		{"u1 loses e1, u2 gains e2", []accessbot.RelationKey{rk("u2", "e1"), rk("u2", "e2"), rk("u3", "e1")}, false, sorted("u1", "u2")},
		{"u1 gets e1 back (restored)", []accessbot.RelationKey{rk("u1", "e1"), rk("u2", "e1"), rk("u2", "e2"), rk("u3", "e1"), rk("u3", "nope")}, false, sorted("u1")},
	} {
		src := &changeSource{keys: step.keys}
		_, err := s.ReplaceRelationsFrom(ctx(), tid, aid, src, t0)
		ok(t, err, step.name)
		got := src.ids
		if !step.all {
			slices.Sort(got)
		}
		if src.told != 1 || src.all != step.all || (!step.all && !reflect.DeepEqual(got, step.changed)) {
			t.Fatalf("%s: told %d times, all %v, ids %v; want all %v, ids %v", step.name, src.told, src.all, got, step.all, step.changed)
		}
	}

	pairs := func(ids []string) [][2]string {
		var out [][2]string
		ok(t, s.EachRelation(ctx(), tid, ids, func(i, e string) error {
			out = append(out, [2]string{i, e})
			return nil
		}), "each relation")
		return out
	}
	if n := len(pairs(nil)); n != 4 {
		t.Fatalf("EachRelation: %d current relations, want 4", n)
	}
	if got := pairs([]string{id["u2"]}); len(got) != 2 || got[0][0] != id["u2"] || got[1][0] != id["u2"] {
		t.Fatalf("EachRelation of u2: %v", got)
	}
	if got := pairs([]string{}); len(got) != 0 {
		t.Fatalf("EachRelation of no identity: %v", got)
	}

	// SyncFindingsOf: b goes, a stays, c (out of scope) is left open.
	_, err = s.SyncFindings(ctx(), tid, "scoped", []accessbot.FindingMatch{
		match(accessbot.SeverityHigh, "a"), match(accessbot.SeverityHigh, "b"), match(accessbot.SeverityHigh, "c"),
	}, t0)
	ok(t, err, "sync all")
	res, err := s.SyncFindingsOf(ctx(), tid, "scoped", accessbot.SubjectIdentity, []string{"a", "b", "d"},
		[]accessbot.FindingMatch{match(accessbot.SeverityHigh, "a"), match(accessbot.SeverityHigh, "d")}, t0)
	ok(t, err, "sync of a, b, d")
	if res != (accessbot.SyncResult{Opened: 1, Seen: 1, Resolved: 1}) {
		t.Fatalf("sync of a, b, d: %+v", res)
	}
	all, err := s.ListFindings(ctx(), tid, accessbot.FindingFilter{})
	ok(t, err, "list findings")
	for subj, want := range map[string]accessbot.FindingStatus{"a": accessbot.FindingOpen, "b": accessbot.FindingResolved, "c": accessbot.FindingOpen, "d": accessbot.FindingOpen} {
		if f := findFinding(t, all, subj); f.Status != want {
			t.Errorf("finding of %s: %s, want %s", subj, f.Status, want)
		}
	}
	_, err = s.SyncFindingsOf(ctx(), tid, "scoped", accessbot.SubjectIdentity, []string{"a"}, []accessbot.FindingMatch{match(accessbot.SeverityHigh, "c")}, t0)
	isErr(t, err, accessbot.ErrInvalid, "match outside the subjects")
}
