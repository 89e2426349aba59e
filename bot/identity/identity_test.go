package identity_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/identity"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/internal/testenv"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/storetest"
)

// teamClients answers users.info from per-team slackapi clients on the fake.
type teamClients map[string]*slackapi.Client

func (tc teamClients) UserInfo(ctx context.Context, teamID, userID string) (*slack.User, error) {
	c, ok := tc[teamID]
	if !ok {
		return nil, fmt.Errorf("no client for %s", teamID)
	}
	return c.GetUserInfo(ctx, userID)
}

func (tc teamClients) UserByEmail(ctx context.Context, teamID, email string) (*slack.User, error) {
	c, ok := tc[teamID]
	if !ok {
		return nil, fmt.Errorf("no client for %s", teamID)
	}
	return c.GetUserByEmail(ctx, email)
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	st       store.Store
	fake     *slackfake.Server
	res      *identity.Resolver
	clock    *clock
	tenant   string
	users    map[string]*accessbot.User // by short name
	cacheTTL time.Duration
	redisTTL func(key string) time.Duration // nil for the memory cache
	clients  teamClients
}

const (
	teamID        = "T0ACME"
	noScopeTeamID = "T0NOSCOPE"
	unlinkedTeam  = "T0ELSEWHERE"
)

func setup(t *testing.T, driver, cacheKind string) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{
		st:       storetest.Open(t, driver),
		fake:     slackfake.New(),
		clock:    &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)},
		users:    map[string]*accessbot.User{},
		cacheTTL: 5 * time.Minute,
	}
	t.Cleanup(e.fake.Close)

	ten := &accessbot.Tenant{Slug: "acme", Name: "Acme"}
	must(t, e.st.CreateTenant(ctx, ten))
	e.tenant = ten.ID
	other := &accessbot.Tenant{Slug: "other", Name: "Other"}
	must(t, e.st.CreateTenant(ctx, other))
	must(t, e.st.BindWorkspace(ctx, &accessbot.Workspace{TenantID: ten.ID, TeamID: teamID, TeamName: "Acme"}))
	must(t, e.st.BindWorkspace(ctx, &accessbot.Workspace{TenantID: other.ID, TeamID: noScopeTeamID}))

	past := e.clock.Now().Add(-24 * time.Hour)
	future := e.clock.Now().Add(24 * time.Hour)
	for _, u := range []*accessbot.User{
		{Email: "alice@example.com", Name: "Alice", Role: accessbot.RoleAdmin},
		{Email: "bob@example.com", Name: "Bob", Status: accessbot.UserTerminated, TerminatedAt: &past},
		{Email: "carol@example.com", Name: "Carol", TerminatedAt: &past},   // leaving date passed
		{Email: "dave@example.com", Name: "Dave", TerminatedAt: &future},   // leaving next week
		{Email: "zed@example.com", Name: "Zed", Role: accessbot.RoleAdmin}, // not in the Slack workspace
		{Email: "olaf@example.com", Name: "Olaf", Role: accessbot.RoleAdmin, Status: accessbot.UserTerminated, TerminatedAt: &past},
	} {
		u.TenantID = ten.ID
		if u.Status == "" {
			u.Status = accessbot.UserActive
		}
		if u.Role == "" {
			u.Role = accessbot.RoleMember
		}
		must(t, e.st.CreateUser(ctx, u))
		e.users[strings.ToLower(u.Name)] = u
	}
	// Same email in another tenant: must never be matched from Acme's workspace.
	must(t, e.st.CreateUser(ctx, &accessbot.User{TenantID: other.ID, Email: "erin@example.com", Name: "Erin",
		Status: accessbot.UserActive, Role: accessbot.RoleMember}))

	acme := e.fake.AddTeam(slackfake.Team{ID: teamID, Name: "Acme"})
	noScope := e.fake.AddTeam(slackfake.Team{ID: noScopeTeamID, NoEmailScope: true})
	e.fake.AddTeam(slackfake.Team{ID: unlinkedTeam})
	for _, u := range []slackfake.User{
		{ID: "UALICE", TeamID: teamID, Email: "Alice@Example.COM"},
		{ID: "UBOB", TeamID: teamID, Email: "bob@example.com"},
		{ID: "UCAROL", TeamID: teamID, Email: "carol@example.com"},
		{ID: "UDAVE", TeamID: teamID, Email: "dave@example.com"},
		{ID: "UHIDDEN", TeamID: teamID, Email: "hidden@example.com", HideEmail: true, RealName: "Hidden Person"},
		{ID: "UNOBODY", TeamID: teamID, Email: "nobody@Example.com"},
		{ID: "UERIN", TeamID: teamID, Email: "erin@example.com"},
		{ID: "USCOPE", TeamID: noScopeTeamID, Email: "alice@example.com"},
	} {
		if _, err := e.fake.AddUser(u); err != nil {
			t.Fatal(err)
		}
	}
	clients := teamClients{}
	for _, tm := range []slackfake.Team{acme, noScope} {
		c, err := slackapi.NewClient(tm.ID, tm.BotToken, slackapi.Options{APIURL: e.fake.URL(), Guard: slackapi.Strict{}})
		must(t, err)
		clients[tm.ID] = c
	}
	e.clients = clients

	var cache identity.Cache
	switch cacheKind {
	case "memory":
		cache = identity.NewMemoryCache(100, e.clock.Now)
	case "redis":
		rdb, prefix := testenv.Redis(t)
		cache = identity.NewRedisCache(rdb, prefix)
		e.redisTTL = func(key string) time.Duration { return rdb.PTTL(ctx, prefix+key).Val() }
	}
	e.res = identity.NewResolver(e.st, clients, identity.Options{
		Cache: cache, TTL: e.cacheTTL, Now: e.clock.Now, Log: zerolog.Nop(),
	})
	return e
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// each runs fn for every store driver and cache kind.
func each(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, driver := range storetest.Drivers(t) {
		for _, cacheKind := range []string{"memory", "redis"} {
			t.Run(driver+"/"+cacheKind, func(t *testing.T) {
				t.Parallel()
				fn(t, setup(t, driver, cacheKind))
			})
		}
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		team, user string
		wantUser   string // short name of the tenant user
		wantErr    error
		wantInMsg  []string // UserMessage must contain these
		notInMsg   []string // and must not contain these
	}{
		{name: "email matched case-insensitively", team: teamID, user: "UALICE", wantUser: "alice"},
		{name: "future leaving date still active", team: teamID, user: "UDAVE", wantUser: "dave"},
		{name: "terminated user refused", team: teamID, user: "UBOB", wantUser: "bob",
			wantErr: identity.ErrTerminated, wantInMsg: []string{"bob@example.com", "terminated"}},
		{name: "passed termination date refused", team: teamID, user: "UCAROL", wantUser: "carol",
			wantErr: identity.ErrTerminated},
		{name: "hidden email", team: teamID, user: "UHIDDEN",
			wantErr: identity.ErrNoEmail, wantInMsg: []string{"UHIDDEN", "users:read.email"}},
		{name: "app lacks users:read.email", team: noScopeTeamID, user: "USCOPE",
			wantErr: identity.ErrNoEmail, wantInMsg: []string{"USCOPE"}},
		{name: "no tenant user with the email", team: teamID, user: "UNOBODY",
			wantErr: identity.ErrNoMatch,
			// The tenant's active admins are named: a Slack mention when
			// their email is in the workspace, else name and email.
			wantInMsg: []string{"nobody@Example.com", "accessbot apply", "accessbot import users", "Your accessbot administrator (<@UALICE> or Zed (zed@example.com)) must add"},
			notInMsg:  []string{"Olaf"}},
		{name: "email only known in another tenant", team: teamID, user: "UERIN",
			wantErr: identity.ErrNoMatch, wantInMsg: []string{"erin@example.com"}},
		{name: "workspace not linked", team: unlinkedTeam, user: "UALICE",
			wantErr: identity.ErrWorkspaceNotLinked, wantInMsg: []string{"isn't linked", "accessbot apply"}},
	}
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		for _, tt := range tests {
			// Twice: the second answer may come from the cache and must agree.
			for round := range 2 {
				a, err := e.res.Resolve(ctx, tt.team, tt.user)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("%s (round %d): err = %v, want %v", tt.name, round, err, tt.wantErr)
				}
				if tt.wantUser != "" {
					want := e.users[tt.wantUser]
					if a.User.ID != want.ID || a.TenantID != e.tenant || a.SlackUserID != tt.user || a.TeamID != tt.team {
						t.Errorf("%s (round %d): actor = %+v, want user %s in tenant %s", tt.name, round, a, want.ID, e.tenant)
					}
				}
				if err != nil {
					msg := identity.UserMessage(err)
					var um identity.UserMessager
					if !errors.As(err, &um) {
						t.Errorf("%s: %T has no UserMessage", tt.name, err)
					}
					for _, s := range tt.wantInMsg {
						if !strings.Contains(msg, s) {
							t.Errorf("%s: user message %q lacks %q", tt.name, msg, s)
						}
					}
					for _, s := range tt.notInMsg {
						if strings.Contains(msg, s) {
							t.Errorf("%s: user message %q names %q", tt.name, msg, s)
						}
					}
				}
			}
		}
		if e.users["alice"].Role != accessbot.RoleAdmin {
			t.Error("fixture: alice should be admin")
		}
	})
}

