package tenantfile

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/accessbot/accessbot/store"
)

const schedulesYAML = `
alerts:
  channels: [C0ALERTS01, C0SECOPS02]
  all_clear: false
schedules:
  - job: findings_digest
    cron: "0 9 * * *"
    time_zone: Europe/Berlin
`

// scheduleSnapshot is the schedules and alert settings of every tenant.
func scheduleSnapshot(t *testing.T, s store.Store) string {
	return tenantsJSON(t, s, func(ctx context.Context, id string) (any, error) {
		sc, err := s.ListSchedules(ctx, id)
		a, _ := s.GetAlertSettings(ctx, id)
		return []any{sc, a}, err
	})
}

func TestApplySchedulesAndAlerts(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		src := string(baseYAML(t)) + schedulesYAML
		res := mustApply(t, s, []byte(src))
		got := lines(res)
		for _, want := range []string{
			"+ alerts acme: channels [C0ALERTS01 C0SECOPS02], all_clear false",
			`+ schedule findings_digest: cron "0 9 * * *", time_zone Europe/Berlin`,
		} {
			if !strings.Contains(got, want+"\n") {
				t.Errorf("changes lack %q:\n%s", want, got)
			}
		}
		ten, err := s.GetTenantBySlug(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		sc, err := s.ListSchedules(ctx, ten.ID)
		if err != nil || len(sc) != 1 || sc[0].Cron != "0 9 * * *" || sc[0].TimeZone != "Europe/Berlin" {
			t.Fatalf("schedules = %+v, %v", sc, err)
		}
		a, err := s.GetAlertSettings(ctx, ten.ID)
		if err != nil || len(a.Channels) != 2 || a.AllClear {
			t.Fatalf("alerts = %+v, %v", a, err)
		}
		if res := mustApply(t, s, []byte(src)); len(res.Changes) != 0 {
			t.Fatalf("second apply changed %s", lines(res))
		}

		// Change the time zone; drop the alerts key (left alone).
		changed := string(baseYAML(t)) + strings.Replace(schedulesYAML[strings.Index(schedulesYAML, "schedules:"):], "Europe/Berlin", "America/New_York", 1)
		res = mustApply(t, s, []byte(changed))
		if got := lines(res); got != "~ schedule findings_digest: time_zone Europe/Berlin→America/New_York\n" {
			t.Fatalf("changes:\n%s", got)
		}
		// An empty schedules list deletes them.
		res = mustApply(t, s, []byte(string(baseYAML(t))+"schedules: []\n"))
		if got := lines(res); got != "- schedule findings_digest\n" {
			t.Fatalf("changes:\n%s", got)
		}
	})
}

func TestBadScheduleRefusedWithLineAndField(t *testing.T) {
	t.Parallel()
	example := string(baseYAML(t))
	base := example + schedulesYAML
	// Lines of the appended section: the example's lines, then schedulesYAML's.
	first := strings.Count(example, "\n")
	cases := []struct {
		name     string
		old, new string
		want     string
	}{
		{"cron does not parse", `cron: "0 9 * * *"`, `cron: "0 25 * * *"`, "cron: bad cron expression: \"0 25 * * *\""},
		{"cron with four fields", `cron: "0 9 * * *"`, `cron: "0 9 * *"`, "schedules[0].cron: bad cron expression"},
		{"unknown time zone", "time_zone: Europe/Berlin", "time_zone: Europe/Berln", `schedules[0].time_zone: unknown time zone: "Europe/Berln"`},
		{"unknown job", "job: findings_digest", "job: findings_digets", `schedules[0].job: "findings_digets" is not a job`},
		{"bad channel", "C0SECOPS02", "secops", `alerts.channels[1]: "secops" is not a Slack channel id`},
		{"all_clear not a bool", "all_clear: false", "all_clear: maybe", "alerts.all_clear: want true or false"},
	}
	lineOf := map[string]int{}
	for i, l := range strings.Split(schedulesYAML, "\n") {
		for _, key := range []string{"cron:", "time_zone:", "job:", "channels:", "all_clear:"} {
			if strings.Contains(l, key) {
				lineOf[key] = first + i + 1
			}
		}
	}
	var edits []badEdit
	for _, tc := range cases {
		key := strings.SplitN(tc.old, " ", 2)[0]
		if key == "C0SECOPS02" {
			key = "channels:"
		}
		edits = append(edits, badEdit{tc.name, tc.old, tc.new, tc.want, lineOf[key]})
	}
	refuseEdits(t, base, scheduleSnapshot, edits)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
