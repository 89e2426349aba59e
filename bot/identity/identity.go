// Package identity answers "who is this Slack user in accessbot?": payload
// team id → workspace binding → tenant; Slack user → profile email (users.info,
// which needs users:read.email) → tenant user by email, letter case aside.
// Only successful matches are cached, so a newly added user works at once.
package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// DefaultTTL is how long a Slack user → tenant user mapping is trusted when
// slack.identity_cache_ttl is not set.
const DefaultTTL = 10 * time.Minute

// DefaultUserTTL is how long a resolved user is reused in process without
// reading the store: a user terminated or changed by another process (apply,
// import) is seen within it. user_change (Invalidate) drops it at once.
const DefaultUserTTL = time.Second

// DefaultStaleFor bounds how long past UserTTL ResolveRecent may still
// answer from a user resolved in process, while it is read again in the
// background (see ResolveRecent).
const DefaultStaleFor = 30 * time.Second

// refreshTimeout bounds a background read of a user.
const refreshTimeout = 10 * time.Second

// Workspace bindings change rarely (install, uninstall), so each replica
// keeps them briefly in process: a resolve then reads only the user.
const (
	DefaultWorkspaceTTL = 30 * time.Second
	maxWorkspaces       = 1000
)

// Store is the slice of store.Queries the resolver reads.
type Store interface {
	WorkspaceByTeam(ctx context.Context, teamID string) (*accessbot.Workspace, error)
	GetUser(ctx context.Context, tenantID, id string) (*accessbot.User, error)
	GetUserByEmail(ctx context.Context, tenantID, email string) (*accessbot.User, error)
	// The stored Slack ids the notifiers DM by (see store.SlackIDs).
	GetSlackID(ctx context.Context, tenantID, userID, teamID string) (*store.SlackID, error)
	PutSlackID(ctx context.Context, s *store.SlackID) error
	UserBySlackID(ctx context.Context, tenantID, teamID, slackUserID string, since time.Time) (*accessbot.User, time.Time, error)
	ForgetSlackUser(ctx context.Context, tenantID, teamID, slackUserID, keepEmail string) (int, error)
}

// SlackUsers looks a user up in a workspace (users.info); *slackapi.Clients implements it.
type SlackUsers interface {
	UserInfo(ctx context.Context, teamID, userID string) (*slack.User, error)
}

// Actor is a resolved Slack user: the tenant user acting, and where from.
type Actor struct {
	TenantID    string
	TeamID      string
	SlackUserID string
	User        accessbot.User
}

// IsAdmin reports whether the actor is a tenant admin.
func (a Actor) IsAdmin() bool { return a.User.Role == accessbot.RoleAdmin }

// Options configures a Resolver.
type Options struct {
	// Cache: a RedisCache when Redis is configured, else a MemoryCache. nil: a fresh MemoryCache.
	Cache Cache
	TTL   time.Duration // <=0: DefaultTTL
	// WorkspaceTTL is how long a team's binding is kept in process
	// (<=0: DefaultWorkspaceTTL); ForgetWorkspace drops it sooner.
	WorkspaceTTL time.Duration
	// UserTTL is how long a resolved user is reused in process before the
	// store is read again (0: DefaultUserTTL, <0: read it on every resolve).
	UserTTL time.Duration
	// StaleFor is how long past UserTTL ResolveRecent may answer from the
	// copy kept in process while it is read again (0: DefaultStaleFor, <0:
	// never: ResolveRecent is Resolve).
	StaleFor time.Duration
	Now      func() time.Time
	Log      zerolog.Logger
}

