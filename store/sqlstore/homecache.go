package sqlstore

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/accessbot/accessbot/store"
)

// HomeListener reports, until ctx ends, every committed Home-visible write
// of any process (changed), and whether it is listening (live): true once
// listening, again after each reconnect; false when it stops. PostgreSQL's
// is LISTEN on the channel the home_v triggers NOTIFY (migrations 00291,
// 00300).
type HomeListener func(ctx context.Context, changed func(), live func(bool))

// WithHomeListener keeps Home versions in memory while l listens: an
// unchanged Home tab's open then reads no database at all. Any write of this
// process (outside a transaction, or a committed one) and any change l
// reports drop every kept version; while l is not listening, and for
// versions older than HomeVersionTTL, the store is read as without it.
func WithHomeListener(l HomeListener) Option {
	return func(s *Store) { s.home = &homeCache{listen: l, ttl: HomeVersionTTL, m: map[homeKey]homeEntry{}} }
}

// WithHomeVersionTTL changes HomeVersionTTL for a store that keeps Home
// versions (tests: a long one shows what the listener alone does).
func WithHomeVersionTTL(d time.Duration) Option {
	return func(s *Store) {
		if s.home != nil {
			s.home.ttl = d
		}
	}
}

// HomeVersionTTL bounds how long a kept version is trusted on its own: the
// most a write could go unseen if the listener's connection died without
// an error.
const HomeVersionTTL = 2 * time.Second

// homeCache is the Home versions kept in memory. Every invalidation moves
// gen; a version read from the store is kept only if gen did not move
// while it was read, so a read that raced a write is never kept.
type homeCache struct {
	listen HomeListener
	ttl    time.Duration
	start  sync.Once
	stop   context.CancelFunc
	done   chan struct{}

	gen  atomic.Uint64
	live atomic.Bool

	mu sync.Mutex
	m  map[homeKey]homeEntry
}

// homeKey is one viewer's Home: its version is kept with the admins' part
// (zeroed for a viewer who is not an admin as it is answered).
type homeKey struct{ tenant, user string }

type homeEntry struct {
	v     store.HomeVersion
	gen   uint64
	until time.Time
}

// invalidate drops every kept version, and any read in flight.
func (c *homeCache) invalidate() { c.gen.Add(1) }

func (c *homeCache) setLive(on bool) {
	// The order matters on (re)connect: a read that started before the
	// listener was back is not kept (gen moves after live).
	c.live.Store(on)
	c.invalidate()
}

// run starts the listener on first use.
func (c *homeCache) run() {
	c.start.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		c.stop, c.done = cancel, make(chan struct{})
		go func() {
			defer close(c.done)
			defer c.setLive(false)
			c.listen(ctx, c.invalidate, c.setLive)
		}()
	})
}

// close stops the listener, if it was started.
func (c *homeCache) close() {
	c.start.Do(func() {}) // never start after this
	if c.stop != nil {
		c.stop()
		<-c.done
	}
}

func (c *homeCache) get(k homeKey, now time.Time) (store.HomeVersion, uint64, bool) {
	g := c.gen.Load()
	if !c.live.Load() {
		return store.HomeVersion{}, g, false
	}
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	return e.v, g, ok && e.gen == g && now.Before(e.until)
}

func (c *homeCache) put(k homeKey, v store.HomeVersion, g uint64, now time.Time) {
	if !c.live.Load() || c.gen.Load() != g {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxHomeEntries {
		clear(c.m) // viewers beyond this many: start over rather than grow
	}
	c.m[k] = homeEntry{v: v, gen: g, until: now.Add(c.ttl)}
}

const maxHomeEntries = 10000

// HomeVersion is queries.HomeVersion, from memory when the store keeps
// versions (WithHomeListener) and nothing was written since it was read.
// Any write drops every kept version, whichever parts it moved: the
// notification names the tenant only, and writes are rare next to opens.
func (s *Store) HomeVersion(ctx context.Context, tenantID, userID string, admin bool) (store.HomeVersion, error) {
	c := s.home
	if c == nil {
		return s.queries.HomeVersion(ctx, tenantID, userID, admin)
	}
	c.run()
	now := time.Now()
	k := homeKey{tenantID, userID}
	v, g, ok := c.get(k, now)
	if !ok {
		var err error
		if v, err = s.queries.HomeVersion(ctx, tenantID, userID, true); err != nil {
			return store.HomeVersion{}, err
		}
		c.put(k, v, g, now)
	}
	if !admin {
		v.Admins = 0
	}
	return v, nil
}
