// Package provisiontest starts a provisioning engine for tests that need
// the real one (its River queue, its retries) and counts the webhook steps
// it runs.
package provisiontest

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store"
)

// Start runs a provisioning engine on st as one accessbot process does,
// with its own River queue on st's database (polling every 20 ms) and
// runners registered by register; a failed step is tried 3 times, 10 ms
// apart. The queue stops when t ends. st is a SQL store of driver.
func Start(t testing.TB, driver string, st store.Store, register func(*provision.Engine)) *provision.Engine {
	t.Helper()
	eng := provision.New(provision.Config{Store: st, StepAttempts: 3, Backoff: func(int) time.Duration { return 10 * time.Millisecond }, Log: zerolog.Nop()})
	register(eng)
	workers := river.NewWorkers()
	eng.AddWorkers(workers)
	q, err := jobs.New(jobs.Config{Driver: driver, DB: st.(interface{ DB() *sql.DB }).DB(), Workers: workers,
		PollInterval: 20 * time.Millisecond, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	eng.SetQueue(q)
	if err := q.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = q.Stop(ctx)
	})
	return eng
}

// Hooks is a webhook step Runner that succeeds and counts its steps by
// operation ("add") and by operation and the value of param Param
// ("add Postgres"); its note is the latter.
type Hooks struct {
	Param string

	mu sync.Mutex
	n  map[string]int
}

var _ provision.Runner = (*Hooks)(nil)

func (h *Hooks) Run(_ context.Context, s provision.Step) (provision.Result, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == nil {
		h.n = map[string]int{}
	}
	key := s.Op + " " + s.Params[h.Param]
	h.n[s.Op]++
	h.n[key]++
	return provision.Result{Note: key}, nil
}

// String lists the counts, for failure messages.
func (h *Hooks) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return fmt.Sprint(h.n)
}

// Count is how many steps of key ran.
func (h *Hooks) Count(key string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[key]
}
