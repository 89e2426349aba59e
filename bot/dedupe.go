package bot

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Deduper remembers keys for a while so a redelivered envelope is handled once.
// First reports true exactly once per key within ttl, however many callers race.
type Deduper interface {
	First(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// RedisDeduper shares dedupe keys across replicas with SET NX PX.
type RedisDeduper struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ Deduper = (*RedisDeduper)(nil)

// NewRedisDeduper stores keys under prefix (e.g. "accessbot:dedupe:").
func NewRedisDeduper(rdb redis.UniversalClient, prefix string) *RedisDeduper {
	return &RedisDeduper{rdb: rdb, prefix: prefix}
}

func (d *RedisDeduper) First(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	ok, err := d.rdb.SetNX(ctx, d.prefix+key, 1, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("dedupe %s: %w", key, err)
	}
	return ok, nil
}

// MemoryDeduper is the in-process Deduper for a single replica. It holds at
// most max keys; when full it drops expired keys, then the oldest.
type MemoryDeduper struct {
	now func() time.Time
	max int

	mu    sync.Mutex
	until map[string]time.Time
	order []string // insertion order, for eviction
}

var _ Deduper = (*MemoryDeduper)(nil)

// NewMemoryDeduper keeps up to max keys (10,000 when max <= 0); now may be nil.
func NewMemoryDeduper(max int, now func() time.Time) *MemoryDeduper {
	if max <= 0 {
		max = 10000
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryDeduper{now: now, max: max, until: make(map[string]time.Time)}
}

func (d *MemoryDeduper) First(_ context.Context, key string, ttl time.Duration) (bool, error) {
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if exp, ok := d.until[key]; ok && now.Before(exp) {
		return false, nil
	}
	if _, ok := d.until[key]; !ok && len(d.until) >= d.max {
		d.evict(now)
	}
	if _, ok := d.until[key]; !ok {
		d.order = append(d.order, key)
	}
	d.until[key] = now.Add(ttl)
	return true, nil
}

// evict drops expired keys, and the oldest quarter if that freed nothing.
func (d *MemoryDeduper) evict(now time.Time) {
	kept := d.order[:0]
	for _, k := range d.order {
		if now.Before(d.until[k]) {
			kept = append(kept, k)
		} else {
			delete(d.until, k)
		}
	}
	d.order = kept
	if len(d.until) < d.max {
		return
	}
	drop := max(1, len(d.order)/4)
	for _, k := range d.order[:drop] {
		delete(d.until, k)
	}
	d.order = append([]string(nil), d.order[drop:]...)
}

// Len is the number of remembered keys (tests and metrics).
func (d *MemoryDeduper) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.until)
}
