package identity

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cache holds Slack user → tenant user mappings with a TTL.
type Cache interface {
	// Get returns the value and true, or "" and false on a miss.
	Get(ctx context.Context, key string) (string, bool, error)
	Set(ctx context.Context, key, value string, ttl time.Duration) error
	Delete(ctx context.Context, key string) error
}

// MemoryCache is an in-process Cache bounded to maxEntries.
type MemoryCache struct {
	now        func() time.Time
	maxEntries int

	mu sync.Mutex
	m  map[string]memEntry
}

type memEntry struct {
	value   string
	expires time.Time
}

var _ Cache = (*MemoryCache)(nil)

// NewMemoryCache returns a cache holding at most maxEntries (<=0: 10000);
// now may be nil (time.Now).
func NewMemoryCache(maxEntries int, now func() time.Time) *MemoryCache {
	if maxEntries <= 0 {
		maxEntries = 10000
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryCache{now: now, maxEntries: maxEntries, m: map[string]memEntry{}}
}

func (c *MemoryCache) Get(_ context.Context, key string) (string, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok {
		return "", false, nil
	}
	if !c.now().Before(e.expires) {
		delete(c.m, key)
		return "", false, nil
	}
	return e.value, true, nil
}

func (c *MemoryCache) Set(_ context.Context, key, value string, ttl time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if _, exists := c.m[key]; !exists && len(c.m) >= c.maxEntries {
		c.evictLocked(now)
	}
	c.m[key] = memEntry{value: value, expires: now.Add(ttl)}
	return nil
}

// evictLocked drops expired entries, or, if none, the one expiring soonest.
func (c *MemoryCache) evictLocked(now time.Time) {
	var (
		oldest    string
		oldestExp time.Time
	)
	for k, e := range c.m {
		if !now.Before(e.expires) {
			delete(c.m, k)
			continue
		}
		if oldest == "" || e.expires.Before(oldestExp) {
			oldest, oldestExp = k, e.expires
		}
	}
	if len(c.m) >= c.maxEntries && oldest != "" {
		delete(c.m, oldest)
	}
}

func (c *MemoryCache) Delete(_ context.Context, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, key)
	return nil
}

// Len is the number of entries held (expired ones included until swept).
func (c *MemoryCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// RedisCache is a Cache shared by every replica, under a key prefix.
type RedisCache struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ Cache = (*RedisCache)(nil)

// NewRedisCache stores keys as prefix+key.
func NewRedisCache(rdb redis.UniversalClient, prefix string) *RedisCache {
	return &RedisCache{rdb: rdb, prefix: prefix}
}

func (c *RedisCache) Get(ctx context.Context, key string) (string, bool, error) {
	v, err := c.rdb.Get(ctx, c.prefix+key).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("redis get %s: %w", key, err)
	}
	return v, true, nil
}

func (c *RedisCache) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	if err := c.rdb.Set(ctx, c.prefix+key, value, ttl).Err(); err != nil {
		return fmt.Errorf("redis set %s: %w", key, err)
	}
	return nil
}

func (c *RedisCache) Delete(ctx context.Context, key string) error {
	if err := c.rdb.Del(ctx, c.prefix+key).Err(); err != nil {
		return fmt.Errorf("redis del %s: %w", key, err)
	}
	return nil
}