func TestResolveInfrastructureErrorsAreNotUserErrors(t *testing.T) {
	t.Parallel()
	e := setup(t, "sqlite", "memory")
	_, err := e.res.Resolve(context.Background(), teamID, "UGHOST") // users.info: user_not_found
	var um identity.UserMessager
	if err == nil || errors.As(err, &um) {
		t.Fatalf("err = %v; want a plain wrapped error", err)
	}
	if msg := identity.UserMessage(err); strings.Contains(msg, "user_not_found") || msg == "" {
		t.Errorf("generic message leaks the raw error: %q", msg)
	}
}

func TestCaching(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		infoCalls := func() int { return len(e.fake.Calls("users.info")) }
		resolve := func(user string) (identity.Actor, error) { return e.res.Resolve(ctx, teamID, user) }

		// A hit skips users.info.
		if _, err := resolve("UALICE"); err != nil {
			t.Fatal(err)
		}
		n := infoCalls()
		if _, err := resolve("UALICE"); err != nil {
			t.Fatal(err)
		}
		if infoCalls() != n {
			t.Errorf("cached resolve called users.info again")
		}
		if e.redisTTL != nil {
			if ttl := e.redisTTL("identity:" + teamID + ":UALICE"); ttl <= 0 || ttl > e.cacheTTL {
				t.Errorf("redis entry ttl = %s, want within (0, %s]", ttl, e.cacheTTL)
			}
		}

		// Failures are not cached: adding the user makes the next resolve work.
		if _, err := resolve("UNOBODY"); !errors.Is(err, identity.ErrNoMatch) {
			t.Fatalf("err = %v, want ErrNoMatch", err)
		}
		nobody := &accessbot.User{TenantID: e.tenant, Email: "nobody@example.com", Name: "Nobody",
			Status: accessbot.UserActive, Role: accessbot.RoleMember}
		must(t, e.st.CreateUser(ctx, nobody))
		if a, err := resolve("UNOBODY"); err != nil || a.User.ID != nobody.ID {
			t.Fatalf("after adding the user: actor %+v, err %v", a, err)
		}

		// Status is re-read once the in-process copy is older than UserTTL:
		// terminating a cached user (apply, import: another process)
		// refuses from then on, whatever the mapping's TTL.
		dave := e.users["dave"]
		if _, err := resolve("UDAVE"); err != nil {
			t.Fatal(err)
		}
		dave.Status = accessbot.UserTerminated
		must(t, e.st.UpdateUser(ctx, dave))
		e.clock.Add(identity.DefaultUserTTL)
		if _, err := resolve("UDAVE"); !errors.Is(err, identity.ErrTerminated) {
			t.Errorf("terminated after caching: err = %v, want ErrTerminated", err)
		}

		// user_change: the Slack email moved to Dave's; the cache (and the
		// stored Slack id) hold Alice until the event is handled.
		_, err := e.fake.AddUser(slackfake.User{ID: "UALICE", TeamID: teamID, Email: "dave@example.com"})
		must(t, err)
		if a, _ := resolve("UALICE"); a.User.ID != e.users["alice"].ID {
			t.Errorf("before invalidation: got user %s, want the cached alice", a.User.ID)
		}
		e.res.WaitSlackIDs()
		must(t, e.res.ProfileChanged(ctx, teamID, "UALICE", "dave@example.com"))
		if a, _ := resolve("UALICE"); a.User.ID != dave.ID {
			t.Errorf("after invalidation: got user %s, want dave %s", a.User.ID, dave.ID)
		}
	})
}

