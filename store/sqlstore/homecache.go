package sqlstore

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/accessbot/accessbot/internal/metrics"
	"github.com/accessbot/accessbot/store"
)

// HomeListener hears every committed Home-visible write of any process,
// for a store that keeps Home versions in memory. PostgreSQL's is LISTEN on
// the channel the home_v triggers NOTIFY (migrations 00291, 00300, 00320).
type HomeListener struct {
	// Listen reports, until ctx ends, each part of a Home version a write
	// moved (changed), each fence asked by Fence once heard (fenced, with
	// when it was asked, as Fence was given it), and whether it is
	// listening (live): true once listening, again after each reconnect;
	// false when it stops.
	Listen func(ctx context.Context, changed func(HomeChange), fenced func(n uint64, asked time.Duration), live func(bool))
	// Fence asks Listen to report fenced(n, asked) once it has reported
	// every change committed before Fence was called. Nil: a write of this
	// process drops every version kept.
	Fence func(ctx context.Context, n uint64, asked time.Duration) error
}

// HomeChange is the part of one tenant's Home version a write moved: Part
// is HomeEveryone, HomeAdmins or a user id. The zero HomeChange says that
// anything may have moved (a notification that could not be read).
type HomeChange struct{ Tenant, Part string }

// The parts of a Home version other than a user's, as a HomeChange and the
// triggers' notifications name them.
const (
	HomeEveryone = "*"
	HomeAdmins   = "@admins"
)

// WithHomeListener keeps Home versions in memory while l listens: an
// unchanged Home tab's open then reads no database at all. Each part is
// kept on its own (a tenant's everyone's and admins' parts, each user's
// part), and a change l reports drops only the part it names; a change it
// cannot name and a reconnect drop everything. A write of this process
// (outside a transaction, or a committed one) is heard as any other's:
// until l has heard a fence asked after it, versions are read from the
// database. While l is not listening, and for parts older than
// HomeVersionTTL, the store is read as without it.
func WithHomeListener(l HomeListener) Option {
	return func(s *Store) { s.home = newHomeCache(l) }
}

