package slackapi

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot/internal/waitbudget"
)

// ErrPaceExceeded means waiting for a pacing slot, or for a Retry-After
// hold to end, would take longer than allowed (the context deadline,
// Limit.MaxWait, Retry.MaxWait, or the caller's waitbudget: a job's ~1 s).
// Nothing was reserved and nothing was sent. Nothing failed either: a job
// whose error holds it is snoozed (it is a jobs.Busy) instead of spending
// an attempt, for PaceRetry or, for a longer Retry-After hold, until the
// hold ends. Test for it with errors.Is.
var ErrPaceExceeded error = paceExceeded{}

// PaceRetry is how long a job refused by a full pace waits before it runs
// again (at least: a longer Retry-After hold counts in full).
const PaceRetry = 5 * time.Second

// paceExceeded is ErrPaceExceeded; after, when set, is how long the hold
// that refused the call still lasts.
type paceExceeded struct{ after time.Duration }

func (paceExceeded) Error() string { return "slack pacing: wait would exceed the allowed time" }

// Is makes every paceExceeded match ErrPaceExceeded.
func (paceExceeded) Is(target error) bool {
	_, ok := target.(paceExceeded)
	return ok
}

// BusyFor makes ErrPaceExceeded a jobs.Busy error.
func (p paceExceeded) BusyFor() time.Duration { return max(p.after, PaceRetry) }

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

// Pace is one limit an event must fit, under its key.
type Pace struct {
	Key   string
	Limit Limit
}

// Limiter paces events per key and keeps Slack's Retry-After holds.
// Implementations: MemoryLimiter (one process) and RedisLimiter (shared by
// every replica).
type Limiter interface {
	// Wait blocks until one more event under key fits l, or returns an error
	// (ctx's, or ErrPaceExceeded) without consuming a slot.
	Wait(ctx context.Context, key string, l Limit) error
	// WaitAll is Wait for an event that must fit every pace (a post: its
	// workspace's and its channel's). The slots are reserved together or
	// not at all, so a call one pace refuses spends nothing of the others.
	WaitAll(ctx context.Context, paces ...Pace) error
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

// maxWait is the longest this caller may queue: the smallest of l.MaxWait,
// the time left before ctx's deadline and ctx's wait budget (a job's); -1
// means unbounded. The deadline is measured on the real clock, which is
// what the wait sleeps on.
func maxWait(ctx context.Context, l Limit) time.Duration {
	return callerWait(ctx, l.MaxWait)
}

// callerWait is the smallest of limit (when > 0), the time left before
// ctx's deadline and ctx's wait budget; -1 means unbounded.
func callerWait(ctx context.Context, limit time.Duration) time.Duration {
	w := time.Duration(-1)
	if limit > 0 {
		w = limit
	}
	if dl, ok := ctx.Deadline(); ok {
		w = shorter(w, max(time.Until(dl), 0))
	}
	if b, ok := waitbudget.Of(ctx); ok {
		w = shorter(w, max(b, 0))
	}
	return w
}

// shorter is the smaller of two waits, where -1 means unbounded.
func shorter(w, d time.Duration) time.Duration {
	if w < 0 || d < w {
		return d
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
	return m.WaitAll(ctx, Pace{Key: key, Limit: l})
}

// WaitAll implements Limiter.
func (m *MemoryLimiter) WaitAll(ctx context.Context, paces ...Pace) error {
	delay, err := m.reserve(ctx, paces)
	if err != nil {
		return err
	}
	return sleepCtx(ctx, delay)
}

// reserve takes one slot of every paced key, or none, and returns the
// longest of their delays.
func (m *MemoryLimiter) reserve(ctx context.Context, paces []Pace) (time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	var delay time.Duration
	next := make([]time.Time, len(paces))
	for i, p := range paces {
		if p.Limit.unpaced() {
			continue
		}
		d, n := gcra(now, m.tat[p.Key], p.Limit)
		if w := maxWait(ctx, p.Limit); w >= 0 && d > w {
			return 0, fmt.Errorf("pace %s: need %s, may wait %s: %w", p.Key, d, w, ErrPaceExceeded)
		}
		delay, next[i] = max(delay, d), n
	}
	for i, p := range paces {
		if !p.Limit.unpaced() {
			m.tat[p.Key] = next[i]
		}
	}
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

// NotSent says whether a failed call certainly sent nothing Slack acted on:
// refused by the pace or a hold (ErrPaceExceeded), by the Block Kit guard
// (ErrGuard), by a final 429, or answered ok:false with a refusal. Any
// other error (a timeout, a 5xx, a broken connection, or one of Slack's
// server-side errors, which "may have partly succeeded") may hide a post
// that went out.
func NotSent(err error) bool {
	var rl *slack.RateLimitedError
	if errors.Is(err, ErrPaceExceeded) || errors.Is(err, ErrGuard) || errors.As(err, &rl) {
		return true
	}
	code := SlackErrorCode(err)
	return code != "" && !mayHavePartlySucceeded[code]
}

// mayHavePartlySucceeded are ok:false codes Slack documents as transient
// failures on its side, after which the operation may have gone through.
var mayHavePartlySucceeded = map[string]bool{
	"internal_error": true, "fatal_error": true, "request_timeout": true, "service_unavailable": true,
}
