package jobs

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riversqlite"
)

// SQLite has no LISTEN: riversqlite's listener reads its notification table
// every 50 ms, parsing the query anew each time, which was half of an idle
// bot's CPU. SQLite is single-process here, so every job is inserted by this
// process, through InsertTx or InsertManyTx: those wake the listener, which
// then polls at riversqlite's pace for wakeWindow (the inserting transaction
// commits within it) and otherwise only every idle interval (the queue's
// poll interval, 1 s by default, when River's own fetch poll looks for jobs
// anyway).
const wakeWindow = 5 * time.Second

// waker tells the listeners of one database that a job was inserted.
type waker struct {
	mu    sync.Mutex
	until time.Time     // poll quickly until then
	kick  chan struct{} // closed (and replaced) when a job is inserted
}

// wakers holds one waker per *sql.DB, shared by every Queue on it in this
// process (an inserting queue wakes a working one).
var wakers sync.Map // *sql.DB → *waker

func wakerFor(db *sql.DB) *waker {
	w, _ := wakers.LoadOrStore(db, &waker{kick: make(chan struct{})})
	return w.(*waker)
}

// wake is called when a job is inserted (its transaction not yet committed).
func (w *waker) wake() {
	w.mu.Lock()
	w.until = time.Now().Add(wakeWindow)
	close(w.kick)
	w.kick = make(chan struct{})
	w.mu.Unlock()
}

// state is when quick polling ends, and the channel the next wake closes.
func (w *waker) state() (time.Time, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.until, w.kick
}

// sqliteDriver is riversqlite's driver with a listener that rests when no
// job was inserted lately.
type sqliteDriver struct {
	*riversqlite.Driver
	waker *waker
	idle  time.Duration
}

func (d *sqliteDriver) GetListener(params *riverdriver.GetListenenerParams) riverdriver.Listener {
	return &restingListener{Listener: d.Driver.GetListener(params), waker: d.waker, idle: d.idle}
}

// restingListener runs riversqlite's listener only while woken; otherwise
// it checks once per idle interval.
type restingListener struct {
	riverdriver.Listener
	waker *waker
	idle  time.Duration
}

// onePoll bounds a single check: riversqlite's listener queries at once,
// then waits 50 ms for its next poll, which this deadline cuts short.
const onePoll = 20 * time.Millisecond

func (l *restingListener) WaitForNotification(ctx context.Context) (*riverdriver.Notification, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		until, _ := l.waker.state()
		if time.Until(until) <= 0 {
			until = time.Now().Add(onePoll)
		}
		n, err := l.poll(ctx, until)
		if n != nil || err != nil {
			return n, err
		}
		until, kick := l.waker.state()
		if time.Until(until) > 0 {
			continue // woken meanwhile
		}
		t := time.NewTimer(l.idle)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// poll runs the inner listener until a notification or until; (nil, nil)
// when none came.
func (l *restingListener) poll(ctx context.Context, until time.Time) (*riverdriver.Notification, error) {
	pctx, cancel := context.WithDeadline(ctx, until)
	defer cancel()
	n, err := l.Listener.WaitForNotification(pctx)
	switch {
	case err == nil:
		return n, nil
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, context.DeadlineExceeded):
		return nil, nil
	}
	return nil, err
}
