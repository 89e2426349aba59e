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

// holdingLog is a log writer that takes hold long over the first line
// containing slow: River's notifier logs its listener's lost connection
// before it marks itself no longer listening, so a slow write holds it
// there, as a starved goroutine on a loaded machine would.
type holdingLog struct {
	slow string
	hold time.Duration
	mu   sync.Mutex
	held bool
	log  strings.Builder
}

func (w *holdingLog) Write(b []byte) (int, error) {
	w.mu.Lock()
	hold := !w.held && bytes.Contains(b, []byte(w.slow))
	w.held = w.held || hold
	w.log.Write(b)
	w.mu.Unlock()
	if hold {
		time.Sleep(w.hold)
	}
	return len(b), nil
}

func (w *holdingLog) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.log.String()
}

func (w *holdingLog) wasHeld() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.held
}

// The crash test's stall: the listener's connection to PostgreSQL is lost
// while River starts, just before the producer LISTENs for new jobs. The
// producer's LISTEN then runs on the closed connection and pgx answers
// "conn closed", which River v0.51.2's producer takes for a client shutting
// down: it returns without starting, Start reports success, and the queue
// never fetches a job again (until the process restarts). To hit that
// moment every time, the store goes through one proxy, which holds the
// answer to the producer's first query (it creates its river_queue row) and
// meanwhile cuts the listener's connection, which goes through another;
// and the notifier is held while it logs the loss, so the producer's LISTEN
// comes before it has closed that connection (as a starved goroutine would
// on a loaded machine, as in CI). A job inserted afterwards must be worked.
func TestQueueWorksAfterListenerLostWhileStarting(t *testing.T) {
	if !testenv.PostgresAvailable(t) {
		return
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn := testenv.PostgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	listenProxy, storeProxy := testenv.NewTCPProxy(t, u.Host), testenv.NewTCPProxy(t, u.Host)
	u.Host = listenProxy.Addr()
	listenDSN := u.String()
	u.Host = storeProxy.Addr()
	var mu sync.Mutex
	armed, asked, cut := false, map[uint64]bool{}, false // armed once the store's migrations ran
	storeProxy.Inspect(func(id uint64, fromClient bool, chunk []byte) bool {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case !armed || cut:
		case fromClient:
			asked[id] = asked[id] || bytes.Contains(chunk, []byte("river_queue"))
		case asked[id]:
			time.Sleep(300 * time.Millisecond) // the notifier waits for notifications by now
			_ = listenProxy.Cut(ctx, 0)
			cut = true
		}
		return false
	})
	st, err := backend.Open(ctx, backend.Postgres, u.String(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	mu.Lock()
	armed = true
	mu.Unlock()

	logs := &holdingLog{slow: "Error from notification wait", hold: time.Second}
	w := newWorker(0)
	workers := river.NewWorkers()
	river.AddWorker(workers, w)
	q, err := jobs.New(jobs.Config{Driver: jobs.Postgres, DB: dbOf(t, st), Workers: workers, ListenDSN: listenDSN,
		PollInterval: 100 * time.Millisecond, Log: zerolog.New(logs)})
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

	waitFor(t, "the listener's connection cut while River starts", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return cut
	})
	time.Sleep(1500 * time.Millisecond) // past the hold: River has started, or not
	if !logs.wasHeld() {
		t.Fatalf("the notifier never logged its lost connection; log:\n%s", logs)
	}
	sender := newQueue(t, jobs.Postgres, dbOf(t, st), newWorker(0))
	if err := insert(ctx, st, sender, 1, false); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, n := w.count(1); n == 1 {
			// The start the loss broke was noticed and made again.
			if !strings.Contains(logs.String(), "conn closed") || !strings.Contains(logs.String(), "job queue did not start") {
				t.Fatalf("the job was worked, but the listener's loss never failed a start (the race was missed); log:\n%s", logs)
			}
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("a job inserted after the listener's loss was not worked within 10 s (100 ms polls); log:\n%s", logs)
}
