package slackapi

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// gcraScript reserves one slot under each of KEYS with the same GCRA as
// gcra(), atomically and on Redis's clock, so replicas with skewed clocks
// still agree: all of them, or none when one would wait too long.
// ARGV: per key, interval µs, burst, max wait µs (-1 = unbounded).
// Returns the longest delay in µs, or -i when key i would exceed its max
// wait (nothing reserved).
const gcraScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local worst = 0
local next = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[3*i-2])
  local tolerance = (tonumber(ARGV[3*i-1]) - 1) * interval
  local maxwait = tonumber(ARGV[3*i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local delay = tat - tolerance - now
  if delay < 0 then delay = 0 end
  if maxwait >= 0 and delay > maxwait then return -i end
  if delay > worst then worst = delay end
  next[i] = tat + interval
end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], string.format('%d', next[i]), 'PX', math.ceil((next[i] - now) / 1000) + 1000)
end
return worst
`

// holdScript extends the hold under KEYS[1] to ARGV[1] ms from now (Redis's
// clock, through the key's TTL), never shortening it.
const holdScript = `
local want = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) < want then
  redis.call('SET', KEYS[1], '1', 'PX', want)
end
return 1
`

// RedisLimiter is a Limiter shared by every replica using the same Redis and
// prefix. If Redis fails, it falls back to pacing in process (logged), since
// sending slightly too fast beats not sending.
type RedisLimiter struct {
	rdb      redis.UniversalClient
	prefix   string
	script   *redis.Script
	hold     *redis.Script
	fallback *MemoryLimiter
	log      zerolog.Logger
	// lastWarn (unix nanos) throttles the fallback warning to one a minute.
	lastWarn atomic.Int64
}

var _ Limiter = (*RedisLimiter)(nil)

// NewRedisLimiter paces under keys prefix+"pace:"+key and keeps holds under
// prefix+"pace:"+key as well (hold keys start with "hold:").
func NewRedisLimiter(rdb redis.UniversalClient, prefix string, log zerolog.Logger) *RedisLimiter {
	return &RedisLimiter{
		rdb:      rdb,
		prefix:   prefix + "pace:",
		script:   redis.NewScript(gcraScript),
		hold:     redis.NewScript(holdScript),
		fallback: NewMemoryLimiter(nil),
		log:      log,
	}
}

// Wait implements Limiter.
func (r *RedisLimiter) Wait(ctx context.Context, key string, l Limit) error {
	return r.WaitAll(ctx, Pace{Key: key, Limit: l})
}

// WaitAll implements Limiter. The keys share one Redis node (a plain
// client, as redis.url makes), so one script reserves them together.
func (r *RedisLimiter) WaitAll(ctx context.Context, paces ...Pace) error {
	var keys []string
	var args []any
	var waits []time.Duration
	for _, p := range paces {
		if p.Limit.unpaced() {
			continue
		}
		w := maxWait(ctx, p.Limit)
		maxUS := int64(-1)
		if w >= 0 {
			maxUS = w.Microseconds()
		}
		keys = append(keys, r.prefix+p.Key)
		args = append(args, p.Limit.Interval.Microseconds(), p.Limit.burst(), maxUS)
		waits = append(waits, w)
	}
	if len(keys) == 0 {
		return ctx.Err()
	}
	res, err := r.script.Run(ctx, r.rdb, keys, args...).Int64()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.warn(err, keys[0])
		return r.fallback.WaitAll(ctx, paces...)
	}
	if res < 0 {
		i := int(-res) - 1
		if i >= len(keys) {
			i = 0
		}
		return fmt.Errorf("pace %s: may wait %s: %w", strings.TrimPrefix(keys[i], r.prefix), waits[i], ErrPaceExceeded)
	}
	return sleepCtx(ctx, time.Duration(res)*time.Microsecond)
}

func (r *RedisLimiter) warn(err error, key string) {
	if now := time.Now().UnixNano(); now-r.lastWarn.Load() > int64(time.Minute) {
		r.lastWarn.Store(now)
		r.log.Warn().Err(err).Str("key", key).Msg("redis pacing failed; pacing in process")
	}
}

// Hold implements Limiter. The hold is also kept in process, so it still
// applies here if Redis fails later.
func (r *RedisLimiter) Hold(ctx context.Context, key string, d time.Duration) error {
	_ = r.fallback.Hold(ctx, key, d)
	ms := max(d.Milliseconds(), 1)
	if err := r.hold.Run(ctx, r.rdb, []string{r.prefix + key}, ms).Err(); err != nil {
		if ctx.Err() == nil {
			r.warn(err, key)
		}
		return fmt.Errorf("share hold %s: %w", key, err)
	}
	return nil
}

// Held implements Limiter: the longer of the shared hold and the one kept here.
func (r *RedisLimiter) Held(ctx context.Context, key string) (time.Duration, error) {
	local, _ := r.fallback.Held(ctx, key)
	if local > 0 {
		return local, nil
	}
	ttl, err := r.rdb.PTTL(ctx, r.prefix+key).Result()
	if err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		r.warn(err, key)
		return local, nil
	}
	return max(ttl, 0), nil
}
