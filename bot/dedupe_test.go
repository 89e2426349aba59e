package bot_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
