package inventory_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot/flows/inventory"
	"github.com/accessbot/accessbot/store/storetest"
)

// TestRelationsUploadRunsRulesOnWhatChanged: after the first relations
// upload (every rule, every identity), an unchanged re-upload runs no rule,
// and a change re-evaluates the relation rules for the identities it
// touched only, with the same findings as a full run.
func TestRelationsUploadRunsRulesOnWhatChanged(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			f := setup(t, driver)
			f.ok(t, inventory.Identities, identitiesCSV)
			f.ok(t, inventory.Entitlements, entitlementsCSV)
			first := f.ok(t, inventory.Relations, relationsCSV)
			if first.Findings == nil || first.Findings.Scoped || len(first.Findings.Rules) != 4 {
				t.Fatalf("first upload: want a full run of the 4 built-in rules: %+v", first.Findings)
			}
			f.now = t0.Add(time.Hour)
			same := f.ok(t, inventory.Relations, relationsCSV)
			if fr := same.Findings; fr == nil || !fr.Scoped || fr.Identities != 0 || len(fr.Rules) != 0 {
				t.Fatalf("unchanged re-upload: want no rule run: %+v", fr)
			}
			// u-bob gains admins (privileged); u-alice and svc-ci unchanged.
			changed := f.ok(t, inventory.Relations, relationsCSV+"u-bob,admins\n")
			fr := changed.Findings
			if fr == nil || !fr.Scoped || fr.Identities != 1 || len(fr.Rules) != 1 || fr.Rules[0].Opened != 1 || fr.Rules[0].Seen != 0 {
				t.Fatalf("one identity changed: want the privileged rule run for it alone: %+v", fr)
			}
			if s := changed.Summaries(); !strings.Contains(s[1], "findings of the 1 identities whose relations changed: 1 opened") {
				t.Fatalf("summary: %q", s)
			}
			want := []string{
				"inactive_identity GitLab: u-old (carol@acme.com)",
				"orphan_identity GitLab: svc-ci",
				"privileged_entitlement GitLab: u-alice (ALICE@acme.com)",
				"privileged_entitlement GitLab: u-bob (bob@acme.com)",
				"terminated_employee_active_identity GitLab: u-bob (bob@acme.com)",
			}
			if got := f.open(t); !slices.Equal(got, want) {
				t.Fatalf("open findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}