// Resolver maps Slack users to tenant users.
type Resolver struct {
	store Store
	slack SlackUsers
	cache Cache
	ttl   time.Duration
	now   func() time.Time
	log   zerolog.Logger

	wsTTL time.Duration
	wsMu  sync.Mutex
	ws    map[string]wsEntry // team id → binding

	userTTL  time.Duration
	staleFor time.Duration
	usersMu  sync.Mutex
	users    map[string]userEntry // cacheKey → resolved user
	// usersGen counts invalidations: a resolve that started before one
	// does not keep what it read.
	usersGen uint64

	flightsMu sync.Mutex
	flights   map[string]*flight // cacheKey → resolve in progress

	adminsMu  sync.Mutex
	adminSeen map[string]adminsEntry // team id → admins named to unmatched users

	// Slack ids are stored in the background, one write per user at a time.
	idsMu     sync.Mutex
	idWriting map[string]bool // tenant/user id → a write in progress
	idWrites  sync.WaitGroup
}

type userEntry struct {
	tenant  string
	user    accessbot.User
	expires time.Time
}

type wsEntry struct {
	ws      accessbot.Workspace
	expires time.Time
}

// NewResolver builds a resolver.
func NewResolver(st Store, su SlackUsers, o Options) *Resolver {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Cache == nil {
		o.Cache = NewMemoryCache(0, o.Now)
	}
	if o.WorkspaceTTL <= 0 {
		o.WorkspaceTTL = DefaultWorkspaceTTL
	}
	if o.UserTTL == 0 {
		o.UserTTL = DefaultUserTTL
	}
	if o.StaleFor == 0 {
		o.StaleFor = DefaultStaleFor
	}
	return &Resolver{store: st, slack: su, cache: o.Cache, ttl: o.TTL, now: o.Now, log: o.Log,
		wsTTL: o.WorkspaceTTL, ws: map[string]wsEntry{}, userTTL: o.UserTTL, staleFor: max(o.StaleFor, 0), users: map[string]userEntry{},
		adminSeen: map[string]adminsEntry{}, flights: map[string]*flight{}, idWriting: map[string]bool{}}
}

func cacheKey(teamID, slackUserID string) string {
	return "identity:" + teamID + ":" + slackUserID
}

// Workspace returns the team's binding; an unknown team is a *NotLinkedError.
func (r *Resolver) Workspace(ctx context.Context, teamID string) (*accessbot.Workspace, error) {
	if teamID == "" {
		return nil, &NotLinkedError{TeamID: "(none)"}
	}
	now := r.now()
	r.wsMu.Lock()
	e, ok := r.ws[teamID]
	r.wsMu.Unlock()
	if ok && now.Before(e.expires) {
		ws := e.ws // a copy: callers may change theirs
		return &ws, nil
	}
	ws, err := r.store.WorkspaceByTeam(ctx, teamID)
	if errors.Is(err, accessbot.ErrNotFound) { // not cached, so a new install works at once
		return nil, &NotLinkedError{TeamID: teamID}
	}
	if err != nil {
		return nil, fmt.Errorf("resolve team %s: %w", teamID, err)
	}
	r.wsMu.Lock()
	if len(r.ws) >= maxWorkspaces {
		for k, e := range r.ws {
			if !now.Before(e.expires) {
				delete(r.ws, k)
			}
		}
		if len(r.ws) >= maxWorkspaces {
			clear(r.ws) // all fresh: start over rather than grow
		}
	}
	r.ws[teamID] = wsEntry{ws: *ws, expires: now.Add(r.wsTTL)}
	r.wsMu.Unlock()
	return ws, nil
}

// ForgetWorkspace drops the team's binding kept in process; call it when the
// app is installed or uninstalled there.
func (r *Resolver) ForgetWorkspace(teamID string) {
	r.wsMu.Lock()
	delete(r.ws, teamID)
	r.wsMu.Unlock()
}

// Resolve returns the tenant user behind a Slack user. Errors: *NotLinkedError
// (ErrWorkspaceNotLinked), *NoEmailError (ErrNoEmail), *NoMatchError
// (ErrNoMatch), *TerminatedError (ErrTerminated); each has UserMessage().
// Anything else is an infrastructure failure (store or Slack unreachable).
// With a *TerminatedError the Actor still names the user, for logs and the
// App Home; the caller must refuse the action.
func (r *Resolver) Resolve(ctx context.Context, teamID, slackUserID string) (Actor, error) {
	ws, err := r.Workspace(ctx, teamID)
	if err != nil {
		return Actor{}, err
	}
	tenant := ws.TenantID
	key := cacheKey(teamID, slackUserID)
	if u, ok := r.recent(key, tenant); ok {
		return Actor{TenantID: tenant, TeamID: teamID, SlackUserID: slackUserID, User: u}, r.checkActive(&u)
	}
	return r.shared(ctx, key, func() (Actor, error) { return r.resolveMiss(ctx, tenant, teamID, slackUserID, key) })
}

