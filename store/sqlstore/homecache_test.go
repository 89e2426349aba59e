package sqlstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/accessbot/accessbot/store"
)

// TestHomeCacheDropsOnlyTheNamedPart: a notification naming one part drops
// that part alone: a user's, only that viewer's (in that tenant); the
// admins', only what admins read; everyone's, the part every viewer of the
// tenant reads (their own parts stay). The zero change, a reconnect and a
// write of this process drop everything. Each case keeps rita's, uma's and
// an admin's (ada's) versions in two tenants, applies the drop, and checks
// which viewers must read the database again.
func TestHomeCacheDropsOnlyTheNamedPart(t *testing.T) {
	type viewer struct {
		tenant, user string
		admin        bool
	}
	rita, uma, ada := viewer{"t1", "rita", false}, viewer{"t1", "uma", false}, viewer{"t1", "ada", true}
	ritaT2 := viewer{"t2", "rita", false}
	all := []viewer{rita, uma, ada, ritaT2}
	for _, tc := range []struct {
		name    string
		drop    func(c *homeCache)
		dropped []viewer // must read again; every other viewer is answered from memory
	}{
		{"a user's part", func(c *homeCache) { c.drop(HomeChange{"t1", "rita"}) }, []viewer{rita}},
		{"a user's part, another tenant", func(c *homeCache) { c.drop(HomeChange{"t2", "rita"}) }, []viewer{ritaT2}},
		{"a user no one viewed", func(c *homeCache) { c.drop(HomeChange{"t1", "owen"}) }, nil},
		{"the admins' part", func(c *homeCache) { c.drop(HomeChange{"t1", HomeAdmins}) }, []viewer{ada}},
		{"everyone's part", func(c *homeCache) { c.drop(HomeChange{"t1", HomeEveryone}) }, []viewer{rita, uma, ada}},
		{"an unreadable notification", func(c *homeCache) { c.drop(HomeChange{}) }, all},
		{"a tenant without a part", func(c *homeCache) { c.drop(HomeChange{Tenant: "t1"}) }, all},
		{"a reconnect", func(c *homeCache) { c.setLive(true) }, all},
		{"a write of this process, without fences", func(c *homeCache) { c.wrote() }, all},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newHomeCache(HomeListener{})
			c.ttl = time.Hour
			c.live.Store(true)
			now := time.Now()
			for i, v := range all {
				_, seq, ok := c.get(v.tenant, v.user, v.admin, now)
				if ok {
					t.Fatalf("%+v kept before any read", v)
				}
				c.put(v.tenant, v.user, store.HomeVersion{Tenant: 1, Admins: 2, User: int64(10 + i)}, seq, now)
			}
			for _, v := range all {
				if _, _, ok := c.get(v.tenant, v.user, v.admin, now); !ok {
					t.Fatalf("%+v not kept after its read", v)
				}
			}
			tc.drop(c)
			for i, v := range all {
				got, _, ok := c.get(v.tenant, v.user, v.admin, now)
				want := true
				for _, d := range tc.dropped {
					if d == v {
						want = false
					}
				}
				if ok != want {
					t.Errorf("%+v: kept %v after the drop, want %v", v, ok, want)
				}
				if ok {
					exp := store.HomeVersion{Tenant: 1, User: int64(10 + i)}
					if v.admin {
						exp.Admins = 2
					}
					if got != exp {
						t.Errorf("%+v: kept %+v, want %+v", v, got, exp)
					}
				}
			}
		})
	}
}

