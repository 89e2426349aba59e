package tenantfile

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/store"
)

const campaignsYAML = `
campaigns:
  - name: Quarterly GitLab
    applications: [GitLab, AWS]
    privileged_only: true
    levels: [manager, app_owner]
    cron: "0 9 1 */3 *"
    time_zone: Europe/Berlin
    due_after: 14d
  - name: Salesforce clean-up
    applications: [Salesforce]
    levels: [app_owner]
    due: 2027-01-15
`

func campaignSnapshot(t *testing.T, s store.Store) string {
	return tenantsJSON(t, s, func(ctx context.Context, id string) (any, error) { return s.ListCampaignDefinitions(ctx, id) })
}

func TestApplyCampaigns(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		src := string(baseYAML(t)) + campaignsYAML
		got := lines(mustApply(t, s, []byte(src)))
		for _, want := range []string{
			`+ campaign Quarterly GitLab: applications [AWS GitLab] levels [manager app_owner] privileged_only cron "0 9 1 */3 *" Europe/Berlin due_after 14d`,
			`+ campaign Salesforce clean-up: applications [Salesforce] levels [app_owner] due 2027-01-15`,
		} {
			if !strings.Contains(got, want+"\n") {
				t.Errorf("changes lack %q:\n%s", want, got)
			}
		}
		ten, err := s.GetTenantBySlug(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		defs, err := s.ListCampaignDefinitions(ctx, ten.ID)
		if err != nil || len(defs) != 2 {
			t.Fatalf("definitions %+v, %v", defs, err)
		}
		q := defs[0]
		if q.Name != "Quarterly GitLab" || len(q.Scope.AppIDs) != 2 || !q.Scope.PrivilegedOnly || q.DueAfter != 14*24*time.Hour || q.TimeZone != "Europe/Berlin" {
			t.Fatalf("quarterly definition %+v", q)
		}
		if sf := defs[1]; sf.DueAt == nil || sf.DueAt.Format(time.RFC3339) != "2027-01-15T23:59:59Z" || sf.Cron != "" {
			t.Fatalf("one-off definition %+v", sf)
		}
		if res := mustApply(t, s, []byte(src)); len(res.Changes) != 0 {
			t.Fatalf("second apply changed %s", lines(res))
		}
		// Dropping one campaign deletes its definition.
		one := string(baseYAML(t)) + campaignsYAML[:strings.Index(campaignsYAML, "  - name: Salesforce")]
		if got := lines(mustApply(t, s, []byte(one))); got != "- campaign Salesforce clean-up\n" {
			t.Fatalf("changes:\n%s", got)
		}
	})
}

func TestBadCampaignRefusedWithLineAndField(t *testing.T) {
	t.Parallel()
	example := string(baseYAML(t))
	base := example + campaignsYAML
	first := strings.Count(example, "\n")
	lineOf := func(needle string) int {
		for i, l := range strings.Split(campaignsYAML, "\n") {
			if strings.Contains(l, needle) {
				return first + i + 1
			}
		}
		return -1
	}
	cases := []struct {
		name, old, new, at, want string
	}{
		{"cron does not parse", `cron: "0 9 1 */3 *"`, `cron: "0 9 1 */3"`, "cron:", `campaigns[0].cron: bad cron expression`},
		{"unknown time zone", "time_zone: Europe/Berlin", "time_zone: Europe/Berln", "time_zone:", `campaigns[0].time_zone: unknown time zone: "Europe/Berln"`},
		{"unknown application", "[GitLab, AWS]", "[GitLab, AWX]", "applications: [GitLab", `campaigns[0].applications[1]: no application "AWX"`},
		{"unknown reviewer", "levels: [manager, app_owner]", "levels: [manager, ceo]", "levels: [manager", `campaigns[0].levels[1]: "ceo" is not a reviewer`},
		{"cron without due_after", "    due_after: 14d\n", "", "- name: Quarterly", "campaigns[0].due_after: required with cron"},
		{"bad due date", "due: 2027-01-15", "due: 2027-13-45", "due: 2027", "campaigns[1].due:"},
		{"one-off without due", "    due: 2027-01-15\n", "", "- name: Salesforce", "campaigns[1].due: required without cron"},
		{"one-off already due", "due: 2027-01-15", "due: 2026-11-25", "due: 2027", "campaigns[1].due: 2026-11-25 is already past"},
		{"duplicate name", "name: Salesforce clean-up", "name: Quarterly GitLab", "name: Salesforce", `campaigns[1].name: duplicate campaign "Quarterly GitLab"`},
	}
	var edits []badEdit
	for _, tc := range cases {
		edits = append(edits, badEdit{tc.name, tc.old, tc.new, tc.want, lineOf(tc.at)})
	}
	refuseEdits(t, base, campaignSnapshot, edits)
}

