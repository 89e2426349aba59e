package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/internal/waitbudget"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

type busyErr struct{ d time.Duration }

func (b busyErr) Error() string          { return "pace full" }
func (b busyErr) BusyFor() time.Duration { return b.d }

// startOne runs a queue of workers on a fresh store and inserts one job.
func startOne(t *testing.T, driver string, workers *river.Workers, args func(tenantID string) river.JobArgs) *jobs.Queue {
	t.Helper()
	ctx := context.Background()
	st := storetest.Open(t, driver)
	q, err := jobs.New(jobs.Config{Driver: driver, DB: dbOf(t, st), Workers: workers, PollInterval: 20 * time.Millisecond,
		MaxAttempts: 1, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	err = st.InTx(ctx, func(tx store.Queries) error {
		ten := &accessbot.Tenant{Slug: "busy", Name: "T"}
		if err := tx.CreateTenant(ctx, ten); err != nil {
			return err
		}
		_, err := q.InsertTx(ctx, tx, args(ten.ID), nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	startQueue(ctx, t, q)
	return q
}

// waitEnded waits for the only job of kind to complete or be given up.
func waitEnded(t *testing.T, q *jobs.Queue, kind string) *rivertype.JobRow {
	t.Helper()
	var job *rivertype.JobRow
	waitFor(t, kind+" job to end", func() bool {
		res, err := q.Client().JobList(context.Background(), river.NewJobListParams().Kinds(kind))
		if err != nil || len(res.Jobs) != 1 {
			return false
		}
		job = res.Jobs[0]
		return job.State == rivertype.JobStateCompleted || job.State == rivertype.JobStateDiscarded ||
			job.State == rivertype.JobStateCancelled
	})
	return job
}

type busyArgs struct {
	TenantID string `json:"tenant_id"`
}

func (busyArgs) Kind() string { return "test_busy" }

// busyWorker is refused by a full pace (its error wrapped by wrap) on its
// first refusals runs, then works.
type busyWorker struct {
	river.WorkerDefaults[busyArgs]
	mu       sync.Mutex
	runs     int
	refusals int
	wrap     func(error) error
	budget   time.Duration // the job's waitbudget, as its last run saw it
	// snoozes: how long after each refusal the job was scheduled again.
	snoozes []time.Duration
	refused time.Time
}

// refusal is how long a busyWorker's refusals ask to be snoozed.
const refusal = 50 * time.Millisecond

func (w *busyWorker) Work(ctx context.Context, j *river.Job[busyArgs]) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.runs++
	w.budget, _ = waitbudget.Of(ctx)
	if !w.refused.IsZero() {
		w.snoozes = append(w.snoozes, j.ScheduledAt.Sub(w.refused))
	}
	if w.runs <= w.refusals {
		w.refused = time.Now()
		return w.wrap(busyErr{d: refusal})
	}
	return nil
}

// TestBusyJobIsSnoozed: a job refused by a full pace (a jobs.Busy error,
// wrapped, or several joined) is snoozed, not failed: allowed one attempt,
// it is refused three times and still completes, with no error recorded.
// An error joining a busy one with a real failure is a failure: the one
// attempt is spent and the job discarded after its first run (before, it
// was snoozed, and a failure beside a pace that stayed full was retried
// for ever without ever counting).
func TestBusyJobIsSnoozed(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		wrap func(error) error
		// want: the job's end state, its runs and its recorded errors.
		want   rivertype.JobState
		runs   int
		errors int
	}{
		{"busy error", func(err error) error { return err }, rivertype.JobStateCompleted, 4, 0},
		{"wrapped", func(err error) error { return fmt.Errorf("update message C1/1.2: %w", err) }, rivertype.JobStateCompleted, 4, 0},
		{"joined busy errors", func(err error) error {
			return errors.Join(fmt.Errorf("update A: %w", err), fmt.Errorf("update B: %w", err))
		}, rivertype.JobStateCompleted, 4, 0},
		{"joined with a failure", func(err error) error {
			return errors.Join(errors.New("slack server error: 503"), fmt.Errorf("update B: %w", err))
		}, rivertype.JobStateDiscarded, 1, 1},
	}
	for _, driver := range storetest.Drivers(t) {
		for _, c := range cases {
			t.Run(driver+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				w := &busyWorker{refusals: 3, wrap: c.wrap}
				workers := river.NewWorkers()
				river.AddWorker(workers, w)
				q := startOne(t, driver, workers, func(id string) river.JobArgs { return busyArgs{TenantID: id} })
				job := waitEnded(t, q, "test_busy")
				w.mu.Lock()
				defer w.mu.Unlock()
				if job.State != c.want || w.runs != c.runs || len(job.Errors) != c.errors {
					t.Fatalf("job %s after %d runs, errors %v: want %s after %d runs, %d errors", job.State, w.runs, job.Errors, c.want, c.runs, c.errors)
				}
				if w.budget != jobs.WaitBudget {
					t.Fatalf("the job ran with a wait budget of %s, want %s", w.budget, jobs.WaitBudget)
				}
				// Snoozed for what the error asked, plus up to half again at
				// random (and the moments between the refusal and the snooze).
				for _, d := range w.snoozes {
					if d < refusal-time.Millisecond || d > refusal*3/2+time.Second {
						t.Fatalf("snoozed for %s after a refusal asking %s, want %s to %s", d, refusal, refusal, refusal*3/2)
					}
				}
				t.Logf("[counts] %s: %d runs, snoozes %v", c.name, w.runs, w.snoozes)
			})
		}
	}
}

// TestBusyFor: Slack's full pace is Busy however it is wrapped, and so
// are several joined; a failure joined with it, and other errors, are not.
func TestBusyFor(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want time.Duration
		busy bool
	}{
		{"pace exceeded", slackapi.ErrPaceExceeded, slackapi.PaceRetry, true},
		{"wrapped pace", fmt.Errorf("update C1/1.2: %w", fmt.Errorf("pace chat.update: %w", slackapi.ErrPaceExceeded)), slackapi.PaceRetry, true},
		{"joined paces", errors.Join(fmt.Errorf("x: %w", slackapi.ErrPaceExceeded), fmt.Errorf("y: %w", slackapi.ErrPaceExceeded)), slackapi.PaceRetry, true},
		{"longest of joined", fmt.Errorf("two: %w, %w", busyErr{d: time.Second}, busyErr{d: time.Minute}), time.Minute, true},
		{"joined with a failure", errors.Join(errors.New("x"), fmt.Errorf("y: %w", slackapi.ErrPaceExceeded)), 0, false},
		{"a join of paces, wrapped", fmt.Errorf("notify: %w", errors.Join(slackapi.ErrPaceExceeded, busyErr{d: time.Second})), slackapi.PaceRetry, true},
		{"other", errors.New("slack server error: 503"), 0, false},
		{"nil", nil, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, busy := jobs.BusyFor(c.err)
			if d != c.want || busy != c.busy {
				t.Fatalf("BusyFor = %s, %v; want %s, %v", d, busy, c.want, c.busy)
			}
		})
	}
	if !errors.Is(fmt.Errorf("w: %w", slackapi.ErrPaceExceeded), slackapi.ErrPaceExceeded) {
		t.Fatal("errors.Is no longer finds ErrPaceExceeded")
	}
}

