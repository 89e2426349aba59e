package handlers_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/digest"
	"github.com/accessbot/accessbot/flows/schedule"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

// TestDigestCatchUpAfterOutage: three replicas, the fake Slack and the real
// store. Down over the 09:00 slot and back at 09:20, the digest still goes
// out, once; after a two-day outage only the latest missed slot's digest
// goes out (no flood), and it lists every finding opened since the last
// digest sent.
func TestDigestCatchUpAfterOutage(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			start := time.Date(2026, 7, 1, 5, 0, 0, 0, time.UTC) // 07:00 Berlin (CEST)
			e := newDigestEnv(t, driver, start)
			ctx := context.Background()
			must(t, e.st.PutAlertSettings(ctx, &store.AlertSettings{TenantID: e.tenant, Channels: []string{"C1"}, AllClear: false, Since: start}))
			must(t, e.st.PutSchedule(ctx, &store.Schedule{TenantID: e.tenant, Job: digest.Job, Cron: "0 9 * * *", TimeZone: "Europe/Berlin", Since: start}))
			var scheds []*schedule.Scheduler
			for i := range 3 {
				s, err := schedule.New(schedule.Config{Store: e.st, Owner: fmt.Sprintf("r%d", i), Clock: e.now.Now})
				must(t, err)
				must(t, s.Register(digest.Job, digest.New(e.st, e.notifier(t, 1), digest.Config{Clock: e.now.Now})))
				scheds = append(scheds, s)
			}
			tickAt := func(at time.Time) {
				e.now.Set(at)
				var wg sync.WaitGroup
				for _, s := range scheds {
					wg.Go(func() { must(t, s.Tick(ctx)) })
				}
				wg.Wait()
			}
			digests := func() []string {
				var out []string
				for _, m := range e.topLevel("C1", "Findings digest") {
					out = append(out, m.Text)
				}
				return out
			}

			// 1 July: down at 09:00 Berlin (07:00Z), back at 09:20.
			e.report(t, "scanner.a", accessbot.SeverityHigh, 2)
			tickAt(start.Add(time.Hour))                         // 08:00 Berlin: nothing due
			tickAt(time.Date(2026, 7, 1, 7, 20, 0, 0, time.UTC)) // 09:20 Berlin
			tickAt(time.Date(2026, 7, 1, 7, 21, 0, 0, time.UTC))
			if got := digests(); len(got) != 1 || !strings.HasPrefix(got[0], "Findings digest: 2 new") {
				t.Fatalf("after the 09:20 restart: digests %q, want one of 2 findings", got)
			}

			// Down from 2 July to 4 July 09:30 Berlin; findings keep coming in.
			e.now.Set(time.Date(2026, 7, 2, 12, 0, 0, 0, time.UTC))
			e.report(t, "scanner.b", accessbot.SeverityMedium, 3)
			e.now.Set(time.Date(2026, 7, 3, 12, 0, 0, 0, time.UTC))
			e.report(t, "scanner.c", accessbot.SeverityLow, 1)
			back := time.Date(2026, 7, 4, 7, 30, 0, 0, time.UTC)
			for at := back; at.Before(back.Add(time.Hour)); at = at.Add(7 * time.Minute) {
				tickAt(at)
			}
			got := digests()
			if len(got) != 2 || !strings.HasPrefix(got[1], "Findings digest: 4 new") {
				t.Fatalf("after a two-day outage: digests %q, want one more of 4 findings", got)
			}
			for _, day := range []int{2, 3} {
				if _, err := e.st.GetSlot(ctx, e.tenant, digest.Job, time.Date(2026, 7, day, 7, 0, 0, 0, time.UTC)); err == nil {
					t.Errorf("the missed slot of %d July was claimed", day)
				}
			}
		})
	}
}