func newHomeCache(l HomeListener) *homeCache {
	return &homeCache{listen: l, ttl: HomeVersionTTL, tenants: map[string]*homeTenant{}, poke: make(chan struct{}, 1), base: time.Now()}
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
// an error. A fence heard also proves the listener heard every write
// committed before it was asked: while Homes are opened one is asked every
// HomeVersionTTL/2, and a part is trusted for HomeVersionTTL from its read
// or from the last fence heard, whichever is later.
const HomeVersionTTL = 2 * time.Second

// homeCache is the Home versions kept in memory. Every drop moves seq; a
// part read from the store is kept only if it was not dropped after the
// read began (its dropped, or allAt, is not past the seq the read began
// at), so a read that raced a write is never kept.
type homeCache struct {
	listen HomeListener
	ttl    time.Duration
	start  sync.Once
	stop   context.CancelFunc
	done   chan struct{}

	live        atomic.Bool
	kept, reads atomic.Uint64 // answers from memory, from the database

	// This process's writes (writes) and the last of them whose fence the
	// listener heard (fenced): while fenced < writes, a write's
	// notifications may still be on their way, and versions are read from
	// the database. poke wakes the fencer.
	writes, fenced atomic.Uint64
	poke           chan struct{}
	// heardAsked is when the last fence heard was asked, since base (on
	// the monotonic clock: a wall clock set back trusts nothing longer);
	// wanted says Homes were opened since the last heartbeat fence.
	base       time.Time
	heardAsked atomic.Int64
	wanted     atomic.Bool

	mu      sync.Mutex
	seq     uint64 // moves on every drop
	allAt   uint64 // seq of the last drop of everything
	tenants map[string]*homeTenant
	users   int // user parts in tenants, dropped ones included
}

// homeTenant is one tenant's parts. A dropped user part stays, not ok, to
// remember when it was dropped.
type homeTenant struct {
	everyone, admins homePart
	users            map[string]homePart
}

// homePart is one part of a Home version: its value while ok and before
// until, and the seq of its last drop.
type homePart struct {
	v       int64
	ok      bool
	until   time.Time
	dropped uint64
}

// fresh reports whether p is kept and trusted at now: read (until), or the
// last fence heard asked (alive), less than the TTL ago.
func (p homePart) fresh(now time.Time, alive time.Time) bool {
	return p.ok && (now.Before(p.until) || now.Before(alive))
}

// keep sets p to v read at seq, unless p was dropped since.
func (p *homePart) keep(v int64, seq uint64, until time.Time) {
	if p.dropped > seq {
		return
	}
	p.v, p.ok, p.until = v, true, until
}

// maxHomeEntries bounds the user parts kept: past it, everything is
// dropped and kept again as viewers come back, rather than grow.
const maxHomeEntries = 10000

// dropAll drops every part kept, and any read in flight.
func (c *homeCache) dropAll() {
	c.mu.Lock()
	c.dropAllLocked()
	c.mu.Unlock()
	homeDrops.all.Inc()
}

func (c *homeCache) dropAllLocked() {
	c.seq++
	c.allAt = c.seq
	clear(c.tenants)
	c.users = 0
}

// drop drops the part ch names (everything for the zero HomeChange).
func (c *homeCache) drop(ch HomeChange) {
	if ch.Tenant == "" || ch.Part == "" {
		c.dropAll()
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := c.tenant(ch.Tenant)
	switch ch.Part {
	case HomeEveryone:
		t.everyone = homePart{dropped: c.seq}
		homeDrops.everyone.Inc()
	case HomeAdmins:
		t.admins = homePart{dropped: c.seq}
		homeDrops.admins.Inc()
	default:
		if _, ok := t.users[ch.Part]; !ok {
			if c.users >= maxHomeEntries {
				c.dropAllLocked()
				homeDrops.all.Inc()
				return
			}
			c.users++
		}
		t.users[ch.Part] = homePart{dropped: c.seq}
		homeDrops.user.Inc()
	}
}

// tenant is tenant id's parts, added if missing. c.mu is held.
func (c *homeCache) tenant(id string) *homeTenant {
	t := c.tenants[id]
	if t == nil {
		t = &homeTenant{users: map[string]homePart{}}
		c.tenants[id] = t
	}
	return t
}

func (c *homeCache) setLive(on bool) {
	// The order matters on (re)connect: a read that started before the
	// listener was back is not kept (seq moves after live). The drop
	// covers every write of this process counted before it.
	n, at := c.writes.Load(), c.since()
	c.live.Store(on)
	c.dropAll()
	if on {
		c.heard(n, at)
	}
}

// run starts the listener on first use.
func (c *homeCache) run() {
	c.start.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		c.stop, c.done = cancel, make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.setLive(false)
			c.listen.Listen(ctx, c.drop, c.heard, c.setLive)
		}()
		if c.listen.Fence != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.fencer(ctx)
			}()
		}
		go func() {
			wg.Wait()
			close(c.done)
		}()
	})
}

// wrote is called after each write of this process: its changes reach
// memory through their notifications, as another process's do, once the
// listener hears a fence asked after it; until then versions are read from
// the database. Without fences, it drops everything.
func (c *homeCache) wrote() {
	if c.listen.Fence == nil {
		c.dropAll()
		return
	}
	c.writes.Add(1)
	select {
	case c.poke <- struct{}{}:
	default: // a fence is about to be asked: it covers this write too
	}
}

// since is now as fences carry it.
func (c *homeCache) since() time.Duration { return time.Since(c.base) }

// heard is the listener hearing fence n, asked at asked: every write
// counted up to n, and every write committed before asked, has been heard.
func (c *homeCache) heard(n uint64, asked time.Duration) {
	for {
		f := c.fenced.Load()
		if n <= f || c.fenced.CompareAndSwap(f, n) {
			break
		}
	}
	for a := int64(asked); ; {
		h := c.heardAsked.Load()
		if a <= h || c.heardAsked.CompareAndSwap(h, a) {
			return
		}
	}
}

// fencerRetry is how long the fencer waits after a fence that failed.
const fencerRetry = 100 * time.Millisecond

// fencer asks a fence after each burst of this process's writes, one at a
// time, and every ttl/2 while Homes are opened (the listener is alive),
// until ctx ends.
func (c *homeCache) fencer(ctx context.Context) {
	beat := time.NewTicker(max(c.ttl/2, time.Millisecond))
	defer beat.Stop()
	for {
		heartbeat := false
		select {
		case <-ctx.Done():
			return
		case <-c.poke:
		case <-beat.C:
			heartbeat = c.wanted.Swap(false)
		}
		n := c.writes.Load()
		if n <= c.fenced.Load() && !heartbeat {
			continue
		}
		if err := c.listen.Fence(ctx, n, c.since()); err != nil {
			// Versions are read from the database meanwhile.
			select {
			case <-ctx.Done():
				return
			case <-time.After(fencerRetry):
			}
			select {
			case c.poke <- struct{}{}:
			default:
			}
		}
	}
}

