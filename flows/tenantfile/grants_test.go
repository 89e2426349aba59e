package tenantfile

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot/store"
)

const grantsYAML = `
grants:
  expiry_notices: [1h, 3d, 24h]
`

func grantNotices(t *testing.T, s store.Store) string {
	t.Helper()
	ten, err := s.GetTenantBySlug(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	gs, err := s.GetGrantSettings(context.Background(), ten.ID)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprint(gs.ExpiryNotices)
}

func TestApplyGrantSettings(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, s store.Store) {
		src := string(baseYAML(t)) + grantsYAML
		if got := lines(mustApply(t, s, []byte(src))); !strings.Contains(got, "+ grants acme: expiry_notices [3d 1d 1h]\n") {
			t.Fatalf("changes:\n%s", got)
		}
		if got, want := grantNotices(t, s), fmt.Sprint([]time.Duration{72 * time.Hour, 24 * time.Hour, time.Hour}); got != want {
			t.Fatalf("stored %s, want %s", got, want)
		}
		if res := mustApply(t, s, []byte(src)); len(res.Changes) != 0 {
			t.Fatalf("second apply changed:\n%s", lines(res))
		}
		// No grants: key leaves them; an empty section restores the defaults; [] sends none.
		if res := mustApply(t, s, baseYAML(t)); len(res.Changes) != 0 {
			t.Fatalf("apply without grants: changed:\n%s", lines(res))
		}
		if got := lines(mustApply(t, s, []byte(string(baseYAML(t))+"grants: {}\n"))); got != "~ grants acme: expiry_notices [3d 1d 1h]→[1d 1h]\n" {
			t.Fatalf("changes:\n%s", got)
		}
		if got := lines(mustApply(t, s, []byte(string(baseYAML(t))+"grants:\n  expiry_notices: []\n"))); got != "~ grants acme: expiry_notices [1d 1h]→[]\n" {
			t.Fatalf("changes:\n%s", got)
		}
		if got := grantNotices(t, s); got != "[]" {
			t.Fatalf("stored %s, want none", got)
		}
	})
}

func TestBadGrantSettingsRefusedWithLineAndField(t *testing.T) {
	t.Parallel()
	example := string(baseYAML(t))
	base := example + grantsYAML
	first := strings.Count(example, "\n")
	cases := []struct {
		name, old, new, want string
	}{
		{"not a duration", "[1h, 3d, 24h]", "[1h, soon]", `grants.expiry_notices[1]: "soon" is not a duration`},
		{"too short", "[1h, 3d, 24h]", "[1h, 30s]", `grants.expiry_notices[1]: "30s": want 1m to 30d before the end`},
		{"too long", "[1h, 3d, 24h]", "[1h, 60d]", `grants.expiry_notices[1]: "60d": want 1m to 30d before the end`},
		{"duplicate", "[1h, 3d, 24h]", "[1h, 60m]", "grants.expiry_notices[1]: duplicate notice 60m"},
		{"not a list", "[1h, 3d, 24h]", "daily", `grants.expiry_notices: want a list, found the value "daily"`},
		{"nested", "[1h, 3d, 24h]", "[[1h]]", "grants.expiry_notices[0]: want a duration before the end such as 24h or 1h, found a list"},
		{"unknown key", "expiry_notices:", "expiry_notice:", "grants.expiry_notice: unknown key"},
	}
	var edits []badEdit
	for _, tc := range cases {
		edits = append(edits, badEdit{tc.name, tc.old, tc.new, tc.want, first + 3})
	}
	refuseEdits(t, base, func(t *testing.T, s store.Store) string { return grantNotices(t, s) }, edits)
}

func TestGrantNoticesSorted(t *testing.T) {
	t.Parallel()
	f, err := Parse("t.yaml", []byte(string(baseYAML(t))+grantsYAML))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Grants.ExpiryNotices, []time.Duration{72 * time.Hour, 24 * time.Hour, time.Hour}) {
		t.Fatalf("parsed %v", f.Grants.ExpiryNotices)
	}
}
