package schedule_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/schedule"
	"github.com/accessbot/accessbot/internal/metrics"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/backend"
	"github.com/accessbot/accessbot/store/storetest"
)

// clock is a shared, settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func utc(y int, m time.Month, d, h, mi int) time.Time {
	return time.Date(y, m, d, h, mi, 0, 0, time.UTC)
}

// recorder counts successful runs per slot and all attempts.
type recorder struct {
	mu        sync.Mutex
	done      map[string]int
	attempts  map[string]int
	failFirst map[string]bool // slot key → fail the first attempt
}

func newRecorder() *recorder {
	return &recorder{done: map[string]int{}, attempts: map[string]int{}, failFirst: map[string]bool{}}
}

func key(r schedule.Run) string { return r.TenantID + "/" + r.Job + "/" + r.Slot.Format(time.RFC3339) }

func (rec *recorder) Run(_ context.Context, r schedule.Run) error {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	k := key(r)
	rec.attempts[k]++
	if rec.failFirst[k] && rec.attempts[k] == 1 {
		return errors.New("slack said 429")
	}
	rec.done[k]++
	return nil
}

func newTenant(t *testing.T, st store.Store, slug string) string {
	t.Helper()
	ten := &accessbot.Tenant{Slug: slug, Name: slug}
	if err := st.CreateTenant(context.Background(), ten); err != nil {
		t.Fatal(err)
	}
	return ten.ID
}

func putSchedule(t *testing.T, st store.Store, tenant, job, cron, tz string, since time.Time) {
	t.Helper()
	if err := st.PutSchedule(context.Background(), &store.Schedule{TenantID: tenant, Job: job, Cron: cron, TimeZone: tz, Since: since}); err != nil {
		t.Fatal(err)
	}
}