func TestMemoryCacheExpires(t *testing.T) {
	t.Parallel()
	e := setup(t, "sqlite", "memory")
	ctx := context.Background()
	if _, err := e.res.Resolve(ctx, teamID, "UALICE"); err != nil {
		t.Fatal(err)
	}
	n := len(e.fake.Calls("users.info"))
	e.clock.Add(e.cacheTTL + time.Second)
	if _, err := e.res.Resolve(ctx, teamID, "UALICE"); err != nil {
		t.Fatal(err)
	}
	if len(e.fake.Calls("users.info")) != n+1 {
		t.Errorf("expired entry did not go back to users.info")
	}
}

func TestMemoryCacheIsBounded(t *testing.T) {
	t.Parallel()
	c := identity.NewMemoryCache(3, nil)
	ctx := context.Background()
	for i := range 10 {
		must(t, c.Set(ctx, fmt.Sprint(i), "v", time.Duration(i+1)*time.Minute))
	}
	if c.Len() != 3 {
		t.Errorf("cache holds %d entries, want 3", c.Len())
	}
	if _, ok, _ := c.Get(ctx, "9"); !ok {
		t.Error("newest entry evicted")
	}
}

// TestCachedUserFreshness: a hit within UserTTL reads no store and calls no
// Slack; a changed user is read again once UserTTL has passed, and at once
// after Invalidate (user_change); a caller changing its actor does not
// change the cached copy.
func TestCachedUserFreshness(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		st := &countingStore{Store: e.st}
		count := func() int32 { return st.workspaces.Load() + st.users.Load() }
		res := identity.NewResolver(st, e.clients, identity.Options{
			Cache: identity.NewMemoryCache(100, e.clock.Now), TTL: e.cacheTTL, UserTTL: 10 * time.Second, Now: e.clock.Now, Log: zerolog.Nop(),
		})
		resolve := func(user string) (identity.Actor, error) { return res.Resolve(ctx, teamID, user) }
		a, err := resolve("UDAVE")
		must(t, err)
		reads, infos := count(), len(e.fake.Calls("users.info"))
		a.User.Role = accessbot.RoleAdmin // the caller's copy
		*a.User.TerminatedAt = e.clock.Now().Add(-time.Hour)
		e.clock.Add(9 * time.Second)
		a, err = resolve("UDAVE")
		if err != nil || a.User.Role != accessbot.RoleMember {
			t.Fatalf("hit: %+v, %v; want the stored member, still active", a.User, err)
		}
		if count() != reads || len(e.fake.Calls("users.info")) != infos {
			t.Fatalf("hit read the store %d times, users.info %d times", count()-reads, len(e.fake.Calls("users.info"))-infos)
		}

		dave := e.users["dave"]
		dave.Role = accessbot.RoleAdmin
		must(t, e.st.UpdateUser(ctx, dave))
		e.clock.Add(time.Second) // 10 s since the store was read
		if a, err := resolve("UDAVE"); err != nil || a.User.Role != accessbot.RoleAdmin {
			t.Fatalf("after UserTTL: role %s, %v; want admin", a.User.Role, err)
		}
		if count() != reads+1 {
			t.Errorf("after UserTTL: %d store reads, want 1 (the user)", count()-reads)
		}

		dave.Status = accessbot.UserTerminated
		must(t, e.st.UpdateUser(ctx, dave))
		must(t, res.Invalidate(ctx, teamID, "UDAVE"))
		if _, err := resolve("UDAVE"); !errors.Is(err, identity.ErrTerminated) {
			t.Fatalf("after Invalidate: %v, want ErrTerminated", err)
		}
	})
}

