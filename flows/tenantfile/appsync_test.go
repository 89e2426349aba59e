package tenantfile

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/accessbot/accessbot/store"
)

func TestEveryCron(t *testing.T) {
	for _, tc := range []struct {
		every time.Duration
		want  string // with M for the application's minute, H for its hour
	}{
		{15 * time.Minute, "*/15 * * * *"},
		{30 * time.Minute, "*/30 * * * *"},
		{time.Hour, "M * * * *"},
		{6 * time.Hour, "M */6 * * *"},
		{12 * time.Hour, "M */12 * * *"},
		{24 * time.Hour, "M H * * *"},
		{7 * time.Hour, ""},
		{45 * time.Minute, ""},
		{5 * time.Minute, ""},
		{48 * time.Hour, ""},
	} {
		got, err := everyCron(tc.every, "Microsoft Entra ID")
		if tc.want == "" {
			if err == nil || !strings.Contains(err.Error(), "does not divide a day") {
				t.Errorf("%s: %q, %v; want refused", tc.every, got, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.every, err)
		}
		f, w := strings.Fields(got), strings.Fields(tc.want)
		for i := range w {
			if w[i] != "M" && w[i] != "H" && f[i] != w[i] || (w[i] == "M" || w[i] == "H") && strings.ContainsAny(f[i], "*/") {
				t.Errorf("%s: %q; want the shape %q", tc.every, got, tc.want)
			}
		}
	}
	a, _ := everyCron(6*time.Hour, "Wiki")
	b, _ := everyCron(6*time.Hour, "Microsoft Entra ID")
	if a == b {
		t.Errorf("two applications start on the same minute: %q", a)
	}
}

func withSync(t *testing.T, sync string) string {
	t.Helper()
	base := string(baseYAML(t))
	const anchor = "    connector: azuread\n"
	if !strings.Contains(base, anchor) {
		t.Fatal("the example has no azuread application")
	}
	return strings.Replace(base, anchor, anchor+sync, 1)
}

// applications[].sync becomes the application's connector_sync schedule;
// a changed schedule updates it, dropping it deletes it, and schedules:
// (which lists the other jobs) leaves it alone.
func TestApplyAppSync(t *testing.T) {
	t.Parallel()
	forEachDriver(t, func(t *testing.T, s store.Store) {
		ctx := context.Background()
		src := withSync(t, "    sync: {every: 6h}\n")
		res := mustApply(t, s, []byte(src))
		ten, err := s.GetTenantBySlug(ctx, "acme")
		if err != nil {
			t.Fatal(err)
		}
		sc, err := s.ListSchedules(ctx, ten.ID)
		if err != nil || len(sc) != 1 || sc[0].Job != "connector_sync:Microsoft Entra ID" || !strings.HasSuffix(sc[0].Cron, " */6 * * *") || sc[0].TimeZone != "UTC" {
			t.Fatalf("schedules = %+v, %v", sc, err)
		}
		if got, want := lines(res), `+ sync Microsoft Entra ID: cron "`+sc[0].Cron+`", time_zone UTC`; !strings.Contains(got, want+"\n") {
			t.Fatalf("changes lack %q:\n%s", want, got)
		}
		if res := mustApply(t, s, []byte(src)); len(res.Changes) != 0 {
			t.Fatalf("second apply changed %s", lines(res))
		}
		res = mustApply(t, s, []byte(withSync(t, "    sync: {cron: \"30 2 * * *\", time_zone: Europe/Berlin}\n")+"schedules: []\n"))
		if got := lines(res); got != `~ sync Microsoft Entra ID: cron "`+sc[0].Cron+`"→"30 2 * * *", time_zone UTC→Europe/Berlin`+"\n" {
			t.Fatalf("changes:\n%s", got)
		}
		res = mustApply(t, s, []byte(withSync(t, "")))
		if got := lines(res); got != "- sync Microsoft Entra ID\n" {
			t.Fatalf("changes:\n%s", got)
		}
		if sc, _ := s.ListSchedules(ctx, ten.ID); len(sc) != 0 {
			t.Fatalf("schedules left: %+v", sc)
		}
	})
}

func TestBadAppSyncRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, src, want string }{
		{"every not dividing a day", withSync(t, "    sync: {every: 7h}\n"), "sync.every: 7h0m0s does not divide a day"},
		{"not a duration", withSync(t, "    sync: {every: often}\n"), `sync.every: "often" is not a duration`},
		{"both", withSync(t, "    sync: {every: 6h, cron: \"0 * * * *\"}\n"), "give every: or cron:, not both"},
		{"neither", withSync(t, "    sync: {time_zone: UTC}\n"), "give every: (e.g. 6h) or cron:"},
		{"bad cron", withSync(t, "    sync: {cron: \"0 25 * * *\"}\n"), "sync.cron: bad cron expression"},
		{"bad zone", withSync(t, "    sync: {every: 1h, time_zone: Mars/Olympus}\n"), "sync.time_zone: unknown time zone"},
		{"unknown key", withSync(t, "    sync: {every: 1h, at: noon}\n"), "sync.at"},
		{"manual application", strings.Replace(string(baseYAML(t)), "    connector: manual\n", "    connector: manual\n    sync: {every: 1h}\n", 1), "a sync needs a directory connector"},
		{"not a directory connector", strings.Replace(string(baseYAML(t)), "    connector: gitlab\n", "    connector: gitlab\n    sync: {every: 1h}\n", 1) +
			"connectors:\n  - name: gitlab\n    type: gitlab\n    token_env: GITLAB_TOKEN\n", `connector "gitlab" is not an azuread or scim connector`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("tenant.yaml", []byte(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant %q", err, tc.want)
			}
		})
	}
}
