package handlers_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/flows/digest"
	"github.com/accessbot/accessbot/flows/schedule"
	"github.com/accessbot/accessbot/store"
)

// TestDigestTimesInScheduleZone: a tenant whose digest runs on Berlin time
// sees Berlin times with their abbreviation (CEST in July), never UTC, in
// the critical alert, the digest, the all-clear and the status line an
// Acknowledge click writes.
func TestDigestTimesInScheduleZone(t *testing.T) {
	start := time.Date(2026, 7, 1, 6, 0, 0, 0, time.UTC) // 08:00 CEST
	e := newDigestEnv(t, "sqlite", start)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := e.fake.AddUser(slackfake.User{ID: "UADA", TeamID: "T1", Name: "ada", RealName: "Ada Lovelace", Email: "ada@acme.test"}); err != nil {
		t.Fatal(err)
	}
	must(t, e.st.CreateUser(ctx, &accessbot.User{TenantID: e.tenant, Email: "ada@acme.test", Name: "Ada Lovelace", Status: accessbot.UserActive, Role: accessbot.RoleAdmin}))
	must(t, e.st.PutAlertSettings(ctx, &store.AlertSettings{TenantID: e.tenant, Channels: []string{"C1"}, AllClear: true, Since: start.Add(-time.Hour)}))
	must(t, e.st.PutSchedule(ctx, &store.Schedule{TenantID: e.tenant, Job: digest.Job, Cron: "0 9 * * *", TimeZone: "Europe/Berlin", Since: start}))

	startDigestBot(t, ctx, e)

	e.report(t, "terminated_active", accessbot.SeverityCritical, 1)
	svc := digest.New(e.st, e.notifier(t, 4), digest.Config{Clock: e.now.Now})
	sch, err := schedule.New(schedule.Config{Store: e.st, Clock: e.now.Now, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
	must(t, err)
	must(t, sch.Register(digest.Job, svc))
	sch.Every("critical_alerts", svc.AlertCritical)
	// The alert at once; the 09:00 CEST digest; the next day's all clear.
	for _, at := range []time.Time{start, time.Date(2026, 7, 1, 7, 0, 0, 0, time.UTC), time.Date(2026, 7, 2, 7, 0, 0, 0, time.UTC)} {
		e.now.Set(at)
		must(t, sch.Tick(ctx))
	}

	for _, tc := range []struct{ prefix, want string }{
		{"Critical finding", "First seen 2026-07-01 08:00 CEST"},
		{"Findings digest", "First seen 2026-07-01 08:00 CEST"},
		{":white_check_mark: All clear", "since Wed 1 Jul 09:00 CEST"},
	} {
		msgs := e.topLevel("C1", tc.prefix)
		if len(msgs) != 1 {
			t.Fatalf("%d messages starting %q, want 1", len(msgs), tc.prefix)
		}
		body := msgs[0].Text + string(msgs[0].Blocks)
		if !strings.Contains(body, tc.want) || strings.Contains(body, "UTC") {
			t.Errorf("%s: want %q and no UTC in %s", tc.prefix, tc.want, body)
		}
	}

	alert := e.topLevel("C1", "Critical finding")[0]
	found, err := e.st.ListFindings(ctx, e.tenant, accessbot.FindingFilter{})
	must(t, err)
	e.now.Set(time.Date(2026, 7, 2, 7, 30, 0, 0, time.UTC))
	e.clickFinding(t, ctx, "UADA", "C1", alert.TS, "ack", found[0].ID)
	if _, err := e.fake.WaitForMessage(ctx, "C1", func(m slackfake.Message) bool {
		return m.TS == alert.TS && strings.Contains(string(m.Blocks), "Acknowledged by Ada Lovelace at 2026-07-02 09:30 CEST")
	}); err != nil {
		t.Fatalf("status line not in Berlin time: %v", err)
	}
}
