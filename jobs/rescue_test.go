package jobs_test

import (
	"context"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/riverqueue/river/rivertype"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/internal/metrics"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store/storetest"
)

func rescues(t *testing.T, kind string) float64 {
	t.Helper()
	var m dto.Metric
	if err := metrics.JobRescues.WithLabelValues(kind).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func jobsFinished(t *testing.T, kind, outcome string) float64 {
	t.Helper()
	var m dto.Metric
	if err := metrics.Jobs.WithLabelValues(kind, outcome).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestRescuedJobIsCounted: a job left running by a process that died (its
// row says running, attempted an hour ago) is rescued by River's rescuer
// after rescue_after, run again here and counted once in
// accessbot_jobs_rescued_total; a job that only failed and was retried is
// not a rescue. This also pins the rescuer's error text that jobs.Rescued
// looks for to the River version in go.mod.
func TestRescuedJobIsCounted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storetest.Open(t, "sqlite")
	db := dbOf(t, st)
	w := newWorker(1) // each job fails its first attempt here
	q, err := jobs.New(jobs.Config{Driver: "sqlite", DB: db, Workers: pingWorkers(w), PollInterval: 20 * time.Millisecond,
		Backoff: func(int) time.Duration { return 10 * time.Millisecond }, Timeout: time.Second, RescueAfter: time.Second, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if err := insert(ctx, st, q, 1, false); err != nil { // will be "crashed"
		t.Fatal(err)
	}
	// The crashed process: it took job 1 (attempt 1) an hour ago and died.
	if _, err := db.ExecContext(ctx, `UPDATE river_job SET state = 'running', attempt = 1,
		attempted_at = datetime('now', '-1 hour') WHERE state = 'available'`); err != nil {
		t.Fatal(err)
	}
	w.attempts[1] = 1 // its failed first attempt happened in the dead process
	before := rescues(t, "test_ping")
	startQueue(ctx, t, q)
	if err := insert(ctx, st, q, 2, false); err != nil { // only fails once and is retried
		t.Fatal(err)
	}
	// The rescuer runs on the leader once it is elected, then every 30 s.
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, done1 := w.count(1)
		_, done2 := w.count(2)
		if done1 == 1 && done2 == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job 1 done %d, job 2 done %d after 60 s: %+v", done1, done2, jobsIn(t, q, rivertype.JobStateRunning, rivertype.JobStateRetryable))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := rescues(t, "test_ping") - before; got != 1 {
		t.Errorf("accessbot_jobs_rescued_total{kind=test_ping} moved by %v, want 1 (the crashed job, not the retried one)", got)
	}
}
