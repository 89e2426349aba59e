package conformance

import (
	"errors"
	"io"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// entitlementSource is an EntitlementSource over rows that keeps what its
// rejected rows name, as the inventory import does.
type entitlementSource struct {
	rows    []accessbot.AppEntitlement
	i       int
	all     bool
	keep    []string
	failAt  int // Next fails at this row (1-based); 0: never
	err     error
	rejects []store.EntitlementReject
	kept    int
}

func (s *entitlementSource) Next() (store.EntitlementRow, error) {
	if s.failAt > 0 && s.i+1 == s.failAt {
		return store.EntitlementRow{}, s.err
	}
	if s.i == len(s.rows) {
		return store.EntitlementRow{}, io.EOF
	}
	s.i++
	return store.EntitlementRow{Line: s.i + 1, Entitlement: s.rows[s.i-1]}, nil
}

func (s *entitlementSource) Reject(r store.EntitlementReject) error {
	s.rejects = append(s.rejects, r)
	s.keep = append(s.keep, r.ExternalID)
	return nil
}

func (s *entitlementSource) Keep() accessbot.SnapshotKeep {
	s.kept++
	return accessbot.SnapshotKeep{Entitlements: s.keep, All: s.all}
}

// testEntitlementsFrom: a streamed entitlements replacement counts and
// writes as ReplaceAppEntitlements does (labels normalised alike), tells
// its source of repeated ids in line order, leaves repeated and kept ids
// as they were, and writes nothing when its source fails. Each step runs
// on two applications, one whole and one streamed, which must agree.
func testEntitlementsFrom(t *testing.T, s store.Store) {
	w := newInvWorld(t, s)
	tid := w.tenant.ID
	whole, streamed := w.app.ID, newApp(t, s, tid, "inv-app-streamed", w.user.ID).ID
	t0 := fixedTime()
	state := func(aid string) map[string]accessbot.AppEntitlement {
		t.Helper()
		all, err := s.ListAppEntitlements(ctx(), tid, aid, true)
		ok(t, err, "list entitlements")
		m := map[string]accessbot.AppEntitlement{}
		for _, e := range all {
			e.ID, e.AppID = "", "" // differ between the applications
			m[e.ExternalID] = e
		}
		return m
	}
	// step replaces both applications' entitlements with rows (the whole
	// one without what the streamed source rejects or keeps) and checks
	// that they agree.
	step := func(name string, at time.Time, src *entitlementSource, want accessbot.SnapshotResult, rejects []store.EntitlementReject) map[string]accessbot.AppEntitlement {
		t.Helper()
		res, err := s.ReplaceAppEntitlementsFrom(ctx(), tid, streamed, src, at)
		ok(t, err, name+": replace entitlements from a source")
		if src.kept != 1 {
			t.Fatalf("%s: Keep asked %d times, want once", name, src.kept)
		}
		if res != want {
			t.Fatalf("%s: %+v, want %+v", name, res, want)
		}
		if !reflect.DeepEqual(src.rejects, rejects) {
			t.Fatalf("%s: rejects %+v, want %+v", name, src.rejects, rejects)
		}
		keep := src.Keep()
		var good []accessbot.AppEntitlement
		for _, e := range src.rows {
			if !slices.Contains(keep.Entitlements, e.ExternalID) {
				good = append(good, e)
			}
		}
		res, err = s.ReplaceAppEntitlements(ctx(), tid, whole, good, keep, at)
		ok(t, err, name+": replace entitlements")
		if res != want {
			t.Fatalf("%s: whole: %+v, want %+v", name, res, want)
		}
		got, wantState := state(streamed), state(whole)
		if !reflect.DeepEqual(got, wantState) {
			t.Fatalf("%s: streamed\n%+v\nwhole\n%+v", name, got, wantState)
		}
		return got
	}

	first := step("first upload", t0, &entitlementSource{rows: []accessbot.AppEntitlement{
		{ExternalID: "admins", Name: "Admins", Type: "group", Labels: []string{" Prod", "pii", "prod", ""}},
		{ExternalID: "devs", Name: "Devs", Type: "group"},
		{ExternalID: "ops", Name: "Ops", Type: "role", Labels: []string{"prod"}},
		{ExternalID: "qa", Name: "QA"},
	}}, accessbot.SnapshotResult{Created: 4}, nil)
	if got := first["admins"].Labels; !reflect.DeepEqual(got, []string{"pii", "prod"}) {
		t.Fatalf("admins labels %q, want normalised [pii prod]", got)
	}

	// admins' labels differ only in case and order: unchanged. devs is
	// renamed, ops leaves, qa is kept by the source, new arrives, rep is
	// repeated (neither row written).
	t1 := t0.Add(time.Hour)
	src := &entitlementSource{keep: []string{"qa"}, rows: []accessbot.AppEntitlement{
		{ExternalID: "admins", Name: "Admins", Type: "group", Labels: []string{"PROD", "pii"}},
		{ExternalID: "devs", Name: "Developers", Type: "group"},
		{ExternalID: "rep", Name: "Rep"},
		{ExternalID: "new", Name: "New", Labels: []string{"x"}},
		{ExternalID: "rep", Name: "Rep"},
	}}
	second := step("re-upload", t1, src, accessbot.SnapshotResult{Created: 1, Updated: 1, Unchanged: 1, Removed: 1, Kept: 1},
		[]store.EntitlementReject{{Line: 6, ExternalID: "rep", FirstLine: 4}})
	r1 := t1.UTC().Truncate(time.Microsecond)
	switch {
	case !second["admins"].UpdatedAt.Equal(first["admins"].UpdatedAt):
		t.Fatalf("unchanged admins written: %+v", second["admins"])
	case second["devs"].Name != "Developers" || !second["devs"].UpdatedAt.Equal(r1):
		t.Fatalf("devs not updated: %+v", second["devs"])
	case second["ops"].RemovedAt == nil || second["qa"].RemovedAt != nil:
		t.Fatalf("ops %+v should be removed, qa %+v kept", second["ops"], second["qa"])
	}
	if _, ok := second["rep"]; ok {
		t.Fatal("repeated rep written")
	}

	// ops comes back; the rest are missing, but the source keeps everything.
	step("keep all", t1.Add(time.Hour), &entitlementSource{all: true, rows: []accessbot.AppEntitlement{
		{ExternalID: "ops", Name: "Ops", Type: "role", Labels: []string{"prod"}},
		{ExternalID: "new", Name: "New", Labels: []string{"y"}},
	}}, accessbot.SnapshotResult{Restored: 1, Updated: 1, Kept: 3}, nil)

	// A failing source writes nothing.
	before := state(streamed)
	boom := errors.New("broken file")
	_, err := s.ReplaceAppEntitlementsFrom(ctx(), tid, streamed, &entitlementSource{failAt: 2, err: boom,
		rows: []accessbot.AppEntitlement{{ExternalID: "z1"}, {ExternalID: "z2"}}}, t1.Add(2*time.Hour))
	if !errors.Is(err, boom) {
		t.Fatalf("failing source: got %v, want %v", err, boom)
	}
	if after := state(streamed); !reflect.DeepEqual(after, before) {
		t.Fatalf("a failed replacement changed entitlements:\n%+v\nwant\n%+v", after, before)
	}
	// Another tenant's application is not found through this tenant.
	other := newInvWorld(t, s)
	if _, err := s.ReplaceAppEntitlementsFrom(ctx(), other.tenant.ID, other.app.ID, &entitlementSource{rows: []accessbot.AppEntitlement{{ExternalID: "o1"}}}, t0); err != nil {
		t.Fatalf("other tenant: %v", err)
	}
	if after := state(streamed); !reflect.DeepEqual(after, before) {
		t.Fatal("another tenant's upload changed this tenant's entitlements")
	}
}
