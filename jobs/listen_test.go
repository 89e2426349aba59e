package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/internal/testenv"
	"github.com/accessbot/accessbot/jobs"
)

// On PostgreSQL, a job committed in a store transaction by another process
// is started at once by a queue that listens (ListenDSN), and only at the
// next poll by one that does not. The worker polls every 10 s, so a job done
// within 3 s was woken by the listener.
func TestListenStartsCommittedJobsAtOnce(t *testing.T) {
	if !testenv.PostgresAvailable(t) {
		return
	}
	t.Parallel()
	for _, tt := range []struct {
		name   string
		listen bool
	}{{"listening", true}, {"polling only", false}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			dsn := testenv.PostgresDSN(t)
			st := openPostgres(ctx, t, dsn)
			w := newWorker(0)
			cfg := jobs.Config{Driver: jobs.Postgres, DB: dbOf(t, st), Workers: pingWorkers(w), PollInterval: 10 * time.Second, Log: zerolog.Nop()}
			if tt.listen {
				cfg.ListenDSN = dsn
			}
			runQueue(ctx, t, cfg)
			// The inserting side, as another process: a queue that only inserts.
			sender := newQueue(t, jobs.Postgres, dbOf(t, st), newWorker(0))
			time.Sleep(500 * time.Millisecond) // past the worker's first fetch
			start := time.Now()
			if err := insert(ctx, st, sender, 1, false); err != nil {
				t.Fatal(err)
			}
			worked := false
			for time.Since(start) < 3*time.Second && !worked {
				_, n := w.count(1)
				worked = n == 1
				time.Sleep(10 * time.Millisecond)
			}
			t.Logf("counted: listening %v, job done %v after %s", tt.listen, worked, time.Since(start).Round(time.Millisecond))
			if worked != tt.listen {
				t.Errorf("job done within 3 s: %v, want %v", worked, tt.listen)
			}
		})
	}
}