// TestHomeCacheReadRacingADrop: a version read from the store while a drop
// of one of its parts happened is not kept (it may predate the write), nor
// is anything read before a drop of everything; a read that began after the
// drop is.
func TestHomeCacheReadRacingADrop(t *testing.T) {
	now := time.Now()
	v := store.HomeVersion{Tenant: 1, Admins: 2, User: 3}
	for _, tc := range []struct {
		name  string
		drop  HomeChange
		admin bool
		kept  bool
	}{
		{"the viewer's part", HomeChange{"t1", "rita"}, false, false},
		{"everyone's part", HomeChange{"t1", HomeEveryone}, false, false},
		{"the admins' part, read by an admin", HomeChange{"t1", HomeAdmins}, true, false},
		{"the admins' part, read by a member", HomeChange{"t1", HomeAdmins}, false, true},
		{"another viewer's part", HomeChange{"t1", "uma"}, false, true},
		{"another tenant's part", HomeChange{"t2", HomeEveryone}, false, true},
		{"everything", HomeChange{}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &homeCache{ttl: time.Hour, tenants: map[string]*homeTenant{}}
			c.live.Store(true)
			_, seq, _ := c.get("t1", "rita", tc.admin, now) // the read begins
			c.drop(tc.drop)                                 // a write's notification
			c.put("t1", "rita", v, seq, now)                // the read ends
			if _, _, ok := c.get("t1", "rita", tc.admin, now); ok != tc.kept {
				t.Fatalf("kept %v, want %v", ok, tc.kept)
			}
			_, seq, _ = c.get("t1", "rita", tc.admin, now) // a read after the drop
			c.put("t1", "rita", v, seq, now)
			if _, _, ok := c.get("t1", "rita", tc.admin, now); !ok {
				t.Fatalf("a read begun after the drop was not kept")
			}
		})
	}
}

// TestHomeCacheNotLive: while the listener is not listening nothing is
// kept, and a read begun before it listens is not kept after.
func TestHomeCacheNotLive(t *testing.T) {
	now := time.Now()
	c := &homeCache{ttl: time.Hour, tenants: map[string]*homeTenant{}}
	_, seq, _ := c.get("t1", "rita", false, now)
	c.put("t1", "rita", store.HomeVersion{Tenant: 1}, seq, now)
	if _, _, ok := c.get("t1", "rita", false, now); ok {
		t.Fatalf("kept while not listening")
	}
	_, seq, _ = c.get("t1", "rita", false, now)
	c.setLive(true)
	c.put("t1", "rita", store.HomeVersion{Tenant: 1}, seq, now)
	if _, _, ok := c.get("t1", "rita", false, now); ok {
		t.Fatalf("a read begun before the listener listened was kept")
	}
	c.setLive(false)
	_, seq, _ = c.get("t1", "rita", false, now)
	c.put("t1", "rita", store.HomeVersion{Tenant: 1}, seq, now)
	if _, _, ok := c.get("t1", "rita", false, now); ok {
		t.Fatalf("kept after the listener stopped")
	}
}

// TestHomeCacheBounded: past maxHomeEntries user parts, kept or dropped,
// everything is dropped rather than grow.
func TestHomeCacheBounded(t *testing.T) {
	now := time.Now()
	c := &homeCache{ttl: time.Hour, tenants: map[string]*homeTenant{}}
	c.live.Store(true)
	for i := range maxHomeEntries + 10 {
		if i%2 == 0 {
			c.drop(HomeChange{"t1", string(rune('a'+i%26)) + time.Duration(i).String()})
			continue
		}
		u := "u" + time.Duration(i).String()
		_, seq, _ := c.get("t1", u, false, now)
		c.put("t1", u, store.HomeVersion{Tenant: 1}, seq, now)
		if c.users > maxHomeEntries {
			t.Fatalf("%d user parts kept, bound %d", c.users, maxHomeEntries)
		}
	}
	if c.users == 0 || c.users > maxHomeEntries {
		t.Fatalf("%d user parts at the end", c.users)
	}
}

