package jobs_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

type slowArgs struct {
	TenantID string `json:"tenant_id"`
}

func (slowArgs) Kind() string { return "test_slow" }

// slowWorker takes a while, like a Slack send, and reports whether its
// context was cancelled under it.
type slowWorker struct {
	river.WorkerDefaults[slowArgs]
	started   chan struct{}
	mu        sync.Mutex
	cancelled bool
	finished  bool
}

func (w *slowWorker) Work(ctx context.Context, _ *river.Job[slowArgs]) error {
	close(w.started)
	select {
	case <-ctx.Done():
		w.mu.Lock()
		w.cancelled = true
		w.mu.Unlock()
		return ctx.Err()
	case <-time.After(300 * time.Millisecond):
	}
	w.mu.Lock()
	w.finished = true
	w.mu.Unlock()
	return nil
}

// TestRunFinishesRunningJobsAtShutdown: when run's context ends (SIGTERM)
// a running job is let finish within the stop timeout instead of having
// its context cancelled mid-send.
func TestRunFinishesRunningJobsAtShutdown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.Open(t, storetest.Drivers(t)[0])
	w := &slowWorker{started: make(chan struct{})}
	workers := river.NewWorkers()
	river.AddWorker(workers, w)
	q, err := jobs.New(jobs.Config{Driver: jobs.SQLite, DB: dbOf(t, st), Workers: workers, PollInterval: 20 * time.Millisecond, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.InTx(ctx, func(tx store.Queries) error {
		ten := &accessbot.Tenant{Slug: "slow", Name: "T"}
		if err := tx.CreateTenant(ctx, ten); err != nil {
			return err
		}
		_, err := q.InsertTx(ctx, tx, slowArgs{TenantID: ten.ID}, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- q.Run(runCtx, 5*time.Second) }()
	select {
	case <-w.started:
	case <-time.After(20 * time.Second):
		t.Fatal("the job never started")
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cancelled || !w.finished {
		t.Fatalf("job cancelled %v, finished %v: want it finished", w.cancelled, w.finished)
	}
	if left := jobsIn(t, q, rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateAvailable); len(left) != 0 {
		t.Fatalf("%d job(s) left unfinished", len(left))
	}
}

// TestConfigBoundsStuckJobs: the rescue of a crashed process's job cannot
// be set shorter than the job timeout (River would refuse to start).
func TestConfigBoundsStuckJobs(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, storetest.Drivers(t)[0])
	_, err := jobs.New(jobs.Config{Driver: jobs.SQLite, DB: dbOf(t, st), Workers: river.NewWorkers(),
		Timeout: time.Minute, RescueAfter: 30 * time.Second, Log: zerolog.Nop()})
	if err == nil {
		t.Fatal("a rescue shorter than the timeout was accepted")
	}
}
