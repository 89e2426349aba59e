package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/internal/metrics"
	"github.com/accessbot/accessbot/store"
)

// Memo is a small shared key-value store with a TTL; identity.MemoryCache
// and identity.RedisCache implement it.
type Memo interface {
	Get(ctx context.Context, key string) (string, bool, error)
	Set(ctx context.Context, key, value string, ttl time.Duration) error
	Delete(ctx context.Context, key string) error
}

// HomeVersions is the store's Home version of one viewer (store.Queries
// has it): the tenant's part, the admins' (for an admin) and the viewer's.
type HomeVersions interface {
	HomeVersion(ctx context.Context, tenantID, userID string, admin bool) (store.HomeVersion, error)
}

// HomeMaxAge bounds what passes with time alone (a due date, a session or
// grant that ends, a reviewer who becomes late): a Home rendered longer ago
// than this is rendered again on the next open even when nothing was
// written. Writes show on the next open at once (see homeStamp).
const HomeMaxAge = 5 * time.Minute

// PublishedTTL is how long a memo that a render matched what Slack shows is
// kept: as long as it can be used.
const PublishedTTL = HomeMaxAge

// homeStamp is carried in a published Home's private_metadata, which Slack
// sends back in every app_home_opened: what the view shown was rendered
// from. Version is the viewer's Home version read before any of the Home's
// data, so a write that the render may have missed has moved one of its
// parts since (noVersion: none was read); Actor is a print of the viewer as
// resolved (role, status, names); Sum is a hash of the view's blocks.
type homeStamp struct {
	Version store.HomeVersion
	At      time.Time
	Actor   string
	Sum     string
}

// noVersion stamps a Home rendered without a version: every open renders it.
var noVersion = store.HomeVersion{Tenant: -1}

func (s homeStamp) versioned() bool { return s.Version.Tenant >= 0 }

// stampPrefix names the format: home1 carried the tenant's version alone.
const stampPrefix = "home2"

func (s homeStamp) String() string {
	v := s.Version
	return stampPrefix + "." + strconv.FormatInt(v.Tenant, 10) + "." + strconv.FormatInt(v.Admins, 10) + "." + strconv.FormatInt(v.User, 10) +
		"." + strconv.FormatInt(s.At.Unix(), 10) + "." + s.Actor + "." + s.Sum
}

// parseStamp reads a stamp; ok is false for anything else (an older
// build's metadata, none at all).
func parseStamp(s string) (homeStamp, bool) {
	f := strings.Split(s, ".")
	if len(f) != 7 || f[0] != stampPrefix {
		return homeStamp{}, false
	}
	var n [4]int64
	for i := range n {
		v, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil {
			return homeStamp{}, false
		}
		n[i] = v
	}
	if f[5] == "" || f[6] == "" {
		return homeStamp{}, false
	}
	return homeStamp{Version: store.HomeVersion{Tenant: n[0], Admins: n[1], User: n[2]}, At: time.Unix(n[3], 0), Actor: f[5], Sum: f[6]}, true
}

// current reports whether a Home stamped s needs no render at version v for
// actor at now: same version (every part) and viewer, rendered less than
// HomeMaxAge ago (and not in the future: a clock that jumped back
// re-renders).
func (s homeStamp) current(v store.HomeVersion, actor string, now time.Time) bool {
	age := now.Sub(s.At)
	return s.Version == v && s.Actor == actor && age < HomeMaxAge && age > -time.Minute
}

// shownHome is the view Slack says it shows, from app_home_opened.
type shownHome struct {
	Type            string `json:"type"`
	PrivateMetadata string `json:"private_metadata"`
}

// actorPrint is a short print of what the Home shows of the viewer. The
// resolved actor can lag the store (it is cached), so it is part of the
// stamp rather than trusted to follow the version. Every field counts
// (TestActorPrintEveryField); it is hashed field by field, without
// encoding JSON, as every open prints its viewer.
func actorPrint(a *bot.Actor) string {
	var p printer = fnvOffset
	p.str(a.TeamID)
	p.str(a.SlackUserID)
	t, u := &a.Tenant, &a.User
	p.str(t.ID)
	p.str(t.Slug)
	p.str(t.Name)
	p.time(&t.CreatedAt)
	p.time(&t.UpdatedAt)
	p.str(u.ID)
	p.str(u.TenantID)
	p.str(u.Email)
	p.str(u.Name)
	p.str(u.ManagerID)
	p.str(u.Department)
	p.str(string(u.Status))
	p.time(u.TerminatedAt)
	p.str(string(u.Role))
	p.str(u.DelegateID)
	p.time(u.DelegateUntil)
	p.time(&u.CreatedAt)
	p.time(&u.UpdatedAt)
	return strconv.FormatUint(uint64(p), 36)
}

// printer is FNV-1a over length-prefixed fields, without allocating.
type printer uint64

const (
	fnvOffset printer = 14695981039346656037
	fnvPrime  printer = 1099511628211
)

func (p *printer) byte(b byte) { *p = (*p ^ printer(b)) * fnvPrime }

func (p *printer) uint(v uint64) {
	for range 8 {
		p.byte(byte(v))
		v >>= 8
	}
}

func (p *printer) str(s string) {
	p.uint(uint64(len(s)))
	for i := 0; i < len(s); i++ {
		p.byte(s[i])
	}
}