// TestHomeCacheOwnWriteFenced: after a write of this process, nothing is
// answered from memory until the listener has heard a fence asked after
// it (the write's own notifications come before it), and then only what
// those notifications did not drop; a reconnect covers the writes before
// it.
func TestHomeCacheOwnWriteFenced(t *testing.T) {
	now := time.Now()
	c := newHomeCache(HomeListener{Fence: func(context.Context, uint64, time.Duration) error { return nil }})
	c.ttl = time.Hour
	c.live.Store(true)
	for _, u := range []string{"rita", "uma"} {
		_, seq, _ := c.get("t1", u, false, now)
		c.put("t1", u, store.HomeVersion{Tenant: 1, User: 1}, seq, now)
	}
	c.wrote()
	c.wrote()
	for _, u := range []string{"rita", "uma"} {
		if _, _, ok := c.get("t1", u, false, now); ok {
			t.Fatalf("%s answered from memory before the write was heard", u)
		}
	}
	c.drop(HomeChange{"t1", "rita"}) // the write's notification
	c.heard(1, 0)                    // a fence asked after the first write only
	if _, _, ok := c.get("t1", "uma", false, now); ok {
		t.Fatalf("answered from memory before the second write was heard")
	}
	c.heard(2, 0)
	if _, _, ok := c.get("t1", "uma", false, now); !ok {
		t.Fatalf("uma's version, which no notification named, not kept once the writes were heard")
	}
	if _, _, ok := c.get("t1", "rita", false, now); ok {
		t.Fatalf("rita's version, named by the write's notification, still kept")
	}
	c.heard(1, 0) // a late fence does not go back
	if c.ownPending() {
		t.Fatalf("pending again after an older fence")
	}
	c.wrote()
	c.setLive(true) // a reconnect drops everything: the write is covered
	if c.ownPending() {
		t.Fatalf("a write before a reconnect still pending after it")
	}
}

// TestHomeCacheFencer: the fencer asks a fence for the writes counted so
// far, again after a fence that failed, and stops with its context.
func TestHomeCacheFencer(t *testing.T) {
	asked := make(chan uint64, 10)
	fail := true
	c := newHomeCache(HomeListener{Fence: func(_ context.Context, n uint64, _ time.Duration) error {
		asked <- n
		if fail {
			fail = false
			return errors.New("connection refused")
		}
		return nil
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.fencer(ctx) }()
	c.wrote()
	c.wrote()
	got := []uint64{<-asked, <-asked}
	if got[1] != 2 {
		t.Fatalf("fences asked %v, want the second (after a failure) for 2 writes", got)
	}
	c.heard(2, 0)
	cancel()
	<-done
}

// TestHomeCacheHeartbeat: a part read longer than the TTL ago is still
// trusted while a fence asked less than the TTL ago has been heard (the
// listener heard every write committed before it), and no longer once
// the last fence heard is that old; the fencer asks one every TTL/2 while
// Homes are opened, and none while they are not.
func TestHomeCacheHeartbeat(t *testing.T) {
	c := newHomeCache(HomeListener{})
	c.ttl = time.Second
	c.setLive(true)
	read := c.base.Add(c.since())
	_, seq, _ := c.get("t1", "rita", false, read)
	c.put("t1", "rita", store.HomeVersion{Tenant: 1}, seq, read)
	later := read.Add(5 * time.Second)
	if _, _, ok := c.get("t1", "rita", false, later); ok {
		t.Fatalf("trusted past the TTL with no fence heard since the read")
	}
	c.heard(0, later.Sub(c.base)-500*time.Millisecond)
	if _, _, ok := c.get("t1", "rita", false, later); !ok {
		t.Fatalf("not trusted though a fence asked 0.5 s ago was heard")
	}
	if _, _, ok := c.get("t1", "rita", false, later.Add(time.Second)); ok {
		t.Fatalf("trusted 1.5 s after the last fence heard was asked (TTL 1 s)")
	}

	asked := make(chan time.Duration, 10)
	f := newHomeCache(HomeListener{Fence: func(_ context.Context, _ uint64, at time.Duration) error {
		asked <- at
		return nil
	}})
	f.ttl = 40 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.fencer(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-asked:
		t.Fatalf("a heartbeat fence asked with no Home opened")
	case <-time.After(100 * time.Millisecond):
	}
	f.wanted.Store(true)
	select {
	case <-asked:
	case <-time.After(time.Second):
		t.Fatalf("no heartbeat fence within 1 s of a Home opened (TTL 40 ms)")
	}
}
