package bot_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/internal/testenv"
)

func dedupers(t *testing.T) map[string]func(t *testing.T) bot.Deduper {
	return map[string]func(t *testing.T) bot.Deduper{
		"memory": func(t *testing.T) bot.Deduper { return bot.NewMemoryDeduper(100, nil) },
		"redis": func(t *testing.T) bot.Deduper {
			rdb, prefix := testenv.Redis(t)
			return bot.NewRedisDeduper(rdb, prefix)
		},
	}
}

func TestDeduperFirstOnce(t *testing.T) {
	for name, open := range dedupers(t) {
		t.Run(name, func(t *testing.T) {
			d := open(t)
			ctx := context.Background()
			for i, want := range []bool{true, false, false} {
				got, err := d.First(ctx, "ev:E1", time.Minute)
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Fatalf("call %d: First = %v, want %v", i, got, want)
				}
			}
			if got, _ := d.First(ctx, "ev:E2", time.Minute); !got {
				t.Fatal("a different key must be first")
			}
		})
	}
}

func TestDeduperConcurrent(t *testing.T) {
	for name, open := range dedupers(t) {
		t.Run(name, func(t *testing.T) {
			d := open(t)
			var wins atomic.Int32
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range 20 {
				wg.Go(func() {
					<-start
					ok, err := d.First(context.Background(), "ev:race", time.Minute)
					if err != nil {
						t.Error(err)
					}
					if ok {
						wins.Add(1)
					}
				})
			}
			close(start)
			wg.Wait()
			if got := wins.Load(); got != 1 {
				t.Fatalf("%d goroutines saw First==true, want exactly 1", got)
			}
		})
	}
}

func TestMemoryDeduperExpiryAndBound(t *testing.T) {
	now := time.Unix(1000, 0)
	d := bot.NewMemoryDeduper(4, func() time.Time { return now })
	ctx := context.Background()
	if ok, _ := d.First(ctx, "a", time.Second); !ok {
		t.Fatal("first a")
	}
	now = now.Add(2 * time.Second)
	if ok, _ := d.First(ctx, "a", time.Second); !ok {
		t.Fatal("a must be first again after its ttl")
	}
	for _, k := range []string{"b", "c", "d", "e", "f", "g"} {
		if ok, _ := d.First(ctx, k, time.Hour); !ok {
			t.Fatalf("first %s", k)
		}
	}
	if n := d.Len(); n > 4 {
		t.Fatalf("Len = %d, want <= 4", n)
	}
	if ok, _ := d.First(ctx, "g", time.Hour); ok {
		t.Fatal("the newest key must survive eviction")
	}
}

// TestFallbackDeduperServesWithoutRedis: with Redis cut (a TCP proxy in
// front of the real server), envelopes are still deduplicated, in this
// process: a key seen before the cut and a key first seen during it are
// each handled once, never reported as an error (which the dispatcher
// would answer by handling the envelope anyway). The loss is one warning,
// however many envelopes come meanwhile; once Redis answers again keys are
// shared across replicas again, and one that another replica saw during
// the cut is not handled twice here.
func TestFallbackDeduperServesWithoutRedis(t *testing.T) {
	rdb, prefix := testenv.Redis(t)
	if rdb == nil {
		return
	}
	proxy := testenv.NewTCPProxy(t, rdb.Options().Addr)
	opts := *rdb.Options()
	opts.Addr, opts.MaxRetries, opts.DialTimeout, opts.ReadTimeout = proxy.Addr(), -1, 200*time.Millisecond, 200*time.Millisecond
	viaProxy := redis.NewClient(&opts)
	t.Cleanup(func() { viaProxy.Close() })
	var logs syncBuffer
	d := bot.NewFallbackDeduper(bot.NewRedisDeduper(viaProxy, prefix), zerolog.New(&logs))
	other := bot.NewRedisDeduper(rdb, prefix) // another replica, whose Redis answers
	ctx := context.Background()
	first := func(key string, want bool) {
		t.Helper()
		got, err := d.First(ctx, key, time.Minute)
		if err != nil || got != want {
			t.Errorf("First(%s) = %v, %v; want %v, nil", key, got, err, want)
		}
	}
	first("before", true)
	first("before", false)

	cutCtx, endCut := context.WithCancel(ctx)
	cut := make(chan struct{})
	go func() { _ = proxy.Cut(cutCtx, time.Minute); close(cut) }()
	time.Sleep(50 * time.Millisecond)
	first("before", false)
	for i := range 5 {
		key := fmt.Sprintf("during-%d", i)
		first(key, true)
		first(key, false)
	}
	warns := 0
	for _, l := range logs.lines(t) {
		if l["message"] == bot.MsgDedupeInProcess && l["level"] == "warn" {
			warns++
		}
	}
	if warns != 1 {
		t.Errorf("%d warnings that dedupe is in process only, want 1: %v", warns, logs.lines(t))
	}
	endCut()
	<-cut
	// Once Redis answers again (past the fallback's retry window, and the
	// client's redial), a key another replica saw is not handled here.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		key := fmt.Sprintf("elsewhere-%d", i)
		if ok, err := other.First(ctx, key, time.Minute); !ok || err != nil {
			t.Fatalf("the other replica's First(%s) = %v, %v", key, ok, err)
		}
		ok, err := d.First(ctx, key, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Redis back, but keys other replicas saw are still handled here")
		}
		time.Sleep(100 * time.Millisecond)
	}
	first("during-0", false)
	first("after", true)
	back := false
	for _, l := range logs.lines(t) {
		back = back || l["message"] == "redis answers again; deduplicating Slack envelopes across replicas"
	}
	if !back {
		t.Errorf("no line saying Redis is back: %v", logs.lines(t))
	}
}
