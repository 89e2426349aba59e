package identity_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/identity"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

// TestRestartResolvesByStoredSlackID: a process restarted without Redis (a
// new resolver, an empty memory cache) resolves a user whose Slack id was
// stored less than the cache TTL ago with no users.info; a stored id
// older than that, or whose user changed email, was terminated or deleted,
// or that was stored by another tenant, goes back to users.info (another
// team: the store's conformance suite, UserBySlackID);
// a user past their leaving date is refused either way.
func TestRestartResolvesByStoredSlackID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		change   func(t *testing.T, e *env)
		team     string // "" : teamID
		user     string
		wantUser string // short name
		wantErr  error
		wantInfo int // users.info calls by the restarted resolver
	}{
		{name: "known user", user: "UALICE", wantUser: "alice"},
		{name: "leaving date next week", user: "UDAVE", wantUser: "dave"},
		{name: "leaving date passed: refused", user: "UCAROL", wantUser: "carol", wantErr: identity.ErrTerminated},
		{name: "just within the TTL", user: "UALICE", wantUser: "alice",
			change: func(t *testing.T, e *env) { e.clock.Add(e.cacheTTL) }},
		{name: "older than the TTL", user: "UALICE", wantUser: "alice", wantInfo: 1,
			change: func(t *testing.T, e *env) { e.clock.Add(e.cacheTTL + time.Second) }},
		{name: "terminated since: refused", user: "UALICE", wantUser: "alice", wantErr: identity.ErrTerminated, wantInfo: 1,
			change: func(t *testing.T, e *env) {
				u := *e.users["alice"]
				u.Status = accessbot.UserTerminated
				must(t, e.st.UpdateUser(context.Background(), &u))
			}},
		{name: "email changed in accessbot", user: "UALICE", wantErr: identity.ErrNoMatch, wantInfo: 1,
			change: func(t *testing.T, e *env) {
				u := *e.users["alice"]
				u.Email = "alice.new@example.com"
				must(t, e.st.UpdateUser(context.Background(), &u))
			}},
		{name: "deleted", user: "UALICE", wantErr: identity.ErrNoMatch, wantInfo: 1,
			change: func(t *testing.T, e *env) {
				must(t, e.st.DeleteUser(context.Background(), e.tenant, e.users["alice"].ID))
			}},
		{name: "stored for another tenant", team: noScopeTeamID, user: "USCOPE", wantErr: identity.ErrNoEmail, wantInfo: 1,
			change: func(t *testing.T, e *env) {
				// Acme's Alice under the other tenant's team and Slack user:
				// never the other tenant's answer.
				must(t, e.st.PutSlackID(context.Background(), &store.SlackID{TenantID: e.tenant, UserID: e.users["alice"].ID,
					TeamID: noScopeTeamID, SlackUserID: "USCOPE", Email: "alice@example.com", VerifiedAt: e.clock.Now()}))
			}},
	}
	for _, driver := range storetest.Drivers(t) {
		for _, tt := range tests {
			t.Run(driver+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				ctx := context.Background()
				e := setup(t, driver, "memory")
				for _, u := range []string{"UALICE", "UCAROL", "UDAVE"} { // the process before the restart
					if _, err := e.res.Resolve(ctx, teamID, u); err != nil && u != "UCAROL" {
						t.Fatalf("resolve %s: %v", u, err)
					}
				}
				e.res.WaitSlackIDs()
				if tt.change != nil {
					tt.change(t, e)
				}
				restarted := identity.NewResolver(e.st, e.clients, identity.Options{TTL: e.cacheTTL, Now: e.clock.Now, Log: zerolog.Nop()})
				team := teamID
				if tt.team != "" {
					team = tt.team
				}
				infos := len(e.fake.Calls("users.info"))
				a, err := restarted.Resolve(ctx, team, tt.user)
				restarted.WaitSlackIDs()
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if tt.wantUser != "" && a.User.ID != e.users[tt.wantUser].ID {
					t.Fatalf("resolved %s (%s), want %s", a.User.ID, a.User.Email, tt.wantUser)
				}
				if n := len(e.fake.Calls("users.info")) - infos; n != tt.wantInfo {
					t.Fatalf("users.info called %d times, want %d", n, tt.wantInfo)
				}
			})
		}
	}
}