// flight is one resolve of a user that others asked for meanwhile wait for.
type flight struct {
	gen   uint64 // the invalidation count when it started
	done  chan struct{}
	actor Actor
	err   error
}

// shared runs fn once for key while others want the same user: when the
// in-process copy expires under load, one store read serves every envelope
// of that user in flight, instead of each reading (and opening connections).
// A resolve that starts after an invalidation does not join an older one.
func (r *Resolver) shared(ctx context.Context, key string, fn func() (Actor, error)) (Actor, error) {
	f, lead := r.flight(key)
	if !lead {
		select {
		case <-f.done:
		case <-ctx.Done():
			return Actor{}, fmt.Errorf("resolve %s: %w", key, ctx.Err())
		}
		if f.err == nil || ctx.Err() != nil || !(errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded)) {
			a := f.actor // its times are pointers: copy them, callers may change theirs
			a.User.TerminatedAt, a.User.DelegateUntil = clone(a.User.TerminatedAt), clone(a.User.DelegateUntil)
			return a, f.err
		}
		return fn() // the first one's context ended, not ours
	}
	a, err := fn()
	r.land(key, f, a, err)
	return a, err
}

// flight returns the resolve of key in progress (lead false: wait for it),
// or starts one the caller runs and lands (lead true).
func (r *Resolver) flight(key string) (f *flight, lead bool) {
	gen := r.generation()
	r.flightsMu.Lock()
	defer r.flightsMu.Unlock()
	if f := r.flights[key]; f != nil && f.gen == gen {
		return f, false
	}
	f = &flight{gen: gen, done: make(chan struct{})}
	r.flights[key] = f
	return f, true
}

// land ends flight f with its outcome and wakes those waiting for it. A
// read that failed, other than for a terminated user (whom it keeps),
// drops the expired copy: ResolveRecent does not answer from it again.
func (r *Resolver) land(key string, f *flight, a Actor, err error) {
	if err != nil && !errors.Is(err, ErrTerminated) {
		r.forgetExpired(key)
	}
	f.actor, f.err = a, err
	f.actor.User.TerminatedAt, f.actor.User.DelegateUntil = clone(a.User.TerminatedAt), clone(a.User.DelegateUntil)
	r.flightsMu.Lock()
	if r.flights[key] == f {
		delete(r.flights, key)
	}
	r.flightsMu.Unlock()
	close(f.done)
}

// ResolveRecent is Resolve for answers that are the same for every linked,
// active user and change nothing (help): they need not wait for the store.
// A user resolved in process less than UserTTL+StaleFor ago is returned at
// once, refused at once if terminated then; once older than UserTTL it is
// read again in the background (one read per user at a time, which a
// Resolve meanwhile joins). So a user terminated, changed or removed by
// another process may get such an answer for about one UserTTL and a store
// read longer than through Resolve; Invalidate ends it at once, and a read
// that fails (other than for a terminated user) drops the copy, so the
// next call resolves as Resolve does. Never use it for a
// command or click that acts or shows the user's data: use Resolve.
func (r *Resolver) ResolveRecent(ctx context.Context, teamID, slackUserID string) (Actor, error) {
	ws, err := r.Workspace(ctx, teamID)
	if err != nil {
		return Actor{}, err
	}
	tenant := ws.TenantID
	key := cacheKey(teamID, slackUserID)
	u, fresh, ok := r.kept(key, tenant, r.staleFor)
	if !ok {
		return r.shared(ctx, key, func() (Actor, error) { return r.resolveMiss(ctx, tenant, teamID, slackUserID, key) })
	}
	if !fresh {
		r.refresh(ctx, key, tenant, teamID, slackUserID)
	}
	return Actor{TenantID: tenant, TeamID: teamID, SlackUserID: slackUserID, User: u}, r.checkActive(&u)
}

