package conformance

import (
	"errors"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// identitySource is an IdentitySource over rows that keeps what its
// skipped and rejected rows name, as the inventory import does.
type identitySource struct {
	rows    []store.IdentityRow
	i       int
	all     bool  // Keep: everything
	failAt  int   // Next fails at this row (1-based); 0: never
	err     error // what it fails with
	keep    []string
	rejects []store.IdentityReject
	kept    int // times Keep was asked
}

func (s *identitySource) Next() (store.IdentityRow, error) {
	if s.failAt > 0 && s.i+1 == s.failAt {
		return store.IdentityRow{}, s.err
	}
	if s.i == len(s.rows) {
		return store.IdentityRow{}, io.EOF
	}
	s.i++
	r := s.rows[s.i-1]
	if r.Skip {
		s.keep = append(s.keep, r.Identity.ExternalID)
	}
	return r, nil
}

func (s *identitySource) Reject(r store.IdentityReject) error {
	s.rejects = append(s.rejects, r)
	s.keep = append(s.keep, r.ExternalID)
	return nil
}

func (s *identitySource) Keep() accessbot.SnapshotKeep {
	s.kept++
	return accessbot.SnapshotKeep{Identities: s.keep, All: s.all}
}

func identityRows(ins ...accessbot.Identity) []store.IdentityRow {
	out := make([]store.IdentityRow, len(ins))
	for i, in := range ins {
		out[i] = store.IdentityRow{Line: i + 2, Identity: in}
	}
	return out
}

// testIdentitiesFrom: a streamed identities replacement counts and writes
// as ReplaceIdentities does, tells its source of repeated ids in line
// order (skipped rows count), leaves skipped, repeated and kept ids as
// they were, and writes nothing when its source fails.
func testIdentitiesFrom(t *testing.T, s store.Store) {
	w := newInvWorld(t, s)
	tid, aid := w.tenant.ID, w.app.ID
	t0 := fixedTime()
	seen := t0.Add(-48 * time.Hour)
	replace := func(src *identitySource, at time.Time) accessbot.SnapshotResult {
		t.Helper()
		res, err := s.ReplaceIdentitiesFrom(ctx(), tid, aid, src, at)
		ok(t, err, "replace identities from a source")
		if src.kept != 1 {
			t.Fatalf("Keep asked %d times, want once", src.kept)
		}
		return res
	}
	state := func() map[string]accessbot.Identity {
		t.Helper()
		all, err := s.ListIdentities(ctx(), tid, aid, true)
		ok(t, err, "list identities")
		m := map[string]accessbot.Identity{}
		for _, i := range all {
			m[i.ExternalID] = i
		}
		return m
	}

	res := replace(&identitySource{rows: identityRows(
		identity("u1", "a@example.com", accessbot.IdentityActive),
		accessbot.Identity{ExternalID: "u2", Email: "b@example.com", Status: accessbot.IdentityDisabled, LastSeenAt: &seen},
		identity("u3", "", ""),
		identity("u5", "e@example.com", accessbot.IdentityActive),
	)}, t0)
	if res != (accessbot.SnapshotResult{Created: 4}) {
		t.Fatalf("first upload: %+v", res)
	}
	first := state()
	u2 := first["u2"]
	if u2.LastSeenAt == nil || !u2.LastSeenAt.Equal(seen.Truncate(time.Microsecond)) || u2.Status != accessbot.IdentityDisabled || u2.Email != "b@example.com" {
		t.Fatalf("u2 = %+v", u2)
	}
	if u3 := first["u3"]; u3.Status != accessbot.IdentityActive || !u3.CreatedAt.Equal(t0.UTC().Truncate(time.Microsecond)) || u3.ID == "" {
		t.Fatalf("u3 = %+v", u3)
	}
	if !(first["u1"].ID < first["u2"].ID && first["u2"].ID < first["u3"].ID) {
		t.Fatalf("new ids do not follow the file's order: %s %s %s", first["u1"].ID, first["u2"].ID, first["u3"].ID)
	}

	// u1 changes, u2 stays, u3 leaves, u4 arrives, u5's row is skipped
	// (kept as stored), u6 is repeated (neither row written), u7 is
	// skipped and then repeated: the repeat is still told.
	t1 := t0.Add(time.Hour)
	rows := identityRows(
		identity("u1", "a2@example.com", accessbot.IdentityActive),
		accessbot.Identity{ExternalID: "u2", Email: "b@example.com", Status: accessbot.IdentityDisabled, LastSeenAt: &seen},
		identity("u4", "d@example.com", accessbot.IdentityActive),
		identity("u5", "changed@example.com", accessbot.IdentityActive),
		identity("u6", "f@example.com", accessbot.IdentityActive),
		identity("u7", "g@example.com", accessbot.IdentityActive),
		identity("u6", "f@example.com", accessbot.IdentityActive),
		identity("u7", "g@example.com", accessbot.IdentityActive),
	)
	rows[3].Skip, rows[5].Skip = true, true
	src := &identitySource{rows: rows}
	res = replace(src, t1)
	if want := (accessbot.SnapshotResult{Created: 1, Updated: 1, Unchanged: 1, Removed: 1, Kept: 1}); res != want {
		t.Fatalf("re-upload: %+v, want %+v", res, want)
	}
	if want := []store.IdentityReject{{Line: 8, ExternalID: "u6", FirstLine: 6}, {Line: 9, ExternalID: "u7", FirstLine: 7}}; !reflect.DeepEqual(src.rejects, want) {
		t.Fatalf("rejects %+v, want %+v", src.rejects, want)
	}
	second := state()
	r1 := t1.UTC().Truncate(time.Microsecond)
	switch {
	case second["u1"].Email != "a2@example.com" || !second["u1"].UpdatedAt.Equal(r1) || second["u1"].ID != first["u1"].ID:
		t.Fatalf("u1 not updated in place: %+v", second["u1"])
	case !second["u2"].UpdatedAt.Equal(first["u2"].UpdatedAt):
		t.Fatalf("unchanged u2 written: %+v", second["u2"])
	case second["u3"].RemovedAt == nil || !second["u3"].RemovedAt.Equal(r1):
		t.Fatalf("u3 not removed at %v: %+v", r1, second["u3"])
	case second["u4"].ID == "" || second["u4"].RemovedAt != nil:
		t.Fatalf("u4 not created: %+v", second["u4"])
	case second["u5"].Email != "e@example.com" || second["u5"].RemovedAt != nil:
		t.Fatalf("skipped u5 changed: %+v", second["u5"])
	}
	for _, ext := range []string{"u6", "u7"} {
		if _, ok := second[ext]; ok {
			t.Fatalf("repeated %s written", ext)
		}
	}

	// u3 comes back; u1 and u5 are missing, but the source keeps everything.
	t2 := t1.Add(time.Hour)
	res = replace(&identitySource{all: true, rows: identityRows(
		identity("u3", "", ""),
		identity("u4", "d@example.com", accessbot.IdentityActive),
		accessbot.Identity{ExternalID: "u2", Email: "b@example.com", Status: accessbot.IdentityDisabled},
	)}, t2)
	if want := (accessbot.SnapshotResult{Restored: 1, Unchanged: 1, Updated: 1, Kept: 2}); res != want {
		t.Fatalf("keep all: %+v, want %+v", res, want)
	}
	third := state()
	if third["u3"].RemovedAt != nil || third["u1"].RemovedAt != nil || third["u2"].LastSeenAt != nil {
		t.Fatalf("keep all: u3 %+v, u1 %+v, u2 %+v", third["u3"], third["u1"], third["u2"])
	}

	// A failing source writes nothing.
	boom := errors.New("broken file")
	_, err := s.ReplaceIdentitiesFrom(ctx(), tid, aid, &identitySource{failAt: 2, err: boom, rows: identityRows(identity("u9", "", ""), identity("u10", "", ""))}, t2.Add(time.Hour))
	if !errors.Is(err, boom) {
		t.Fatalf("failing source: got %v, want %v", err, boom)
	}
	if after := state(); !reflect.DeepEqual(after, third) {
		t.Fatalf("a failed replacement changed identities:\n%+v\nwant\n%+v", after, third)
	}
}
