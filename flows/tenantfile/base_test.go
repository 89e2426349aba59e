package tenantfile

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/accessbot/accessbot/store"
)

// issue6Sections are the top-level keys the rules, schedules, campaigns,
// reviews and purposes tests write themselves.
var issue6Sections = []string{"rules", "alerts", "schedules", "campaigns", "reviews", "purposes"}

// baseYAML is the example tenant file without issue6Sections, so those
// tests append their own sections whatever the example declares.
func baseYAML(t *testing.T) []byte {
	t.Helper()
	var out []string
	skip := false
	for _, l := range strings.SplitAfter(string(exampleYAML(t)), "\n") {
		top := l != "" && l[0] != ' ' && l[0] != '#' && l[0] != '\n'
		if top {
			key, _, _ := strings.Cut(l, ":")
			skip = false
			for _, s := range issue6Sections {
				skip = skip || key == s
			}
		}
		if !skip {
			out = append(out, l)
		}
	}
	return []byte(strings.Join(out, ""))
}

// tenantsJSON is of's answer for every tenant, by slug, as JSON: what a
// section stores, for comparing before and after.
func tenantsJSON(t *testing.T, s store.Store, of func(ctx context.Context, tenantID string) (any, error)) string {
	t.Helper()
	ctx := context.Background()
	tenants, err := s.ListTenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	for _, tn := range tenants {
		v, err := of(ctx, tn.ID)
		if err != nil {
			t.Fatal(err)
		}
		out[tn.Slug] = v
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// badEdit replaces old with new in a valid tenant file; apply must then
// fail with an error containing want and naming line.
type badEdit struct {
	name, old, new, want string
	line                 int
}

// refuseEdits applies base, then each edit of it (with the tenant renamed
// too, so a half-applied file would show) on every driver: each must be
// refused, and change nothing snapshot and stored (the section's own data)
// see.
func refuseEdits(t *testing.T, base string, stored func(*testing.T, store.Store) string, edits []badEdit) {
	t.Helper()
	forEachDriver(t, func(t *testing.T, s store.Store) {
		mustApply(t, s, []byte(base))
		before := snapshot(t, s) + stored(t, s)
		for _, tc := range edits {
			t.Run(tc.name, func(t *testing.T) {
				src := strings.Replace(base, tc.old, tc.new, 1)
				src = strings.Replace(src, "name: Acme Analytics\n", "name: Changed\n", 1)
				_, err := applyYAML(t, s, []byte(src), false)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("got error %v\nwant it to contain %q", err, tc.want)
				}
				if !strings.Contains(err.Error(), "tenant.yaml:"+itoa(tc.line)+": ") {
					t.Fatalf("error %q does not name line %d", err, tc.line)
				}
				sameSnapshot(t, before, snapshot(t, s)+stored(t, s))
			})
		}
	})
}