// TestResolveStoresSlackID: a resolve that matched emails through Slack
// stores the Slack id for DMs (renewed at most daily) (tenant-scoped: Erin of the other tenant gets
// none); an unmatched user stores nothing. ProfileChanged keeps the id when
// the profile email is still the user's (a status change), and drops it
// when the email changed or the Slack user was deleted ("").
func TestResolveStoresSlackID(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		stored := func(user string) string {
			t.Helper()
			s, err := e.st.GetSlackID(ctx, e.tenant, e.users[user].ID, teamID)
			if errors.Is(err, accessbot.ErrNotFound) {
				return ""
			}
			must(t, err)
			return s.SlackUserID
		}
		for _, u := range []string{"UALICE", "UDAVE", "UERIN"} {
			if _, err := e.res.Resolve(ctx, teamID, u); err != nil && u != "UERIN" {
				t.Fatalf("resolve %s: %v", u, err)
			}
		}
		e.res.WaitSlackIDs()
		if a, d := stored("alice"), stored("dave"); a != "UALICE" || d != "UDAVE" {
			t.Fatalf("stored after resolving: alice %q, dave %q", a, d)
		}
		steps := []struct {
			name, user, email string
			wantAlice         string
		}{
			{"status change: same email, any case", "UALICE", "ALICE@example.com", "UALICE"},
			{"another Slack user changed", "UDAVE", "dave.new@example.com", "UALICE"},
			{"the email changed", "UALICE", "alice.new@example.com", ""},
		}
		for _, st := range steps {
			must(t, e.res.ProfileChanged(ctx, teamID, st.user, st.email))
			if got := stored("alice"); got != st.wantAlice {
				t.Fatalf("%s: alice's stored id %q, want %q", st.name, got, st.wantAlice)
			}
		}
		if got := stored("dave"); got != "" {
			t.Fatalf("dave's id survived his email change: %q", got)
		}
		// Resolving again stores it again; a deleted Slack user drops it.
		if _, err := e.res.Resolve(ctx, teamID, "UALICE"); err != nil {
			t.Fatal(err)
		}
		e.res.WaitSlackIDs()
		if got := stored("alice"); got != "UALICE" {
			t.Fatalf("after resolving again: %q", got)
		}
		// A resolve within a day of the last match writes nothing; later it
		// renews the match's time.
		verified := func() time.Time {
			t.Helper()
			s, err := e.st.GetSlackID(ctx, e.tenant, e.users["alice"].ID, teamID)
			must(t, err)
			return s.VerifiedAt
		}
		first := verified()
		for _, step := range []struct {
			advance time.Duration
			renewed bool
		}{{time.Hour, false}, {24 * time.Hour, true}} {
			e.clock.Add(step.advance)
			must(t, e.res.Invalidate(ctx, teamID, "UALICE"))
			if _, err := e.res.Resolve(ctx, teamID, "UALICE"); err != nil {
				t.Fatal(err)
			}
			e.res.WaitSlackIDs()
			if got := verified(); got.Equal(first) == step.renewed {
				t.Fatalf("after %v: verified at %v (first %v), want renewed %v", step.advance, got, first, step.renewed)
			}
		}
		must(t, e.res.ProfileChanged(ctx, teamID, "UALICE", ""))
		if got := stored("alice"); got != "" {
			t.Fatalf("after the Slack user was deleted: %q", got)
		}
		must(t, e.res.ProfileChanged(ctx, unlinkedTeam, "UX", "x@example.com")) // no tenant: nothing to do
	})
}