// refresh reads key's user again in the background unless a read of it is
// in progress.
func (r *Resolver) refresh(ctx context.Context, key, tenant, teamID, slackUserID string) {
	f, lead := r.flight(key)
	if !lead {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
	go func() {
		defer cancel()
		a, err := r.resolveMiss(ctx, tenant, teamID, slackUserID, key)
		if err != nil && !errors.Is(err, ErrTerminated) {
			r.log.Info().Err(err).Str("tenant", tenant).Str("team", teamID).Str("slack_user", slackUserID).
				Msg("reading a resolved user again failed; it is resolved anew on its next envelope")
		}
		r.land(key, f, a, err)
	}()
}

// forgetExpired drops key's copy if it is older than UserTTL.
func (r *Resolver) forgetExpired(key string) {
	now := r.now()
	r.usersMu.Lock()
	defer r.usersMu.Unlock()
	if e, ok := r.users[key]; ok && !now.Before(e.expires) {
		delete(r.users, key)
	}
}

// resolveMiss resolves a user not resolved in process lately: from the
// shared cache, else the Slack id stored for DMs, else through Slack.
func (r *Resolver) resolveMiss(ctx context.Context, tenant, teamID, slackUserID, key string) (Actor, error) {
	actor := Actor{TenantID: tenant, TeamID: teamID, SlackUserID: slackUserID}
	log := r.log.With().Str("tenant", tenant).Str("team", teamID).Str("slack_user", slackUserID).Logger()
	gen := r.generation()
	u, ok := r.fromCache(ctx, log, tenant, teamID, slackUserID)
	if !ok {
		u, ok = r.fromSlackID(ctx, log, tenant, teamID, slackUserID)
	}
	if ok {
		r.remember(key, tenant, u, gen)
		actor.User = *u
		return actor, r.checkActive(u)
	}

	su, err := r.slack.UserInfo(ctx, teamID, slackUserID)
	if err != nil {
		return Actor{}, fmt.Errorf("resolve slack user %s in team %s: users.info: %w", slackUserID, teamID, err)
	}
	email := strings.TrimSpace(su.Profile.Email)
	if email == "" {
		name := su.Profile.DisplayName
		if name == "" {
			name = su.RealName
		}
		return Actor{}, &NoEmailError{TeamID: teamID, SlackUserID: slackUserID, SlackName: name}
	}
	u, err = r.store.GetUserByEmail(ctx, tenant, accessbot.NormalizeEmail(email))
	if errors.Is(err, accessbot.ErrNotFound) {
		return Actor{}, &NoMatchError{Email: email, TenantID: tenant, SlackUserID: slackUserID, Admins: r.admins(ctx, tenant, teamID)}
	}
	if err != nil {
		return Actor{}, fmt.Errorf("resolve slack user %s: find tenant user by email: %w", slackUserID, err)
	}
	// The mapping is cached even for a terminated user: status is re-read
	// once the in-process copy is older than userTTL, so reactivation works.
	if err := r.cache.Set(ctx, key, tenant+"/"+u.ID, r.ttl); err != nil {
		log.Warn().Err(err).Msg("identity cache write failed")
	}
	r.remember(key, tenant, u, gen)
	r.storeSlackIDLater(ctx, log, teamID, slackUserID, u, gen)
	actor.User = *u
	return actor, r.checkActive(u)
}

// fromSlackID returns the tenant user whose Slack id was stored (by a
// resolve or a DM's lookup) less than the cache TTL ago, still for the
// user's current email: the same trust as the cache, and after a restart
// without Redis it spares each known user's first envelope a users.info.
func (r *Resolver) fromSlackID(ctx context.Context, log zerolog.Logger, tenant, teamID, slackUserID string) (*accessbot.User, bool) {
	u, _, err := r.store.UserBySlackID(ctx, tenant, teamID, slackUserID, r.now().Add(-r.ttl))
	if err != nil {
		if !errors.Is(err, accessbot.ErrNotFound) {
			log.Warn().Err(err).Msg("reading the stored Slack id failed; resolving through Slack")
		}
		return nil, false
	}
	return u, true
}

// slackIDWriteTimeout bounds a background write of a Slack id.
const slackIDWriteTimeout = 10 * time.Second

// storeSlackIDLater runs storeSlackID in the background, so the envelope
// that resolved u does not wait for a write; at most one per user at a time
// (another resolve meanwhile writes nothing: the one running stores the same).
func (r *Resolver) storeSlackIDLater(ctx context.Context, log zerolog.Logger, teamID, slackUserID string, u *accessbot.User, gen uint64) {
	id := u.TenantID + "/" + u.ID
	r.idsMu.Lock()
	if r.idWriting[id] {
		r.idsMu.Unlock()
		return
	}
	r.idWriting[id] = true
	r.idWrites.Add(1)
	r.idsMu.Unlock()
	c := *u
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), slackIDWriteTimeout)
	go func() {
		defer r.idWrites.Done()
		defer cancel()
		r.storeSlackID(ctx, log, teamID, slackUserID, &c, gen)
		r.idsMu.Lock()
		delete(r.idWriting, id)
		r.idsMu.Unlock()
	}()
}

