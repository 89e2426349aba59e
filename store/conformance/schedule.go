package conformance

import (
	"sync"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

func testSchedules(t *testing.T, s store.Store) {
	t.Run("PutKeepsSinceUnlessChanged", func(t *testing.T) {
		t.Parallel()
		ten := newTenant(t, s)
		since := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
		sc := &store.Schedule{TenantID: ten.ID, Job: "findings_digest", Cron: "0 9 * * *", TimeZone: "Europe/Berlin", Since: since}
		ok(t, s.PutSchedule(ctx(), sc), "put")
		again := &store.Schedule{TenantID: ten.ID, Job: "findings_digest", Cron: "0 9 * * *", TimeZone: "Europe/Berlin", Since: since.Add(time.Hour)}
		ok(t, s.PutSchedule(ctx(), again), "put same")
		if !again.Since.Equal(since) {
			t.Fatalf("since moved to %s although nothing changed", again.Since)
		}
		changed := &store.Schedule{TenantID: ten.ID, Job: "findings_digest", Cron: "0 8 * * *", TimeZone: "Europe/Berlin", Since: since.Add(2 * time.Hour)}
		ok(t, s.PutSchedule(ctx(), changed), "put changed")
		if !changed.Since.Equal(since.Add(2 * time.Hour)) {
			t.Fatalf("since = %s after a cron change, want %s", changed.Since, since.Add(2*time.Hour))
		}
		list, err := s.ListSchedules(ctx(), ten.ID)
		ok(t, err, "list")
		if len(list) != 1 || list[0].Cron != "0 8 * * *" {
			t.Fatalf("list = %+v", list)
		}
		other := newTenant(t, s)
		if l, _ := s.ListSchedules(ctx(), other.ID); len(l) != 0 {
			t.Fatalf("another tenant sees %d schedules", len(l))
		}
		isErr(t, s.DeleteSchedule(ctx(), other.ID, "findings_digest"), accessbot.ErrNotFound, "delete from another tenant")
		ok(t, s.DeleteSchedule(ctx(), ten.ID, "findings_digest"), "delete")
	})

	t.Run("SkipOvertakenSlots", func(t *testing.T) {
		t.Parallel()
		ten, other := newTenant(t, s), newTenant(t, s)
		day := func(d int) time.Time { return time.Date(2026, 7, d, 7, 0, 0, 0, time.UTC) }
		now := day(5)
		fail := func(tid, job string, at, retry time.Time) {
			t.Helper()
			sl, won, err := s.ClaimSlot(ctx(), tid, job, at, "r1", at, time.Minute)
			ok(t, err, "claim")
			if !won {
				t.Fatalf("claim %s %s not won", job, at)
			}
			ok(t, s.FinishSlot(ctx(), tid, job, at, "r1", sl.Attempts, store.SlotRunning, "429", at, retry), "fail attempt")
		}
		fail(ten.ID, "digest", day(1), day(1).Add(time.Minute))    // overtaken, retry long due: skipped
		fail(ten.ID, "digest", day(2), now.Add(time.Hour))         // overtaken, but its retry is still ahead: kept
		fail(ten.ID, "digest", day(3), day(3).Add(time.Minute))    // latest slot of its job: kept (the scheduler retries it)
		fail(ten.ID, "other_job", day(1), day(1).Add(time.Minute)) // no later slot of its own job: kept
		fail(other.ID, "digest", day(1), day(1).Add(time.Minute))  // another tenant's
		fail(other.ID, "digest", day(3), day(3).Add(time.Minute))
		n, err := s.SkipOvertakenSlots(ctx(), ten.ID, now)
		ok(t, err, "skip overtaken")
		if n != 1 {
			t.Fatalf("skipped %d slots, want 1", n)
		}
		for _, w := range []struct {
			job  string
			day  int
			want store.SlotStatus
		}{{"digest", 1, store.SlotSkipped}, {"digest", 2, store.SlotRunning}, {"digest", 3, store.SlotRunning}, {"other_job", 1, store.SlotRunning}} {
			sl, err := s.GetSlot(ctx(), ten.ID, w.job, day(w.day))
			ok(t, err, "get slot")
			if sl.Status != w.want {
				t.Errorf("slot %s of day %d is %s, want %s", w.job, w.day, sl.Status, w.want)
			}
			if w.want == store.SlotSkipped && (sl.FinishedAt == nil || !sl.FinishedAt.Equal(now)) {
				t.Errorf("skipped slot finished at %v, want %v", sl.FinishedAt, now)
			}
		}
		if sl, err := s.GetSlot(ctx(), other.ID, "digest", day(1)); err != nil || sl.Status != store.SlotRunning {
			t.Fatalf("another tenant's slot: %+v, %v", sl, err)
		}
		// A skipped slot is finished: it cannot be claimed again.
		if _, won, err := s.ClaimSlot(ctx(), ten.ID, "digest", day(1), "r2", now, time.Minute); err != nil || won {
			t.Fatalf("claim of a skipped slot: won %v, %v", won, err)
		}
	})

	t.Run("PruneDeliveries", func(t *testing.T) {
		t.Parallel()
		ten, other := newTenant(t, s), newTenant(t, s)
		t0 := time.Date(2026, 7, 1, 7, 0, 0, 0, time.UTC)
		send := func(tid, key string, at time.Time, sent bool) {
			t.Helper()
			_, won, err := s.ClaimDelivery(ctx(), tid, key, at, time.Minute)
			ok(t, err, "claim delivery")
			if !won {
				t.Fatalf("claim %s not won", key)
			}
			if sent {
				ok(t, s.CompleteDelivery(ctx(), tid, key, "C1", "1.0", at), "complete delivery")
			}
		}
		send(ten.ID, "critical:old", t0, true)
		send(ten.ID, "critical:stuck", t0, false) // never sent: kept
		send(ten.ID, "critical:new", t0.AddDate(0, 0, 40), true)
		send(other.ID, "critical:old", t0, true)
		n, err := s.PruneDeliveries(ctx(), ten.ID, t0.AddDate(0, 0, 10))
		ok(t, err, "prune")
		if n != 1 {
			t.Fatalf("pruned %d deliveries, want 1", n)
		}
		left, err := s.ListDeliveries(ctx(), ten.ID, "critical:")
		ok(t, err, "list")
		if len(left) != 2 || left[0].Key != "critical:new" || left[1].Key != "critical:stuck" {
			t.Fatalf("left %+v", left)
		}
		if l, _ := s.ListDeliveries(ctx(), other.ID, "critical:"); len(l) != 1 {
			t.Fatalf("another tenant's deliveries pruned: %+v", l)
		}
	})

	t.Run("ClaimSlotOneWinner", func(t *testing.T) {
		t.Parallel()
		ten := newTenant(t, s)
		at := time.Date(2026, 7, 1, 7, 0, 0, 0, time.UTC)
		now := at.Add(time.Minute)
		var mu sync.Mutex
		wins := 0
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				_, won, err := s.ClaimSlot(ctx(), ten.ID, "findings_digest", at, "r"+string(rune('0'+i)), now, time.Minute)
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				if won {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d winners, want 1", wins)
		}
		sl, err := s.GetSlot(ctx(), ten.ID, "findings_digest", at)
		ok(t, err, "get")
		if sl.Status != store.SlotRunning || sl.Attempts != 1 || !sl.At.Equal(at) {
			t.Fatalf("slot = %+v", sl)
		}
		// Another tenant's identical slot is its own.
		other := newTenant(t, s)
		if _, won, err := s.ClaimSlot(ctx(), other.ID, "findings_digest", at, "x", now, time.Minute); err != nil || !won {
			t.Fatalf("other tenant's claim: won=%v err=%v", won, err)
		}
	})

	t.Run("ReclaimAfterLeaseAndFencing", func(t *testing.T) {
		t.Parallel()
		ten := newTenant(t, s)
		at := time.Date(2026, 7, 1, 7, 0, 0, 0, time.UTC)
		now := at
		first, won, err := s.ClaimSlot(ctx(), ten.ID, "j", at, "a", now, time.Minute)
		ok(t, err, "claim")
		if !won {
			t.Fatal("first claim lost")
		}
		if _, won, _ := s.ClaimSlot(ctx(), ten.ID, "j", at, "b", now.Add(30*time.Second), time.Minute); won {
			t.Fatal("claimed while the lease runs")
		}
		// a fails; retry in 10s.
		ok(t, s.FinishSlot(ctx(), ten.ID, "j", at, "a", first.Attempts, store.SlotRunning, "slack 429", now.Add(time.Second), now.Add(10*time.Second)), "fail attempt")
		if _, won, _ := s.ClaimSlot(ctx(), ten.ID, "j", at, "b", now.Add(5*time.Second), time.Minute); won {
			t.Fatal("claimed before the retry time")
		}
		second, won, err := s.ClaimSlot(ctx(), ten.ID, "j", at, "b", now.Add(10*time.Second), time.Minute)
		ok(t, err, "reclaim")
		if !won || second.Attempts != 2 || second.Owner != "b" || second.LastError != "slack 429" {
			t.Fatalf("reclaim: won=%v slot=%+v", won, second)
		}
		// a's late finish loses: the claim moved on.
		isErr(t, s.FinishSlot(ctx(), ten.ID, "j", at, "a", first.Attempts, store.SlotDone, "", now.Add(11*time.Second), time.Time{}), accessbot.ErrStale, "stale finish")
		ok(t, s.FinishSlot(ctx(), ten.ID, "j", at, "b", second.Attempts, store.SlotDone, "", now.Add(12*time.Second), time.Time{}), "finish")
		if _, won, _ := s.ClaimSlot(ctx(), ten.ID, "j", at, "c", now.Add(time.Hour), time.Minute); won {
			t.Fatal("claimed a done slot")
		}
		last, err := s.LastSlot(ctx(), ten.ID, "j")
		ok(t, err, "last")
		if last.Status != store.SlotDone || last.FinishedAt == nil {
			t.Fatalf("last = %+v", last)
		}
		_, err = s.LastDoneSlotBefore(ctx(), ten.ID, "j", at)
		isErr(t, err, accessbot.ErrNotFound, "no done slot before the first")
		later := at.Add(24 * time.Hour)
		_, _, err = s.ClaimSlot(ctx(), ten.ID, "j", later, "c", later, time.Minute)
		ok(t, err, "claim next day")
		prev, err := s.LastDoneSlotBefore(ctx(), ten.ID, "j", later)
		ok(t, err, "last done before")
		if !prev.At.Equal(at) {
			t.Fatalf("last done before %s = %s", later, prev.At)
		}
		if l, _ := s.LastSlot(ctx(), ten.ID, "j"); !l.At.Equal(later) {
			t.Fatalf("last slot = %s, want %s", l.At, later)
		}
		_, err = s.LastSlot(ctx(), ten.ID, "other-job")
		isErr(t, err, accessbot.ErrNotFound, "no slots")
	})

	t.Run("AlertSettings", func(t *testing.T) {
		t.Parallel()
		ten := newTenant(t, s)
		_, err := s.GetAlertSettings(ctx(), ten.ID)
		isErr(t, err, accessbot.ErrNotFound, "none yet")
		a := &store.AlertSettings{TenantID: ten.ID, Channels: []string{"C1", "C2"}, AllClear: true}
		ok(t, s.PutAlertSettings(ctx(), a), "put")
		since := a.Since
		b := &store.AlertSettings{TenantID: ten.ID, Channels: []string{"C3"}, AllClear: false, Since: since.Add(time.Hour)}
		ok(t, s.PutAlertSettings(ctx(), b), "replace")
		got, err := s.GetAlertSettings(ctx(), ten.ID)
		ok(t, err, "get")
		if len(got.Channels) != 1 || got.Channels[0] != "C3" || got.AllClear || !got.Since.Equal(since) {
			t.Fatalf("settings = %+v (since want %s)", got, since)
		}
		ok(t, s.DeleteAlertSettings(ctx(), ten.ID), "delete")
	})

	t.Run("Deliveries", func(t *testing.T) {
		t.Parallel()
		ten := newTenant(t, s)
		now := time.Date(2026, 7, 1, 7, 0, 0, 0, time.UTC)
		key := "findings_digest:2026-07-01T07:00:00Z:C1:0"
		var mu sync.Mutex
		wins := 0
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				_, won, err := s.ClaimDelivery(ctx(), ten.ID, key, now, time.Minute)
				if err != nil {
					t.Errorf("claim delivery: %v", err)
				}
				if won {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("%d delivery winners, want 1", wins)
		}
		ok(t, s.ReleaseDelivery(ctx(), ten.ID, key, now.Add(5*time.Second)), "release")
		d, won, err := s.ClaimDelivery(ctx(), ten.ID, key, now.Add(5*time.Second), time.Minute)
		ok(t, err, "reclaim")
		if !won || d.Attempts != 2 {
			t.Fatalf("reclaim after release: won=%v %+v", won, d)
		}
		if !d.EarlierMayHavePosted() {
			t.Fatalf("claim after a plain release: earlier claim may have posted, got %+v", d)
		}
		// A send that never left: the next claim need not look for it.
		isErr(t, s.ReleaseUnsentDelivery(ctx(), ten.ID, key, 1, now.Add(5*time.Second)), accessbot.ErrStale, "release unsent, stale attempt")
		ok(t, s.ReleaseUnsentDelivery(ctx(), ten.ID, key, 2, now.Add(5*time.Second)), "release unsent")
		d, won, err = s.ClaimDelivery(ctx(), ten.ID, key, now.Add(5*time.Second), time.Minute)
		ok(t, err, "reclaim after unsent")
		if !won || d.Attempts != 3 || d.UnsentThrough != 2 || d.EarlierMayHavePosted() {
			t.Fatalf("reclaim after an unsent release: won=%v %+v", won, d)
		}
		ok(t, s.ReleaseDelivery(ctx(), ten.ID, key, now.Add(5*time.Second)), "release maybe sent")
		d, won, err = s.ClaimDelivery(ctx(), ten.ID, key, now.Add(5*time.Second), time.Minute)
		ok(t, err, "reclaim after maybe sent")
		if !won || d.Attempts != 4 || !d.EarlierMayHavePosted() {
			t.Fatalf("reclaim after a release that may have posted: won=%v %+v", won, d)
		}
		ok(t, s.CompleteDelivery(ctx(), ten.ID, key, "C1", "1.0001", now.Add(6*time.Second)), "complete")
		d, won, err = s.ClaimDelivery(ctx(), ten.ID, key, now.Add(time.Hour), time.Minute)
		ok(t, err, "claim sent")
		if won || d.Status != store.DeliverySent || d.TS != "1.0001" || d.ChannelID != "C1" || d.SentAt == nil {
			t.Fatalf("claim of a sent key: won=%v %+v", won, d)
		}
		isErr(t, s.CompleteDelivery(ctx(), ten.ID, key, "C1", "2", now), accessbot.ErrStale, "complete twice")
		_, _, err = s.ClaimDelivery(ctx(), ten.ID, "findings_digest:2026-07-01T07:00:00Z:C2:0", now, time.Minute)
		ok(t, err, "claim second")
		_, _, err = s.ClaimDelivery(ctx(), ten.ID, "critical:f1:C1", now, time.Minute)
		ok(t, err, "claim critical")
		list, err := s.ListDeliveries(ctx(), ten.ID, "findings_digest:2026-07-01T07:00:00Z:")
		ok(t, err, "list")
		if len(list) != 2 || list[0].Key != key {
			t.Fatalf("list = %+v", list)
		}
		other := newTenant(t, s)
		if l, _ := s.ListDeliveries(ctx(), other.ID, ""); len(l) != 0 {
			t.Fatalf("another tenant sees %d deliveries", len(l))
		}
	})
}