// TestPastOneOffCampaign: a new one-off campaign due before the apply's now
// is refused (it would never launch); one stored while its date was ahead
// still applies unchanged once that date has passed.
func TestPastOneOffCampaign(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, s store.Store) {
		src := string(baseYAML(t)) + campaignsYAML
		late := func() time.Time { return time.Date(2027, 2, 1, 9, 0, 0, 0, time.UTC) }
		parse := func(src string) *File {
			f, err := Parse("tenant.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
		before := snapshot(t, s) + campaignSnapshot(t, s)
		_, err := NewApplier(s, late, zerolog.Nop()).Apply(context.Background(), parse(src), false)
		if err == nil || !strings.Contains(err.Error(), "campaigns[1].due: 2027-01-15 is already past") {
			t.Fatalf("new past one-off: got %v", err)
		}
		sameSnapshot(t, before, snapshot(t, s)+campaignSnapshot(t, s))
		mustApply(t, s, []byte(src)) // on testNow, 2026-11-26: ahead
		res, err := NewApplier(s, late, zerolog.Nop()).Apply(context.Background(), parse(src), false)
		if err != nil || len(res.Changes) != 0 {
			t.Fatalf("unchanged file after the due date: %v, changes %v", err, res)
		}
	})
}

// TestCampaignDueTime: a bare due date means the end of that day (UTC); a
// full RFC 3339 time is kept as given, shown as given in the diff, and a
// change of the hour alone is a change.
func TestCampaignDueTime(t *testing.T) {
	t.Parallel()
	cases := []struct{ due, stored, diff string }{
		{"2027-03-31", "2027-03-31T23:59:59Z", "due 2027-03-31"},
		{"2027-03-31T17:00:00Z", "2027-03-31T17:00:00Z", "due 2027-03-31T17:00:00Z"},
		{"2027-03-31T17:00:00+02:00", "2027-03-31T15:00:00Z", "due 2027-03-31T15:00:00Z"},
	}
	forEachDriver(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		for _, tc := range cases {
			src := string(baseYAML(t)) + strings.Replace(campaignsYAML, "due: 2027-01-15", "due: "+tc.due, 1)
			got := lines(mustApply(t, s, []byte(src)))
			if !strings.Contains(got, "campaign Salesforce clean-up: ") || !strings.Contains(got, tc.diff+"\n") {
				t.Fatalf("due %s: changes lack %q:\n%s", tc.due, tc.diff, got)
			}
			ten, err := s.GetTenantBySlug(ctx, "acme")
			if err != nil {
				t.Fatal(err)
			}
			defs, err := s.ListCampaignDefinitions(ctx, ten.ID)
			if err != nil || len(defs) != 2 || defs[1].DueAt == nil {
				t.Fatalf("definitions %+v, %v", defs, err)
			}
			if got := defs[1].DueAt.UTC().Format(time.RFC3339); got != tc.stored {
				t.Fatalf("due %s stored as %s, want %s", tc.due, got, tc.stored)
			}
			if res := mustApply(t, s, []byte(src)); len(res.Changes) != 0 {
				t.Fatalf("due %s: second apply changed %s", tc.due, lines(res))
			}
		}
	})
}

// TestDefaultReminderNote: apply says when review reminders will run on the
// default schedule (campaigns, but no review_reminders schedule), and says
// nothing once the file schedules them or has no campaigns.
func TestDefaultReminderNote(t *testing.T) {
	t.Parallel()
	const note = "review reminders: default schedule 0 9 * * * UTC"
	reminders := "  - job: review_reminders\n    cron: \"0 9 * * 1-5\"\n    time_zone: Europe/Berlin\n"
	cases := []struct { // in order, on one store
		name, sections string
		want           bool
	}{
		{"campaigns, no schedules", campaignsYAML, true},
		{"campaigns, digest schedule only", campaignsYAML + schedulesYAML, true},
		{"campaigns and a reminder schedule", campaignsYAML + schedulesYAML + reminders, false},
		{"schedules: left out: the stored reminder schedule stays", campaignsYAML, false},
		{"campaigns: left out: the stored ones stay", schedulesYAML, true},
		{"no campaigns", "\ncampaigns: []\n" + schedulesYAML, false},
	}
	forEachDriver(t, func(t *testing.T, s store.Store) {
		for _, tc := range cases {
			res := mustApply(t, s, []byte(string(baseYAML(t))+tc.sections))
			got := strings.Contains(strings.Join(res.Notes, "\n"), note)
			if got != tc.want {
				t.Errorf("%s: notes %q; want the default note: %v", tc.name, res.Notes, tc.want)
			}
		}
	})
}