type pacedArgs struct {
	TenantID string `json:"tenant_id"`
	Writes   int    `json:"writes"`
}

func (pacedArgs) Kind() string { return "test_paced" }

// pacedWorker models a notification job under a Slack update pace that
// stays full: each run gets exactly one write through and then is refused
// (a Busy error), as every request_finished job stuck in
// TestReplicasUnderFaults was. The job needs Writes writes to finish.
type pacedWorker struct {
	river.WorkerDefaults[pacedArgs]
	mu     sync.Mutex
	runs   int
	writes map[string]int // target → times written
}

func (w *pacedWorker) Work(ctx context.Context, j *river.Job[pacedArgs]) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.runs++
	slot := true
	for i := range j.Args.Writes {
		target := fmt.Sprintf("slack:C1/1.%d", i)
		if jobs.Wrote(ctx, target, "v1") {
			continue
		}
		if !slot {
			return fmt.Errorf("update %s: %w", target, busyErr{d: 10 * time.Millisecond})
		}
		slot = false
		w.writes[target]++
		jobs.NoteWrite(ctx, target, "v1")
	}
	return nil
}

// TestJobGoesOnFromItsEarlierWrites: a job snoozed after some of its writes
// skips them when it runs again (jobs.Wrote), so under a pace that lets one
// write a run through it finishes in as many runs as it has writes, each
// written once. Before, each run started over, spent its one slot on the
// first write again, and the job never finished.
func TestJobGoesOnFromItsEarlierWrites(t *testing.T) {
	t.Parallel()
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			const n = 4
			w := &pacedWorker{writes: map[string]int{}}
			workers := river.NewWorkers()
			river.AddWorker(workers, w)
			q := startOne(t, driver, workers, func(id string) river.JobArgs { return pacedArgs{TenantID: id, Writes: n} })
			job := waitEnded(t, q, "test_paced")
			w.mu.Lock()
			defer w.mu.Unlock()
			if job.State != rivertype.JobStateCompleted || w.runs != n {
				t.Fatalf("job %s after %d runs (errors %v), want completed after %d", job.State, w.runs, job.Errors, n)
			}
			for target, times := range w.writes {
				if times != 1 {
					t.Fatalf("%s written %d times, want once", target, times)
				}
			}
			if len(w.writes) != n {
				t.Fatalf("%d targets written, want %d", len(w.writes), n)
			}
			if ctx := context.Background(); jobs.Wrote(ctx, "slack:C1/1.0", "v1") {
				t.Fatal("Wrote outside a job")
			}
		})
	}
}
