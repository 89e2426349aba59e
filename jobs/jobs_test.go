package jobs_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/internal/testenv"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/backend"
	"github.com/accessbot/accessbot/store/storetest"
)

type pingArgs struct {
	TenantID string `json:"tenant_id"`
	N        int    `json:"n"`
}

func (pingArgs) Kind() string { return "test_ping" }

// pingWorker fails the first failures attempts of every job, then records it.
type pingWorker struct {
	river.WorkerDefaults[pingArgs]
	failures int
	final    bool
	mu       sync.Mutex
	attempts map[int]int
	done     map[int]int
}

func (w *pingWorker) Work(_ context.Context, j *river.Job[pingArgs]) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.attempts[j.Args.N]++
	if w.final {
		return jobs.Final(errors.New("user_not_found"))
	}
	if w.attempts[j.Args.N] <= w.failures {
		return errors.New("slack is down")
	}
	w.done[j.Args.N]++
	return nil
}

func (w *pingWorker) count(n int) (attempts, done int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.attempts[n], w.done[n]
}

func newWorker(failures int) *pingWorker {
	return &pingWorker{failures: failures, attempts: map[int]int{}, done: map[int]int{}}
}

// pingWorkers is the Workers of a queue that works pings with w.
func pingWorkers(w *pingWorker) *river.Workers {
	workers := river.NewWorkers()
	river.AddWorker(workers, w)
	return workers
}

func newQueue(t *testing.T, driver string, db *sql.DB, w *pingWorker) *jobs.Queue {
	t.Helper()
	q, err := jobs.New(jobs.Config{Driver: driver, DB: db, Workers: pingWorkers(w), PollInterval: 20 * time.Millisecond,
		Backoff: func(int) time.Duration { return 10 * time.Millisecond }, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// startQueue starts q, stopped when the test ends.
func startQueue(ctx context.Context, t *testing.T, q *jobs.Queue) {
	t.Helper()
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Stop(context.Background()) })
}

// runQueue builds a queue of cfg and runs it in the background, as
// `accessbot run` does, until ctx ends or the test does; Run's error fails
// the test.
func runQueue(ctx context.Context, t *testing.T, cfg jobs.Config) {
	t.Helper()
	q, err := jobs.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- q.Run(runCtx, 5*time.Second) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// openPostgres opens the PostgreSQL store at dsn (a testenv.PostgresDSN,
// perhaps through a proxy), closed when the test ends.
func openPostgres(ctx context.Context, t *testing.T, dsn string) store.Store {
	t.Helper()
	st, err := backend.Open(ctx, backend.Postgres, dsn, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func dbOf(t *testing.T, st store.Store) *sql.DB {
	t.Helper()
	d, ok := st.(interface{ DB() *sql.DB })
	if !ok {
		t.Fatalf("%T has no DB()", st)
	}
	return d.DB()
}

// waitFor polls cond for up to 30 s: SQLite jobs on a machine at load 30
// took longer than 10 s to run four times.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func jobsIn(t *testing.T, q *jobs.Queue, states ...rivertype.JobState) []*rivertype.JobRow {
	t.Helper()
	params := river.NewJobListParams().Kinds("test_ping").First(100)
	if len(states) > 0 {
		params = params.States(states...)
	}
	res, err := q.Client().JobList(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	return res.Jobs
}

// insert creates a tenant and a ping job in one store transaction; fail rolls it back.
func insert(ctx context.Context, st store.Store, q *jobs.Queue, n int, fail bool) error {
	return st.InTx(ctx, func(tx store.Queries) error {
		ten := &accessbot.Tenant{Slug: "t" + string(rune('a'+n)), Name: "T"}
		if err := tx.CreateTenant(ctx, ten); err != nil {
			return err
		}
		if _, err := q.InsertTx(ctx, tx, pingArgs{TenantID: ten.ID, N: n}, nil); err != nil {
			return err
		}
		if fail {
			return errors.New("boom")
		}
		return nil
	})
}

func TestInsertTxCommitsWithTheChange(t *testing.T) {
	t.Parallel()
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := storetest.Open(t, driver)
			q := newQueue(t, driver, dbOf(t, st), newWorker(0))
			if err := insert(ctx, st, q, 1, true); err == nil {
				t.Fatal("rolled back transaction reported success")
			}
			if got := jobsIn(t, q); len(got) != 0 {
				t.Fatalf("rolled back transaction left %d job(s)", len(got))
			}
			if err := insert(ctx, st, q, 2, false); err != nil {
				t.Fatal(err)
			}
			got := jobsIn(t, q)
			if len(got) != 1 || got[0].State != rivertype.JobStateAvailable {
				t.Fatalf("committed transaction: got %d job(s), want one available", len(got))
			}
			if _, err := q.InsertTx(ctx, st, pingArgs{N: 3}, nil); !errors.Is(err, jobs.ErrNoTx) {
				t.Fatalf("insert outside a transaction: got %v, want ErrNoTx", err)
			}
		})
	}
}

// A job whose work fails is retried until it succeeds, and delivered once;
// one whose error is final (jobs.Final) is cancelled after one attempt.
func TestRetriesUnlessFinal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		failures       int
		final          bool
		want           rivertype.JobState
		attempts, done int
	}{
		{"retries then delivers once", 2, false, rivertype.JobStateCompleted, 3, 1},
		{"a final error is not retried", 0, true, rivertype.JobStateCancelled, 1, 0},
	} {
		// accessbot_jobs_finished_total{kind=test_ping} by outcome: the
		// failed attempts, then the end (at least: the subtests share it).
		counted := map[string]float64{"failed": float64(tc.attempts - tc.done - btoi(tc.final)), "completed": float64(tc.done),
			"cancelled": float64(btoi(tc.final))}
		for _, driver := range storetest.Drivers(t) {
			t.Run(tc.name+"/"+driver, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				before := map[string]float64{}
				for o := range counted {
					before[o] = jobsFinished(t, "test_ping", o)
				}
				st := storetest.Open(t, driver)
				w := newWorker(tc.failures)
				w.final = tc.final
				q := newQueue(t, driver, dbOf(t, st), w)
				if err := insert(ctx, st, q, 1, false); err != nil {
					t.Fatal(err)
				}
				startQueue(ctx, t, q)
				waitFor(t, "job "+string(tc.want), func() bool {
					return len(jobsIn(t, q, tc.want)) == 1
				})
				if a, d := w.count(1); a != tc.attempts || d != tc.done {
					t.Fatalf("attempts=%d deliveries=%d, want %d and %d", a, d, tc.attempts, tc.done)
				}
				for o, want := range counted {
					waitFor(t, "accessbot_jobs_finished_total{outcome="+o+"}", func() bool {
						return jobsFinished(t, "test_ping", o)-before[o] >= want
					})
				}
			})
		}
	}
}