// time prints an instant (nil apart from the zero time).
func (p *printer) time(t *time.Time) {
	if t == nil {
		p.byte(0)
		return
	}
	p.byte(1)
	p.uint(uint64(t.Unix()))
	p.uint(uint64(t.Nanosecond()))
}

// homeSum hashes a view's content (without its metadata).
func homeSum(view slack.HomeTabViewRequest) (string, error) {
	view.PrivateMetadata = ""
	b, err := json.Marshal(view)
	if err != nil {
		return "", err
	}
	d := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(d[:18]), nil
}

func homeMemoKey(req *bot.Request) string { return "home:" + req.TeamID + ":" + req.UserID }

// homeUnchanged reports whether the Home Slack shows (stamp shown, if
// hasShown) is still what a render would give, without rendering: the stamp
// itself is current, or the memo records a render at the current version
// that gave the blocks shown (a write elsewhere in the tenant moved the
// version without changing this Home; the memo saves rendering it again),
// or one made just now that Slack shows since: an open sent before that
// render reached Slack carries the view from before it, or none.
func (h *Handlers) homeUnchanged(ctx context.Context, req *bot.Request, shown homeStamp, hasShown bool, v store.HomeVersion, actor string, now time.Time) bool {
	if hasShown && shown.current(v, actor, now) {
		return true
	}
	if h.deps.Published == nil {
		return false
	}
	m, ok, err := h.deps.Published.Get(ctx, homeMemoKey(req))
	if err != nil {
		req.Log.Debug().Err(err).Msg("home memo unavailable; rendering")
		return false
	}
	if !ok {
		return false
	}
	ms, ok := parseStamp(m)
	if !ok || !ms.current(v, actor, now) {
		return false
	}
	if hasShown && ms.Sum == shown.Sum {
		return true
	}
	return now.Sub(ms.At) < HomeInFlight && (!hasShown || !shown.At.After(ms.At))
}

// HomeInFlight is how long after a render an open may still carry the view
// from before it (it was sent before the render reached Slack): such an
// open is answered by that render. Past it, the view an open carries is
// what Slack shows, whatever was rendered.
const HomeInFlight = 10 * time.Second

// publishHome publishes view as req.UserID's Home tab stamped st, unless
// Slack shows the same blocks already (shown) and nothing needs
// remembering: st has no version (every open renders anyway), or the memo
// keeps that the shown view is current at st's version. Without a memo
// the view is published again, so that its stamp carries the version.
func (h *Handlers) publishHome(ctx context.Context, req *bot.Request, view slack.HomeTabViewRequest, st homeStamp, shown homeStamp, hasShown bool) error {
	sum, err := homeSum(view)
	if err != nil {
		return fmt.Errorf("app home for %s: %w", req.UserID, err)
	}
	st.Sum = sum
	if hasShown && shown.Sum == sum && h.remembered(ctx, req, st) {
		metrics.HomeOpens.WithLabelValues("same").Inc()
		return nil
	}
	view.PrivateMetadata = st.String()
	if _, err := req.API.PublishView(ctx, req.UserID, view, ""); err != nil {
		metrics.HomeOpens.WithLabelValues("failed").Inc()
		return fmt.Errorf("publish app home for %s: %w", req.UserID, err)
	}
	metrics.HomeOpens.WithLabelValues("published").Inc()
	if st.versioned() && h.deps.Published != nil {
		// Opens sent before this reached Slack carry the view before it.
		if err := h.deps.Published.Set(ctx, homeMemoKey(req), st.String(), PublishedTTL); err != nil {
			req.Log.Debug().Err(err).Msg("home memo not kept")
		}
	}
	return nil
}

// remembered reports whether nothing about a render that matched the shown
// view needs publishing: it has no version, or the memo now keeps st.
func (h *Handlers) remembered(ctx context.Context, req *bot.Request, st homeStamp) bool {
	if !st.versioned() {
		return true
	}
	if h.deps.Published == nil {
		return false
	}
	if err := h.deps.Published.Set(ctx, homeMemoKey(req), st.String(), PublishedTTL); err != nil {
		req.Log.Debug().Err(err).Msg("home memo not kept; publishing")
		return false
	}
	return true
}

// homeFlights are the users whose Home this process is opening.
type homeFlights struct {
	mu sync.Mutex
	m  map[string]*homeFlight
}

// homeFlight is one user's Home open in progress, and the latest open
// that came meanwhile (an older one waiting is answered by it).
type homeFlight struct {
	next    homeOpen
	waiting bool
}

type homeOpen struct {
	req      *bot.Request
	shown    homeStamp
	hasShown bool
}

// join reports whether o's caller opens key's Home now; false when another
// open is in progress, which will do o after its own.
func (f *homeFlights) join(key string, o homeOpen) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string]*homeFlight{}
	}
	if fl, busy := f.m[key]; busy {
		fl.next, fl.waiting = o, true
		return false
	}
	f.m[key] = &homeFlight{}
	return true
}

// next hands the caller the open that waited for its own, or ends key's
// flight when none did.
func (f *homeFlights) next(key string) (homeOpen, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fl := f.m[key]
	if !fl.waiting {
		delete(f.m, key)
		return homeOpen{}, false
	}
	o := fl.next
	fl.next, fl.waiting = homeOpen{}, false
	return o, true
}