// writeStore counts Slack id writes; while held they wait, and fail sets
// the error the next one returns.
type writeStore struct {
	identity.Store
	puts    atomic.Int32
	mu      sync.Mutex
	gate    chan struct{} // nil: writes go through
	entered chan struct{} // closed when a held write starts
	fail    error
}

func (w *writeStore) PutSlackID(ctx context.Context, s *store.SlackID) error {
	w.puts.Add(1)
	w.mu.Lock()
	gate, fail := w.gate, w.fail
	w.fail = nil
	if gate != nil && w.entered != nil {
		close(w.entered)
		w.entered = nil
	}
	w.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if fail != nil {
		return fail
	}
	return w.Store.PutSlackID(ctx, s)
}

func (w *writeStore) hold() (entered <-chan struct{}, release func()) {
	gate, ent := make(chan struct{}), make(chan struct{})
	w.mu.Lock()
	w.gate, w.entered = gate, ent
	w.mu.Unlock()
	return ent, func() {
		w.mu.Lock()
		w.gate = nil
		w.mu.Unlock()
		close(gate)
	}
}

// TestSlackIDWrittenInBackground: the resolve that went through users.info
// returns while the Slack id write is held; another resolve of the user
// meanwhile starts no second write; the stored id then spares users.info
// and writes nothing until the refresh period (a day) has passed; a failed
// write only logs.
func TestSlackIDWrittenInBackground(t *testing.T) {
	t.Parallel()
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := setup(t, driver, "memory")
			st := &writeStore{Store: e.st}
			res := identity.NewResolver(st, e.clients, identity.Options{TTL: e.cacheTTL, UserTTL: -1, Now: e.clock.Now, Log: zerolog.Nop()})
			infos := func() int { return len(e.fake.Calls("users.info")) }
			resolve := func(step string) {
				t.Helper()
				if o := within(t, step, async(func() (identity.Actor, error) { return res.Resolve(ctx, teamID, "UALICE") })); o.err != nil ||
					o.a.User.ID != e.users["alice"].ID {
					t.Fatalf("%s: %+v, %v", step, o.a.User, o.err)
				}
			}
			check := func(step string, wantPuts int32, wantInfos int) {
				t.Helper()
				res.WaitSlackIDs()
				if n := st.puts.Load(); n != wantPuts {
					t.Fatalf("%s: %d writes, want %d", step, n, wantPuts)
				}
				if n := infos(); n != wantInfos {
					t.Fatalf("%s: %d users.info calls, want %d", step, n, wantInfos)
				}
			}

			entered, release := st.hold()
			resolve("first resolve, its write held")
			<-entered
			must(t, res.Invalidate(ctx, teamID, "UALICE"))
			resolve("again while the write is held") // users.info: nothing stored yet
			time.Sleep(100 * time.Millisecond)       // time for a second write, were one started
			if n := st.puts.Load(); n != 1 {
				t.Fatalf("writes while one is held: %d, want 1", n)
			}
			release()
			check("after the write", 1, 2)
			s, err := e.st.GetSlackID(ctx, e.tenant, e.users["alice"].ID, teamID)
			if err != nil || s.SlackUserID != "UALICE" || !s.VerifiedAt.Equal(e.clock.Now()) {
				t.Fatalf("stored %+v, %v", s, err)
			}

			for _, step := range []struct {
				name      string
				advance   time.Duration
				wantPuts  int32
				wantInfos int
			}{
				{"within the TTL: the stored id", time.Minute, 1, 2},
				{"past the TTL, within a day: users.info, no write", e.cacheTTL, 1, 3},
				{"a day later: written again", 24 * time.Hour, 2, 4},
				{"the same day again: the stored id", time.Minute, 2, 4},
			} {
				e.clock.Add(step.advance)
				must(t, res.Invalidate(ctx, teamID, "UALICE"))
				resolve(step.name)
				check(step.name, step.wantPuts, step.wantInfos)
			}

			st.mu.Lock()
			st.fail = errors.New("disk full")
			st.mu.Unlock()
			e.clock.Add(25 * time.Hour)
			must(t, res.Invalidate(ctx, teamID, "UALICE"))
			resolve("a failing write")
			check("a failing write", 3, 5)
		})
	}
}
