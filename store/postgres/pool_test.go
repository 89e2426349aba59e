package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/internal/testenv"
	"github.com/accessbot/accessbot/store/postgres"
)

// TestPoolBoundedAndWarm: a store's pool is bounded from Open; Warm sets
// its size and opens every connection at once; a burst of queries waits
// for them instead of opening more; and a query that finds them all busy
// gives up when its context ends.
func TestPoolBoundedAndWarm(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := postgres.Open(ctx, testenv.PostgresDSN(t), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	db := s.DB()
	if got := db.Stats().MaxOpenConnections; got != postgres.DefaultPoolSize {
		t.Fatalf("after Open: at most %d connections, want %d", got, postgres.DefaultPoolSize)
	}

	const size = 5
	if got := db.Stats().OpenConnections; got >= size {
		t.Fatalf("after Open: %d connections open already; the test needs fewer than %d to see Warm open them", got, size)
	}
	start := time.Now()
	if err := postgres.Warm(ctx, db, size); err != nil {
		t.Fatal(err)
	}
	st := db.Stats()
	t.Logf("Warm(%d) took %s: %+v", size, time.Since(start), st)
	if st.OpenConnections != size || st.Idle != size || st.MaxOpenConnections != size {
		t.Fatalf("after Warm(%d): %d open, %d idle, at most %d; want %d of each", size, st.OpenConnections, st.Idle, st.MaxOpenConnections, size)
	}

	// 4 × size queries at once, each holding its connection 50 ms: they
	// wait for the warm ones rather than opening more.
	var wg sync.WaitGroup
	errs := make(chan error, 4*size)
	for range 4 * size {
		wg.Go(func() {
			if _, err := db.ExecContext(ctx, `SELECT pg_sleep(0.05)`); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st = db.Stats()
	if st.OpenConnections != size || st.WaitCount == 0 || st.MaxIdleClosed != 0 {
		t.Fatalf("after a burst of %d: %d open (want %d), %d waits (want some), %d closed past the idle limit (want 0)",
			4*size, st.OpenConnections, size, st.WaitCount, st.MaxIdleClosed)
	}

	// Every connection busy: a query waits only as long as its context.
	held := make([]*sql.Conn, size)
	for i := range held {
		if held[i], err = db.Conn(ctx); err != nil {
			t.Fatal(err)
		}
	}
	qctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	start = time.Now()
	var one int
	err = db.QueryRowContext(qctx, `SELECT 1`).Scan(&one)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a query on a full pool: %v, want it to wait for a connection until its deadline", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("a query on a full pool gave up after %s; its deadline was 100 ms", took)
	}
	for _, c := range held {
		_ = c.Close()
	}
	if err := db.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		t.Fatalf("after the connections were released: %v", err)
	}
}

// Warm reports what it could not open; the pool stays usable.
func TestWarmReportsFailure(t *testing.T) {
	t.Parallel()
	s, err := postgres.Open(context.Background(), testenv.PostgresDSN(t), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := postgres.Warm(ctx, s.DB(), 3); !errors.Is(err, context.Canceled) {
		t.Fatalf("Warm with a cancelled context: %v, want context.Canceled", err)
	}
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("after a failed Warm: %v", err)
	}
}