// TestSurvivesACrash: the process that committed the change stops before any
// worker ran; a new process on the same database delivers the job.
func TestSurvivesACrash(t *testing.T) {
	t.Parallel()
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := storetest.Open(t, driver)
			first := newWorker(0)
			q1 := newQueue(t, driver, dbOf(t, st), first)
			if err := insert(ctx, st, q1, 1, false); err != nil {
				t.Fatal(err)
			}
			// q1 is never started: it "crashed" right after the commit.
			second := newWorker(0)
			q2 := newQueue(t, driver, dbOf(t, st), second)
			startQueue(ctx, t, q2)
			waitFor(t, "job completed by the new process", func() bool {
				_, d := second.count(1)
				return d == 1
			})
			if a, _ := first.count(1); a != 0 {
				t.Fatalf("the crashed process worked the job %d time(s)", a)
			}
		})
	}
}

// TestMigrateConcurrently: two replicas migrating a fresh PostgreSQL schema at
// once both succeed and leave River's tables; migrating again is a no-op.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	if !testenv.PostgresAvailable(t) {
		return
	}
	dsn := testenv.PostgresDSN(t)
	ctx := context.Background()
	var dbs []*sql.DB
	for range 2 {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		dbs = append(dbs, db)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for _, db := range dbs {
		wg.Go(func() {
			if err := jobs.Migrate(ctx, jobs.Postgres, db, zerolog.Nop()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	t.Logf("two concurrent migrations took %s", time.Since(start))
	if err := jobs.Migrate(ctx, jobs.Postgres, dbs[0], zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := dbs[0].QueryRowContext(ctx, `SELECT count(*) FROM river_job`).Scan(&n); err != nil {
		t.Fatalf("river_job after migrating: %v", err)
	}
}
