package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store/storetest"
)

// On SQLite a job committed in a store transaction by another queue of
// this process starts at once, though the working queue polls only every
// 10 s: the insert wakes its listener. Without the wake a job waited for
// River's notifier to restart its wait (every 5 s, for its ping): 4.0 and
// 4.1 s in one run, so three jobs all done within 1.5 s were woken.
func TestSQLiteInsertWakesTheWorker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := storetest.Open(t, "sqlite")
	w := newWorker(0)
	runQueue(ctx, t, jobs.Config{Driver: jobs.SQLite, DB: dbOf(t, st), Workers: pingWorkers(w), PollInterval: 10 * time.Second, Log: zerolog.Nop()})
	sender := newQueue(t, jobs.SQLite, dbOf(t, st), newWorker(0))
	time.Sleep(time.Second) // past the worker's first fetch and first listener checks
	for n := 1; n <= 3; n++ {
		start := time.Now()
		if err := insert(ctx, st, sender, n, false); err != nil {
			t.Fatal(err)
		}
		worked := false
		for time.Since(start) < 1500*time.Millisecond && !worked {
			_, c := w.count(n)
			worked = c == 1
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("counted: job %d done %v after %s", n, worked, time.Since(start).Round(time.Millisecond))
		if !worked {
			t.Fatalf("job %d not done within 1.5 s (the worker polls every 10 s): the insert did not wake it", n)
		}
		time.Sleep(6 * time.Second) // past the quick-poll window: the listener rests again
	}
}