// slackIDRefresh is how old a stored Slack id may be before a resolve
// writes it again: a read, not a write, on most cache misses.
const slackIDRefresh = 24 * time.Hour

// storeSlackID records that Slack just said slackUserID has u's email, so
// DMs to u need no users.lookupByEmail (docs/delivery.md) and a resolve
// within the cache TTL no users.info. Nothing is written once an
// invalidation (user_change) happened since gen: Slack's answer may be old.
func (r *Resolver) storeSlackID(ctx context.Context, log zerolog.Logger, teamID, slackUserID string, u *accessbot.User, gen uint64) {
	now := r.now()
	if s, err := r.store.GetSlackID(ctx, u.TenantID, u.ID, teamID); err == nil && s.SlackUserID == slackUserID &&
		now.Sub(s.VerifiedAt) < slackIDRefresh {
		return
	}
	if r.generation() != gen {
		return
	}
	if err := r.store.PutSlackID(ctx, &store.SlackID{TenantID: u.TenantID, UserID: u.ID, TeamID: teamID, SlackUserID: slackUserID,
		Email: u.Email, VerifiedAt: now}); err != nil {
		log.Warn().Err(err).Msg("storing the Slack id failed")
	}
}

// fromCache returns the cached tenant user, re-read from the store so status
// and role are current. A stale entry (other tenant, deleted user) is dropped.
func (r *Resolver) fromCache(ctx context.Context, log zerolog.Logger, tenant, teamID, slackUserID string) (*accessbot.User, bool) {
	key := cacheKey(teamID, slackUserID)
	v, ok, err := r.cache.Get(ctx, key)
	if err != nil {
		log.Warn().Err(err).Msg("identity cache read failed; resolving through Slack")
		return nil, false
	}
	if !ok {
		return nil, false
	}
	cachedTenant, userID, found := strings.Cut(v, "/")
	if found && cachedTenant == tenant {
		u, err := r.store.GetUser(ctx, tenant, userID)
		if err == nil {
			return u, true
		}
		if !errors.Is(err, accessbot.ErrNotFound) {
			log.Warn().Err(err).Msg("identity cache: reading cached user failed")
			return nil, false
		}
	}
	if err := r.cache.Delete(ctx, key); err != nil {
		log.Warn().Err(err).Msg("identity cache delete failed")
	}
	return nil, false
}

func (r *Resolver) checkActive(u *accessbot.User) error {
	terminated := u.Status == accessbot.UserTerminated ||
		(u.TerminatedAt != nil && !r.now().Before(*u.TerminatedAt))
	if terminated {
		return &TerminatedError{Email: u.Email, TenantID: u.TenantID, UserID: u.ID}
	}
	return nil
}

