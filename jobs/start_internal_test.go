package jobs

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/riverqueue/river"
	"github.com/rs/zerolog"
	_ "modernc.org/sqlite"

	"github.com/accessbot/accessbot/internal/metrics"
)

// syncWriter is a log that River's goroutines may write while the test reads.
type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func startRetries(t *testing.T) float64 {
	t.Helper()
	var m dto.Metric
	if err := metrics.JobStartRetries.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

type nopArgs struct{}

func (nopArgs) Kind() string { return "test_nop" }

type nopWorker struct{ river.WorkerDefaults[nopArgs] }

func (nopWorker) Work(context.Context, *river.Job[nopArgs]) error { return nil }

// TestRunGivesUpWhenTheDatabaseStaysAway: every start fails (the database
// is gone for good). Run tries startAttempts times, counting each retry in
// accessbot_jobs_start_retries_total, then returns the last error, saying
// it gave up, and logs that at error level: it does not wait for ever, so
// `accessbot run` stops with the reason (its group ends every component on
// the first error) instead of serving with no job ever worked.
func TestRunGivesUpWhenTheDatabaseStaysAway(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "gone.db"))
	if err != nil {
		t.Fatal(err)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, nopWorker{})
	log := &syncWriter{}
	q, err := New(Config{Driver: SQLite, DB: db, Workers: workers, Log: zerolog.New(log)})
	if err != nil {
		t.Fatal(err)
	}
	db.Close() // every start's ping now fails
	q.startWait = 10 * time.Millisecond
	before := startRetries(t)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- q.Run(context.Background(), time.Second) }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run still trying to start after 30 s (waits of 10, 20, 40 and 80 ms)")
	}
	retries := startRetries(t) - before
	t.Logf("[counts] Run gave up after %s, %v retries: %v", time.Since(start).Round(time.Millisecond), retries, err)
	if err == nil || !strings.Contains(err.Error(), "gave up after 5 starts") || !strings.Contains(err.Error(), "database is closed") {
		t.Fatalf("Run returned %v, want the start's error saying it gave up after %d starts", err, startAttempts)
	}
	if retries != startAttempts-1 {
		t.Errorf("%v start retries counted, want %d", retries, startAttempts-1)
	}
	if got := log.String(); strings.Count(got, "starting it again") != startAttempts-1 || !strings.Contains(got, `"level":"error"`) ||
		!strings.Contains(got, "giving up") {
		t.Errorf("log does not show %d retries and an error-level give-up:\n%s", startAttempts-1, got)
	}
}
