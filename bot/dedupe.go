package bot

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
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

// FallbackDeduper is the shared Deduper of several replicas that keeps
// deduplicating when Redis does not answer: every key is also remembered in
// this process, and while Redis fails (and for a second after each failure,
// so envelopes do not each wait out a dead connection) the in-process answer
// is used. A redelivery to this replica is then still handled once; one to
// another replica may be handled there too, which the handlers' conditional
// writes and the delivery outbox turn into one effect. Losing Redis is
// logged once at warn, its return once at info.
type FallbackDeduper struct {
	shared Deduper
	local  *MemoryDeduper
	log    zerolog.Logger
	now    func() time.Time
	// retryAt (unix nanos) is when to ask Redis again; 0 while it answers.
	retryAt atomic.Int64
}

var _ Deduper = (*FallbackDeduper)(nil)

// NewFallbackDeduper remembers keys in shared (Redis) and in this process.
func NewFallbackDeduper(shared Deduper, log zerolog.Logger) *FallbackDeduper {
	return &FallbackDeduper{shared: shared, local: NewMemoryDeduper(0, nil), log: log, now: time.Now}
}

// fallbackRetry is how long the in-process answer stands after Redis failed.
const fallbackRetry = time.Second

// MsgDedupeInProcess is the warning logged when Redis stops answering.
const MsgDedupeInProcess = "redis unavailable; deduplicating Slack envelopes in this process only"

func (d *FallbackDeduper) First(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	// Seen here before means handled (or being handled) here: a duplicate,
	// whatever Redis, which may have lost the key in an outage, says.
	first, _ := d.local.First(ctx, key, ttl)
	now := d.now().UnixNano()
	if at := d.retryAt.Load(); at != 0 && now < at {
		return first, nil
	}
	ok, err := d.shared.First(ctx, key, ttl)
	if err != nil {
		if d.retryAt.Swap(now+int64(fallbackRetry)) == 0 {
			d.log.Warn().Err(err).Msg(MsgDedupeInProcess)
		}
		return first, nil
	}
	if d.retryAt.Swap(0) != 0 {
		d.log.Info().Msg("redis answers again; deduplicating Slack envelopes across replicas")
	}
	return ok && first, nil
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
