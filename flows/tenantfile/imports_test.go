package tenantfile

import (
	"context"
	"strings"
	"testing"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

func TestApplyImportSettings(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, s store.Store) {
		get := func() *accessbot.ImportSettings {
			t.Helper()
			ten, err := s.GetTenantBySlug(context.Background(), "acme")
			if err != nil {
				t.Fatal(err)
			}
			is, err := s.GetImportSettings(context.Background(), ten.ID)
			if err != nil {
				t.Fatal(err)
			}
			return is
		}
		src := string(baseYAML(t)) + "imports:\n  max_removed_rows: 100\n  max_removed_percent: 25\n"
		if got := lines(mustApply(t, s, []byte(src))); !strings.Contains(got, "+ imports acme: max_removed_rows 100, max_removed_percent 25\n") {
			t.Fatalf("changes:\n%s", got)
		}
		if is := get(); is.MaxRemovedRows != 100 || is.MaxRemovedPercent != 25 {
			t.Fatalf("stored %+v", is)
		}
		if res := mustApply(t, s, []byte(src)); len(res.Changes) != 0 {
			t.Fatalf("second apply changed:\n%s", lines(res))
		}
		// No imports: key leaves them; an empty section restores the defaults.
		if res := mustApply(t, s, baseYAML(t)); len(res.Changes) != 0 {
			t.Fatalf("apply without imports: changed:\n%s", lines(res))
		}
		res := mustApply(t, s, []byte(string(baseYAML(t))+"imports: {}\n"))
		if got := lines(res); got != "~ imports acme: max_removed_rows 100→20, max_removed_percent 25→10\n" {
			t.Fatalf("changes:\n%s", got)
		}
	})
}

func TestBadImportSettingsRefused(t *testing.T) {
	t.Parallel()
	base := string(baseYAML(t))
	for _, tc := range []struct{ yaml, want string }{
		{"imports:\n  max_removed_rows: -1\n", "imports.max_removed_rows: -1: want a whole number of rows, 0 or more"},
		{"imports:\n  max_removed_rows: lots\n", `imports.max_removed_rows: "lots": want a whole number of rows, 0 or more`},
		{"imports:\n  max_removed_percent: 150\n", "imports.max_removed_percent: 150: want a whole percentage from 0 to 100 (100 turns the guard off)"},
		{"imports:\n  max_removed: 5\n", "imports.max_removed: unknown key"},
	} {
		_, err := Parse("t.yaml", []byte(base+tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.yaml, err, tc.want)
		}
	}
}