// recent returns the user resolved for key less than userTTL ago.
func (r *Resolver) recent(key, tenant string) (accessbot.User, bool) {
	u, fresh, ok := r.kept(key, tenant, 0)
	return u, ok && fresh
}

// kept returns the user resolved for key less than userTTL+stale ago
// (ok), and whether less than userTTL ago (fresh).
func (r *Resolver) kept(key, tenant string, stale time.Duration) (u accessbot.User, fresh, ok bool) {
	if r.userTTL < 0 {
		return accessbot.User{}, false, false
	}
	now := r.now()
	r.usersMu.Lock()
	e, found := r.users[key]
	r.usersMu.Unlock()
	if !found || e.tenant != tenant || !now.Before(e.expires.Add(stale)) {
		return accessbot.User{}, false, false
	}
	u = e.user // its times are pointers: copy them, callers may change theirs
	u.TerminatedAt, u.DelegateUntil = clone(u.TerminatedAt), clone(u.DelegateUntil)
	return u, now.Before(e.expires), true
}

func clone(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

func (r *Resolver) generation() uint64 {
	r.usersMu.Lock()
	defer r.usersMu.Unlock()
	return r.usersGen
}

// remember keeps u for key unless an invalidation happened since gen was read.
func (r *Resolver) remember(key, tenant string, u *accessbot.User, gen uint64) {
	if r.userTTL < 0 {
		return
	}
	now := r.now()
	r.usersMu.Lock()
	defer r.usersMu.Unlock()
	if gen != r.usersGen {
		return
	}
	if len(r.users) >= maxUsers {
		for k, e := range r.users {
			if !now.Before(e.expires) {
				delete(r.users, k)
			}
		}
		if len(r.users) >= maxUsers {
			clear(r.users) // all fresh: start over rather than grow
		}
	}
	c := *u
	c.TerminatedAt, c.DelegateUntil = clone(c.TerminatedAt), clone(c.DelegateUntil)
	r.users[key] = userEntry{tenant: tenant, user: c, expires: now.Add(r.userTTL)}
}

// maxUsers bounds the users kept in process.
const maxUsers = 10000

// Invalidate forgets the cached mapping; call it after admin edits. The
// Slack id stored for the user still answers (while it holds the user's
// email): on user_change events call ProfileChanged, which drops it when
// the email changed.
func (r *Resolver) Invalidate(ctx context.Context, teamID, slackUserID string) error {
	r.usersMu.Lock()
	delete(r.users, cacheKey(teamID, slackUserID))
	r.usersGen++
	r.usersMu.Unlock()
	if err := r.cache.Delete(ctx, cacheKey(teamID, slackUserID)); err != nil {
		return fmt.Errorf("invalidate identity %s/%s: %w", teamID, slackUserID, err)
	}
	return nil
}

// ProfileChanged handles a user_change event: it forgets the cached mapping
// (Invalidate) and the stored Slack ids naming the Slack user unless they
// were verified for email, its profile email now ("" for a deleted user or
// one without an email: all are dropped).
// The stored ids go first: a resolve after the invalidation does not find
// the old mapping there.
func (r *Resolver) ProfileChanged(ctx context.Context, teamID, slackUserID, email string) error {
	ws, err := r.Workspace(ctx, teamID)
	if errors.Is(err, ErrWorkspaceNotLinked) {
		return r.Invalidate(ctx, teamID, slackUserID) // no tenant there: nothing stored
	}
	n := 0
	if err == nil {
		n, err = r.store.ForgetSlackUser(ctx, ws.TenantID, teamID, slackUserID, email)
	}
	if err := errors.Join(err, r.Invalidate(ctx, teamID, slackUserID)); err != nil {
		return fmt.Errorf("user_change of %s/%s: %w", teamID, slackUserID, err)
	}
	if n > 0 {
		r.log.Info().Str("tenant", ws.TenantID).Str("team", teamID).Str("slack_user", slackUserID).Int("dropped", n).
			Msg("stored Slack id dropped: the profile email changed")
	}
	return nil
}