// ownPending reports whether a write of this process may not have been
// heard yet.
func (c *homeCache) ownPending() bool { return c.fenced.Load() < c.writes.Load() }

// close stops the listener, if it was started.
func (c *homeCache) close() {
	c.start.Do(func() {}) // never start after this
	if c.stop != nil {
		c.stop()
		<-c.done
	}
}

// get is the version of user's Home in tenant if every part it needs is
// kept (admins': for an admin), and the seq a read from the store begins at.
func (c *homeCache) get(tenant, user string, admin bool, now time.Time) (store.HomeVersion, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	seq := c.seq
	if !c.live.Load() || c.ownPending() {
		return store.HomeVersion{}, seq, false
	}
	t := c.tenants[tenant]
	if t == nil {
		return store.HomeVersion{}, seq, false
	}
	u := t.users[user]
	alive := c.base.Add(time.Duration(c.heardAsked.Load()) + c.ttl)
	if !t.everyone.fresh(now, alive) || !u.fresh(now, alive) || (admin && !t.admins.fresh(now, alive)) {
		return store.HomeVersion{}, seq, false
	}
	v := store.HomeVersion{Tenant: t.everyone.v, User: u.v}
	if admin {
		v.Admins = t.admins.v
	}
	return v, seq, true
}

// put keeps v, every part of user's Home in tenant read from the store
// from seq on, but not a part dropped since.
func (c *homeCache) put(tenant, user string, v store.HomeVersion, seq uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live.Load() || c.allAt > seq {
		return
	}
	t := c.tenant(tenant)
	until := now.Add(c.ttl)
	t.everyone.keep(v.Tenant, seq, until)
	t.admins.keep(v.Admins, seq, until)
	u, ok := t.users[user]
	if !ok {
		if c.users >= maxHomeEntries {
			c.dropAllLocked() // viewers beyond this many: start over rather than grow
			return
		}
		c.users++
	}
	u.keep(v.User, seq, until)
	t.users[user] = u
}

// HomeVersion is queries.HomeVersion, from memory when the store keeps
// versions (WithHomeListener) and none of the parts the viewer reads was
// dropped since it was read.
func (s *Store) HomeVersion(ctx context.Context, tenantID, userID string, admin bool) (store.HomeVersion, error) {
	c := s.home
	if c == nil {
		return s.queries.HomeVersion(ctx, tenantID, userID, admin)
	}
	c.run()
	c.wanted.Store(true)
	now := time.Now()
	v, seq, ok := c.get(tenantID, userID, admin, now)
	if ok {
		c.kept.Add(1)
		homeReads.memory.Inc()
		return v, nil
	}
	// Every part, the admins' too: one statement reads them all, and the
	// next viewer may be an admin.
	v, err := s.queries.HomeVersion(ctx, tenantID, userID, true)
	if err != nil {
		return store.HomeVersion{}, err
	}
	c.reads.Add(1)
	homeReads.database.Inc()
	c.put(tenantID, userID, v, seq, now)
	if !admin {
		v.Admins = 0
	}
	return v, nil
}

// HomeVersionStats counts a store's HomeVersion answers since it opened.
type HomeVersionStats struct {
	Kept uint64 // from memory
	Read uint64 // from the database, by a store that keeps versions
}

// HomeVersionStats is how this store answered HomeVersion: zero for a
// store that keeps no versions (WithHomeListener).
func (s *Store) HomeVersionStats() HomeVersionStats {
	if s.home == nil {
		return HomeVersionStats{}
	}
	return HomeVersionStats{Kept: s.home.kept.Load(), Read: s.home.reads.Load()}
}

// The metrics' children, looked up once.
var (
	homeReads = struct{ memory, database prometheus.Counter }{
		metrics.HomeVersionReads.WithLabelValues("memory"), metrics.HomeVersionReads.WithLabelValues("database")}
	homeDrops = struct{ all, everyone, admins, user prometheus.Counter }{
		metrics.HomeVersionDrops.WithLabelValues("all"), metrics.HomeVersionDrops.WithLabelValues("everyone"),
		metrics.HomeVersionDrops.WithLabelValues("admins"), metrics.HomeVersionDrops.WithLabelValues("user")}
)
