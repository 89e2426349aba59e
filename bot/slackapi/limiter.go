package slackapi

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrPaceExceeded means waiting for a pacing slot would take longer than
// allowed (the context deadline or Limit.MaxWait). Nothing was reserved.
var ErrPaceExceeded = errors.New("slack pacing: wait would exceed the allowed time")

// Limit lets one event through every Interval, with up to Burst at once.
// The zero Limit (Interval 0) means unpaced.
type Limit struct {
	Interval time.Duration
	Burst    int
	// MaxWait bounds how long one caller queues; 0 means only the context bounds it.
	MaxWait time.Duration
}

func (l Limit) unpaced() bool { return l.Interval <= 0 }

func (l Limit) burst() int {
	if l.Burst < 1 {
		return 1
	}
	return l.Burst
}

// Limiter paces events per key and keeps Slack's Retry-After holds.
// Implementations: MemoryLimiter (one process) and RedisLimiter (shared by
// every replica).
type Limiter interface {
	// Wait blocks until one more event under key fits l, or returns an error
	// (ctx's, or ErrPaceExceeded) without consuming a slot.
	Wait(ctx context.Context, key string, l Limit) error
	// Hold records that key may not be used for d from now. A hold is only
	// ever extended, never shortened.
	Hold(ctx context.Context, key string, d time.Duration) error
	// Held says how long key is still held (0 when it is not).
	Held(ctx context.Context, key string) (time.Duration, error)
}

// gcra computes a reservation with the generic cell rate algorithm: tat is the
// theoretical arrival time of the next event. It returns the delay before the
// event may go and the new tat. Shared by both limiters so they agree exactly.
func gcra(now, tat time.Time, l Limit) (delay time.Duration, next time.Time) {
	if tat.Before(now) {
		tat = now
	}
	tolerance := time.Duration(l.burst()-1) * l.Interval
	delay = tat.Sub(now) - tolerance
	if delay < 0 {
		delay = 0
	}
	return delay, tat.Add(l.Interval)
}

// maxWait is the longest this caller may queue: the smaller of l.MaxWait and
// the time left before ctx's deadline; -1 means unbounded. The deadline is
// measured on the real clock, which is what the wait sleeps on.
func maxWait(ctx context.Context, l Limit) time.Duration {
	w := time.Duration(-1)
	if l.MaxWait > 0 {
		w = l.MaxWait
	}
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		if left < 0 {
			left = 0
		}
		if w < 0 || left < w {
			w = left
		}
	}
	return w
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// MemoryLimiter is an in-process Limiter. Keys idle long enough to be
// indistinguishable from new ones are swept once the map grows past maxKeys.
type MemoryLimiter struct {
	now     func() time.Time
	maxKeys int

	mu    sync.Mutex
	tat   map[string]time.Time
	holds map[string]time.Time // key -> end of its hold
}

var _ Limiter = (*MemoryLimiter)(nil)

// NewMemoryLimiter returns an in-process limiter; now may be nil (time.Now).
func NewMemoryLimiter(now func() time.Time) *MemoryLimiter {
	if now == nil {
		now = time.Now
	}
	return &MemoryLimiter{now: now, maxKeys: 10000, tat: map[string]time.Time{}, holds: map[string]time.Time{}}
}

// Wait implements Limiter.
func (m *MemoryLimiter) Wait(ctx context.Context, key string, l Limit) error {
	if l.unpaced() {
		return ctx.Err()
	}
	delay, err := m.reserve(ctx, key, l)
	if err != nil {
		return err
	}
	return sleepCtx(ctx, delay)
}

func (m *MemoryLimiter) reserve(ctx context.Context, key string, l Limit) (time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	delay, next := gcra(now, m.tat[key], l)
	if w := maxWait(ctx, l); w >= 0 && delay > w {
		return 0, fmt.Errorf("pace %s: need %s, may wait %s: %w", key, delay, w, ErrPaceExceeded)
	}
	m.tat[key] = next
	if len(m.tat) > m.maxKeys {
		for k, t := range m.tat {
			if !t.After(now) {
				delete(m.tat, k)
			}
		}
	}
	return delay, nil
}

// Hold implements Limiter.
func (m *MemoryLimiter) Hold(_ context.Context, key string, d time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if end := now.Add(d); end.After(m.holds[key]) {
		m.holds[key] = end
	}
	if len(m.holds) > m.maxKeys {
		for k, t := range m.holds {
			if !t.After(now) {
				delete(m.holds, k)
			}
		}
	}
	return nil
}

// Held implements Limiter.
func (m *MemoryLimiter) Held(_ context.Context, key string) (time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return max(m.holds[key].Sub(m.now()), 0), nil
}
