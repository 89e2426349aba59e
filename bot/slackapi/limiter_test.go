package slackapi_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/internal/testenv"
)

func TestMemoryLimiterRefusesLongWaits(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	lim := slackapi.NewMemoryLimiter(clock)
	l := slackapi.Limit{Interval: time.Hour, Burst: 2, MaxWait: time.Minute}
	ctx := context.Background()

	// The burst goes at once; the next slot is an hour away, beyond MaxWait.
	for i := range 2 {
		if err := lim.Wait(ctx, "k", l); err != nil {
			t.Fatalf("burst event %d: %v", i, err)
		}
	}
	if err := lim.Wait(ctx, "k", l); !errors.Is(err, slackapi.ErrPaceExceeded) {
		t.Fatalf("third event: err = %v, want ErrPaceExceeded", err)
	}
	if err := lim.Wait(ctx, "other", l); err != nil {
		t.Fatalf("another key is independent: %v", err)
	}
	// A refused wait reserved nothing: once the hour passes, one slot is free again.
	now = now.Add(time.Hour)
	if err := lim.Wait(ctx, "k", l); err != nil {
		t.Fatalf("after an hour: %v", err)
	}
	if err := lim.Wait(ctx, "k", l); !errors.Is(err, slackapi.ErrPaceExceeded) {
		t.Fatalf("second event after an hour: err = %v, want ErrPaceExceeded", err)
	}

	// A context deadline shorter than the wait is refused at once.
	dctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := lim.Wait(dctx, "k", slackapi.Limit{Interval: time.Hour, Burst: 1}); !errors.Is(err, slackapi.ErrPaceExceeded) {
		t.Fatalf("deadline shorter than the wait: err = %v, want ErrPaceExceeded", err)
	}
}

// TestLimiterSharedAcrossReplicas runs two "replicas" (separate limiters and
// Redis connections) against one key: together they must not beat the limit.
func TestLimiterSharedAcrossReplicas(t *testing.T) {
	t.Parallel()
	rdb, prefix := testenv.Redis(t)
	second := redis.NewClient(rdb.Options())
	t.Cleanup(func() { _ = second.Close() })

	const perReplica, burst, interval = 10, 2, 50 * time.Millisecond
	l := slackapi.Limit{Interval: interval, Burst: burst}
	replicas := []slackapi.Limiter{
		slackapi.NewRedisLimiter(rdb, prefix, zerolog.Nop()),
		slackapi.NewRedisLimiter(second, prefix, zerolog.Nop()),
	}
	var (
		mu    sync.Mutex
		times []time.Time
		wg    sync.WaitGroup
	)
	for _, lim := range replicas {
		for range perReplica {
			wg.Go(func() {
				if err := lim.Wait(context.Background(), "post:T1:C1", l); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				times = append(times, time.Now())
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	total := 2 * perReplica
	if len(times) != total {
		t.Fatalf("%d events passed, want %d", len(times), total)
	}
	// GCRA: after the burst, one event per interval. Two unshared limiters
	// would take about half; one interval of slack absorbs scheduling delays.
	want := time.Duration(total-burst) * interval
	if span := times[total-1].Sub(times[0]); span < want-interval {
		t.Errorf("%d events from two replicas took %s, want at least %s", total, span, want)
	}
	// No window holds more than burst+1 events 'interval' apart.
	for i := 0; i+burst+1 < total; i++ {
		if gap := times[i+burst+1].Sub(times[i]); gap < interval/2 {
			t.Errorf("events %d..%d within %s, want at least %s", i, i+burst+1, gap, interval)
		}
	}
}

func TestRedisLimiterRefusesLongWaits(t *testing.T) {
	t.Parallel()
	rdb, prefix := testenv.Redis(t)
	lim := slackapi.NewRedisLimiter(rdb, prefix, zerolog.Nop())
	l := slackapi.Limit{Interval: time.Hour, Burst: 1, MaxWait: time.Second}
	ctx := context.Background()
	if err := lim.Wait(ctx, "k", l); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := lim.Wait(ctx, "k", l); !errors.Is(err, slackapi.ErrPaceExceeded) {
		t.Fatalf("err = %v, want ErrPaceExceeded", err)
	}
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Errorf("refusal took %s; it should not wait", el)
	}
	ttl, err := rdb.PTTL(ctx, prefix+"pace:k").Result()
	if err != nil || ttl <= 0 || ttl > time.Hour+2*time.Second {
		t.Errorf("pacing key ttl = %s, %v; want set and about an hour", ttl, err)
	}
}

func TestRedisLimiterFallsBackWhenRedisIsDown(t *testing.T) {
	t.Parallel()
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = down.Close() })
	var logs syncBuffer
	lim := slackapi.NewRedisLimiter(down, "x:", zerolog.New(&logs))
	l := slackapi.Limit{Interval: time.Hour, Burst: 1, MaxWait: time.Second}
	ctx := context.Background()
	if err := lim.Wait(ctx, "k", l); err != nil {
		t.Fatalf("first event with Redis down: %v", err)
	}
	// Still paced, in process: the second event is an hour away.
	if err := lim.Wait(ctx, "k", l); !errors.Is(err, slackapi.ErrPaceExceeded) {
		t.Fatalf("second event: err = %v, want ErrPaceExceeded from the in-process fallback", err)
	}
	if n := strings.Count(logs.String(), "redis pacing failed"); n != 1 {
		t.Errorf("%d fallback warnings, want 1 (throttled)", n)
	}
}

// TestHoldsOnlyExtend: a Retry-After hold is shared by limiters on the same
// Redis and is never shortened by a later, shorter Retry-After.
func TestHoldsOnlyExtend(t *testing.T) {
	t.Parallel()
	rdb, prefix := testenv.Redis(t)
	second := redis.NewClient(rdb.Options())
	t.Cleanup(func() { _ = second.Close() })
	mem := slackapi.NewMemoryLimiter(nil)
	tests := []struct {
		name        string
		write, read slackapi.Limiter
	}{
		{"memory", mem, mem},
		{"redis, read by another replica", slackapi.NewRedisLimiter(rdb, prefix, zerolog.Nop()), slackapi.NewRedisLimiter(second, prefix, zerolog.Nop())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if d, err := tt.read.Held(ctx, "hold:T1:users.info"); err != nil || d != 0 {
				t.Fatalf("fresh key held %s, %v; want 0", d, err)
			}
			if err := tt.write.Hold(ctx, "hold:T1:users.info", 30*time.Second); err != nil {
				t.Fatal(err)
			}
			if err := tt.write.Hold(ctx, "hold:T1:users.info", time.Second); err != nil {
				t.Fatal(err)
			}
			d, err := tt.read.Held(ctx, "hold:T1:users.info")
			if err != nil || d < 28*time.Second || d > 30*time.Second {
				t.Errorf("held %s, %v; want about 30s (a shorter hold must not shorten it)", d, err)
			}
			if d, _ := tt.read.Held(ctx, "hold:T1:chat.update"); d != 0 {
				t.Errorf("another method held %s, want 0", d)
			}
		})
	}
}

