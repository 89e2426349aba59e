package schedule_test

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/flows/schedule"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

// TestHousekeepingFromTheScheduler: a slot whose attempt failed and whose
// retry falls after the next slot is overtaken (the scheduler runs the
// later slot instead) and would stay running for good; housekeeping,
// run on the scheduler's ticks, closes it as skipped once its lease is out,
// and prunes outbox rows sent more than the retention ago, at most once an
// hour.
func TestHousekeepingFromTheScheduler(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := storetest.Open(t, driver)
			start := utc(2026, 7, 1, 6, 0)
			c := &clock{t: start}
			ten := newTenant(t, st, "acme")
			putSchedule(t, st, ten, "findings_digest", "0 7 * * *", "UTC", start)
			rec := newRecorder()
			day1 := utc(2026, 7, 1, 7, 0)
			rec.failFirst[ten+"/findings_digest/"+day1.Format(time.RFC3339)] = true
			s, err := schedule.New(schedule.Config{Store: st, Clock: c.Now, Log: zerolog.Nop(),
				Backoff: func(int) time.Duration { return 48 * time.Hour }}) // retry after the next slot
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Register("findings_digest", rec); err != nil {
				t.Fatal(err)
			}
			hk := schedule.NewHousekeeping(st, 30*24*time.Hour, time.Hour, zerolog.Nop())
			s.Every("housekeeping", hk.Run)

			// An outbox row sent at the start, and one claimed but never sent.
			for _, key := range []string{"critical:sent", "critical:stuck"} {
				if _, _, err := st.ClaimDelivery(ctx, ten, key, start, time.Minute); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.CompleteDelivery(ctx, ten, "critical:sent", "C1", "1.0", start); err != nil {
				t.Fatal(err)
			}

			status := func(at time.Time) store.SlotStatus {
				t.Helper()
				sl, err := st.GetSlot(ctx, ten, "findings_digest", at)
				if err != nil {
					t.Fatal(err)
				}
				return sl.Status
			}
			tick := func(at time.Time) {
				t.Helper()
				c.Set(at)
				if err := s.Tick(ctx); err != nil && !isRetry(err) {
					t.Fatalf("tick at %s: %v", at, err)
				}
			}
			tick(day1)                     // fails; retry on 3 July
			tick(day1.Add(24 * time.Hour)) // 2 July runs; 1 July is overtaken
			if got := status(day1); got != store.SlotRunning {
				t.Fatalf("overtaken slot is %s before its lease ran out, want running", got)
			}
			if got := status(day1.Add(24 * time.Hour)); got != store.SlotDone {
				t.Fatalf("2 July slot is %s", got)
			}
			tick(day1.Add(48*time.Hour + time.Minute)) // 3 July: the 1 July lease is out
			if got := status(day1); got != store.SlotSkipped {
				t.Fatalf("overtaken slot is %s, want skipped", got)
			}
			if n := rec.attempts[ten+"/findings_digest/"+day1.Format(time.RFC3339)]; n != 1 {
				t.Fatalf("overtaken slot attempted %d times, want 1", n)
			}

			left := func() int {
				t.Helper()
				ds, err := st.ListDeliveries(ctx, ten, "critical:")
				if err != nil {
					t.Fatal(err)
				}
				return len(ds)
			}
			if n := left(); n != 2 {
				t.Fatalf("%d deliveries before the retention ran out, want 2", n)
			}
			expiry := start.Add(30 * 24 * time.Hour)
			tick(expiry.Add(-30 * time.Minute)) // a housekeeping run just before the row expires...
			tick(expiry.Add(time.Minute))       // ...so none within the hour after it
			if n := left(); n != 2 {
				t.Fatalf("%d deliveries: housekeeping ran twice within its interval", n)
			}
			tick(expiry.Add(31 * time.Minute))
			if n := left(); n != 1 {
				t.Fatalf("%d deliveries after the retention, want only the unsent one", n)
			}
		})
	}
}
