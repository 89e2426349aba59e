package jobs_test

import (
	"bytes"
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/internal/testenv"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store/backend"
)

// hungFetch is a store whose connection that first fetches jobs (River's
// JobGetAvailable, "locked_jobs") stops answering from then on, as a
// PostgreSQL behind a dead network path or a stuck proxy would: the
// connection stays open and nothing comes back until the test ends. Other
// connections answer.
func hungFetch(t *testing.T, ctx context.Context) (dsn string, hung func() bool) {
	t.Helper()
	u, err := url.Parse(testenv.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	p := testenv.NewTCPProxy(t, u.Host)
	released := make(chan struct{})
	t.Cleanup(func() { close(released) })
	var mu sync.Mutex
	var stuck bool
	var victim uint64
	p.Inspect(func(id uint64, fromClient bool, chunk []byte) bool {
		mu.Lock()
		if fromClient && victim == 0 && bytes.Contains(chunk, []byte("locked_jobs")) {
			victim = id
		}
		hold := !fromClient && id == victim
		stuck = stuck || hold
		mu.Unlock()
		if hold {
			select { // until the test ends
			case <-released:
			case <-ctx.Done():
			}
			return true
		}
		return false
	})
	u.Host = p.Addr()
	return u.String(), func() bool { mu.Lock(); defer mu.Unlock(); return stuck }
}

// TestQueueWorksAfterAFetchHangs: the connection of River's first fetch
// stops answering, for good. River v0.51.2 bounds each fetch
// (riverpilot.StandardPilot.JobGetAvailable, rivercommon.HotOperationTimeout,
// 10 s), logs the timeout as a failed fetch and fetches again on another
// connection, so a job inserted meanwhile is worked within about that long:
// no watchdog needed. Were the bound ever dropped (an upgrade), the job
// would wait for ever and this test fails.
func TestQueueWorksAfterAFetchHangs(t *testing.T) {
	if !testenv.PostgresAvailable(t) {
		return
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dsn, hung := hungFetch(t, ctx)
	st, err := backend.Open(ctx, backend.Postgres, dsn, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	w := newWorker(0)
	workers := river.NewWorkers()
	river.AddWorker(workers, w)
	logs := &holdingLog{}
	q, err := jobs.New(jobs.Config{Driver: jobs.Postgres, DB: dbOf(t, st), Workers: workers,
		PollInterval: 100 * time.Millisecond, Log: zerolog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- q.Run(runCtx, time.Second) }()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("Run did not return within 30 s of its context ending")
		}
	})
	waitFor(t, "River's first fetch to hang", hung)
	start := time.Now()
	if err := insert(ctx, st, q, 1, false); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, n := w.count(1); n == 1 {
			took := time.Since(start)
			t.Logf("[counts] job worked %s after its insert, the first fetch's connection still hung: %v", took.Round(time.Millisecond), hung())
			if !strings.Contains(logs.String(), "Error fetching jobs") || !strings.Contains(logs.String(), "deadline exceeded") {
				t.Errorf("worked, but the log never shows the hung fetch timing out (was the hang missed?):\n%s", logs)
			}
			return
		}
	}
	t.Fatalf("a job inserted after River's fetch hung was not worked within 30 s; log:\n%s", logs)
}