func newSchedulers(t *testing.T, st store.Store, c *clock, job schedule.Job, n int) []*schedule.Scheduler {
	t.Helper()
	var out []*schedule.Scheduler
	for i := range n {
		s, err := schedule.New(schedule.Config{Store: st, Owner: fmt.Sprintf("replica-%d", i), Clock: c.Now,
			Backoff: func(int) time.Duration { return time.Minute }, Log: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Register("findings_digest", job); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// tickAll ticks every scheduler at once and waits for all of them.
func tickAll(t *testing.T, ss []*schedule.Scheduler) {
	t.Helper()
	var wg sync.WaitGroup
	for _, s := range ss {
		wg.Go(func() {
			if err := s.Tick(context.Background()); err != nil && !isRetry(err) {
				t.Errorf("tick: %v", err)
			}
		})
	}
	wg.Wait()
}

func isRetry(err error) bool { return err != nil && errorsContain(err, "slack said 429") }

func errorsContain(err error, s string) bool {
	return err != nil && len(err.Error()) > 0 && contains(err.Error(), s)
}

func contains(a, b string) bool {
	for i := 0; i+len(b) <= len(a); i++ {
		if a[i:i+len(b)] == b {
			return true
		}
	}
	return false
}

func slotCount(t *testing.T, kind, outcome string) float64 {
	t.Helper()
	var m dto.Metric
	if err := metrics.Slots.WithLabelValues(kind, outcome).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestThreeReplicasExactlyOnce runs three schedulers on one store over
// simulated days (with a two-day outage and a failing attempt) and checks
// every slot ran exactly once.
func TestThreeReplicasExactlyOnce(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			st := storetest.Open(t, driver)
			start := utc(2026, 3, 26, 0, 3)
			c := &clock{t: start}
			berlin := newTenant(t, st, "berlin")
			ny := newTenant(t, st, "ny")
			putSchedule(t, st, berlin, "findings_digest", "0 9 * * *", "Europe/Berlin", start)
			putSchedule(t, st, ny, "findings_digest", "30 1 * * *", "America/New_York", start)
			rec := newRecorder()
			// Berlin's 2026-03-28 09:00 CET (08:00 UTC) fails once and is retried.
			rec.failFirst[berlin+"/findings_digest/2026-03-28T08:00:00Z"] = true
			ss := newSchedulers(t, st, c, rec, 3)
			before := map[string]float64{}
			for _, o := range []string{"run", "skipped", "failed"} {
				before[o] = slotCount(t, "findings_digest", o)
			}

			step := 41 * time.Minute // coarse steps: every slot is caught up late, still once
			for c.Now().Before(utc(2026, 3, 31, 0, 0)) {
				tickAll(t, ss)
				c.Add(step)
			}
			// Two-day outage: nothing ticks from 03-31 until 04-02 12:00 UTC.
			c.Set(utc(2026, 4, 2, 12, 0))
			for c.Now().Before(utc(2026, 4, 3, 0, 0)) {
				tickAll(t, ss)
				c.Add(step)
			}

			want := []string{
				// Berlin 09:00: CET before the 29th, CEST from it.
				berlin + "/findings_digest/2026-03-26T08:00:00Z",
				berlin + "/findings_digest/2026-03-27T08:00:00Z",
				berlin + "/findings_digest/2026-03-28T08:00:00Z",
				berlin + "/findings_digest/2026-03-29T07:00:00Z",
				berlin + "/findings_digest/2026-03-30T07:00:00Z",
				berlin + "/findings_digest/2026-04-02T07:00:00Z", // only the latest after the outage
				ny + "/findings_digest/2026-03-26T05:30:00Z",
				ny + "/findings_digest/2026-03-27T05:30:00Z",
				ny + "/findings_digest/2026-03-28T05:30:00Z",
				ny + "/findings_digest/2026-03-29T05:30:00Z",
				ny + "/findings_digest/2026-03-30T05:30:00Z",
				ny + "/findings_digest/2026-04-02T05:30:00Z",
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			for _, k := range want {
				if rec.done[k] != 1 {
					t.Errorf("slot %s ran %d times, want 1", k, rec.done[k])
				}
			}
			if len(rec.done) != len(want) {
				t.Errorf("ran %d slots, want %d: %v", len(rec.done), len(want), rec.done)
			}
			if k := berlin + "/findings_digest/2026-03-28T08:00:00Z"; rec.attempts[k] != 2 {
				t.Errorf("failing slot attempted %d times, want 2", rec.attempts[k])
			}
			// accessbot_schedule_slots_total saw it: each slot run (at
			// least; the other driver's subtest counts too), the other
			// replicas' ticks skipped, the failing attempt failed.
			for o, want := range map[string]float64{"run": float64(len(want)), "skipped": 1, "failed": 1} {
				if d := slotCount(t, "findings_digest", o) - before[o]; d < want {
					t.Errorf("accessbot_schedule_slots_total{kind=findings_digest,outcome=%s} moved by %v, want at least %v", o, d, want)
				}
			}
		})
	}
}

// TestScheduleChangeAppliesNextTick changes the cron and time zone between
// two ticks of a running scheduler: the next tick uses them.
func TestScheduleChangeAppliesNextTick(t *testing.T) {
	st := storetest.Open(t, backend.SQLite)
	c := &clock{t: utc(2026, 7, 1, 6, 0)}
	ten := newTenant(t, st, "acme")
	putSchedule(t, st, ten, "findings_digest", "0 9 * * *", "Europe/Berlin", c.Now())
	rec := newRecorder()
	ss := newSchedulers(t, st, c, rec, 1)
	tickAll(t, ss) // 06:00 UTC = 08:00 Berlin: nothing due
	// Move the digest to 08:30 New York (12:30 UTC), effective now.
	c.Set(utc(2026, 7, 1, 6, 1))
	putSchedule(t, st, ten, "findings_digest", "30 8 * * *", "America/New_York", c.Now())
	c.Set(utc(2026, 7, 1, 7, 5)) // 09:05 Berlin: the old schedule would fire
	tickAll(t, ss)
	c.Set(utc(2026, 7, 1, 12, 31))
	tickAll(t, ss)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.done) != 1 || rec.done[ten+"/findings_digest/2026-07-01T12:30:00Z"] != 1 {
		t.Fatalf("ran %v, want only 2026-07-01T12:30:00Z", rec.done)
	}
}

// TestCatchUpAfterRestart: a scheduler that starts at 09:20 (a restart)
// runs the 09:00 slot once.
func TestCatchUpAfterRestart(t *testing.T) {
	st := storetest.Open(t, backend.SQLite)
	c := &clock{t: utc(2026, 7, 1, 7, 20)}
	ten := newTenant(t, st, "acme")
	putSchedule(t, st, ten, "findings_digest", "0 9 * * *", "Europe/Berlin", utc(2026, 6, 1, 0, 0))
	rec := newRecorder()
	tickAll(t, newSchedulers(t, st, c, rec, 1))
	tickAll(t, newSchedulers(t, st, c, rec, 1)) // another restart: already done
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.done[ten+"/findings_digest/2026-07-01T07:00:00Z"] != 1 || len(rec.done) != 1 {
		t.Fatalf("ran %v", rec.done)
	}
}

func TestRegisterTwiceFails(t *testing.T) {
	s, err := schedule.New(schedule.Config{Store: storetest.Open(t, backend.SQLite)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Register("x", newRecorder()); err != nil {
		t.Fatal(err)
	}
	if err := s.Register("x", newRecorder()); err == nil {
		t.Fatal("second registration accepted")
	}
}

// TestDefaultSchedule: a default schedule runs for a tenant it applies to
// and that has no schedule of its own for the job; a tenant's own schedule
// replaces it; bad defaults are refused at registration.
func TestDefaultSchedule(t *testing.T) {
	st := storetest.Open(t, backend.SQLite)
	c := &clock{t: utc(2026, 7, 1, 8, 0)}
	on, off, own := newTenant(t, st, "on"), newTenant(t, st, "off"), newTenant(t, st, "own")
	putSchedule(t, st, own, "review_reminders", "0 7 * * *", "UTC", utc(2026, 6, 1, 0, 0))
	rec := newRecorder()
	s, err := schedule.New(schedule.Config{Store: st, Clock: c.Now, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Default("review_reminders", "0 9 * * *", "UTC", nil); err == nil {
		t.Fatal("a default for an unregistered job accepted")
	}
	if err := s.Register("review_reminders", rec); err != nil {
		t.Fatal(err)
	}
	applies := func(_ context.Context, tenantID string) (time.Time, bool, error) {
		return utc(2026, 7, 1, 0, 0), tenantID != off, nil // slots from 1 July
	}
	if err := s.Default("review_reminders", "0 9 * *", "UTC", applies); err == nil {
		t.Fatal("a default with a bad cron accepted")
	}
	if err := s.Default("review_reminders", "0 9 * * *", "UTC", applies); err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{utc(2026, 7, 1, 8, 0), utc(2026, 7, 1, 9, 0), utc(2026, 7, 1, 9, 30)} {
		c.Set(at)
		if err := s.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := map[string]int{on + "/review_reminders/2026-07-01T09:00:00Z": 1, own + "/review_reminders/2026-07-01T07:00:00Z": 1}
	if fmt.Sprint(rec.done) != fmt.Sprint(want) {
		t.Fatalf("ran %v, want %v", rec.done, want)
	}
}

// TestRunNow runs a job outside its cron: it runs once at the clock's now,
// and the next scheduled slot still runs, with this one as the previous.
func TestRunNow(t *testing.T) {
	st := storetest.Open(t, backend.SQLite)
	c := &clock{t: utc(2026, 7, 1, 12, 0)}
	ten := newTenant(t, st, "acme")
	putSchedule(t, st, ten, "findings_digest", "0 9 * * *", "UTC", utc(2026, 7, 1, 10, 0))
	rec := newRecorder()
	s := newSchedulers(t, st, c, rec, 1)[0]
	ctx := context.Background()
	if err := s.RunNow(ctx, ten, "findings_digest"); err != nil {
		t.Fatal(err)
	}
	if err := s.RunNow(ctx, ten, "no_such_job"); err == nil || !contains(err.Error(), "findings_digest") {
		t.Fatalf("unknown job: %v, want an error listing the registered jobs", err)
	}
	last, err := st.LastSlot(ctx, ten, "findings_digest")
	if err != nil || !last.At.Equal(utc(2026, 7, 1, 12, 0)) || last.Status != store.SlotDone {
		t.Fatalf("last slot = %+v, %v; want done at 12:00", last, err)
	}
	c.Set(utc(2026, 7, 2, 9, 1))
	tickAll(t, []*schedule.Scheduler{s})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := map[string]int{ten + "/findings_digest/2026-07-01T12:00:00Z": 1, ten + "/findings_digest/2026-07-02T09:00:00Z": 1}
	if fmt.Sprint(rec.done) != fmt.Sprint(want) {
		t.Fatalf("ran %v, want %v", rec.done, want)
	}
}