// TestWaitAllRefusalSpendsNothing: a post needs a workspace slot and a
// channel slot. A post the busy channel refuses must not spend the
// workspace's slot, which a post to another channel can still use; with
// the slots taken one after the other it did, and that post was refused.
func TestWaitAllRefusalSpendsNothing(t *testing.T) {
	t.Parallel()
	rdb, prefix := testenv.Redis(t)
	now := time.Unix(1_700_000_000, 0)
	for _, c := range []struct {
		name string
		lim  slackapi.Limiter
	}{
		{"memory", slackapi.NewMemoryLimiter(func() time.Time { return now })},
		{"redis", slackapi.NewRedisLimiter(rdb, prefix, zerolog.Nop())},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			ws := slackapi.Pace{Key: "post:T1-" + c.name, Limit: slackapi.Limit{Interval: time.Hour, Burst: 2, MaxWait: time.Second}}
			post := func(ch string) error {
				return c.lim.WaitAll(ctx, ws, slackapi.Pace{Key: ws.Key + ":" + ch, Limit: slackapi.Limit{Interval: time.Hour, Burst: 1, MaxWait: time.Second}})
			}
			if err := post("C1"); err != nil {
				t.Fatalf("first post to C1: %v", err)
			}
			if err := post("C1"); !errors.Is(err, slackapi.ErrPaceExceeded) {
				t.Fatalf("second post to C1: err = %v, want ErrPaceExceeded (the channel is busy)", err)
			}
			if err := post("C2"); err != nil {
				t.Fatalf("post to C2 after C1's refusal: %v (the refusal spent the workspace's slot)", err)
			}
			if err := post("C3"); !errors.Is(err, slackapi.ErrPaceExceeded) {
				t.Fatalf("third post: err = %v, want ErrPaceExceeded (the workspace's burst of 2 is spent)", err)
			}
		})
	}
}
