package jobs

import (
	"context"
	"database/sql"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river/riverdriver"
)

// countingListener stands in for riversqlite's: each WaitForNotification
// is one query, then (with nothing pending) a wait for ctx; it returns the
// notification once ready is set.
type countingListener struct {
	riverdriver.Listener
	queries atomic.Int32
	ready   atomic.Bool
}

func (c *countingListener) WaitForNotification(ctx context.Context) (*riverdriver.Notification, error) {
	for {
		c.queries.Add(1)
		if c.ready.Load() {
			return &riverdriver.Notification{Topic: "river_insert", Payload: "{}"}, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestRestingListener: idle, the listener checks once per idle interval
// (not every 50 ms); woken by an insert, it polls again and delivers.
func TestRestingListener(t *testing.T) {
	inner := &countingListener{}
	wk := wakerFor(new(sql.DB))
	l := &restingListener{Listener: inner, waker: wk, idle: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := make(chan *riverdriver.Notification, 1)
	go func() {
		n, _ := l.WaitForNotification(ctx)
		got <- n
	}()
	time.Sleep(time.Second)
	idle := inner.queries.Load()
	inner.ready.Store(true)
	start := time.Now()
	wk.wake()
	var n *riverdriver.Notification
	select {
	case n = <-got:
	case <-time.After(5 * time.Second):
	}
	t.Logf("[counts] %d queries in 1 s idle; notification after wake: %v in %s", idle, n != nil, time.Since(start).Round(time.Millisecond))
	if idle > 2 {
		t.Errorf("%d queries in 1 s idle, want at most 2 (riversqlite alone makes 20)", idle)
	}
	if n == nil {
		t.Fatal("no notification within 5 s of the wake")
	}
}
