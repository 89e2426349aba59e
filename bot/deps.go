package bot

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/identity"
	"github.com/accessbot/accessbot/bot/slackapi"
)

// Actor is the tenant user a Slack user resolved to, with their tenant.
type Actor struct {
	TeamID      string
	SlackUserID string
	Tenant      accessbot.Tenant
	User        accessbot.User
}

// IsAdmin reports whether the actor is a tenant admin.
func (a Actor) IsAdmin() bool { return a.User.Role == accessbot.RoleAdmin }

// Resolver maps a Slack user to a tenant user. Its errors carry plain words
// for the user (see PlainWords).
type Resolver interface {
	Resolve(ctx context.Context, teamID, slackUserID string) (Actor, error)
	Invalidate(ctx context.Context, teamID, slackUserID string) error
	// ProfileChanged is Invalidate for a user_change event that carries
	// the profile's email now: stored Slack ids verified for another are dropped.
	ProfileChanged(ctx context.Context, teamID, slackUserID, email string) error
}

// RecentResolver is a Resolver that can also resolve for answers the same
// for every linked, active user (help) from a copy of the user kept in
// process that may be a little out of date, so they do not wait for the
// store (see identity.Resolver.ResolveRecent). The dispatcher uses it for
// routes registered with Router.InfoCommand, when the Resolver has it.
type RecentResolver interface {
	ResolveRecent(ctx context.Context, teamID, slackUserID string) (Actor, error)
}

// IdentitySource is what the identity adapter needs; *identity.Resolver has it.
type IdentitySource interface {
	Resolve(ctx context.Context, teamID, slackUserID string) (identity.Actor, error)
	Invalidate(ctx context.Context, teamID, slackUserID string) error
	// ProfileChanged is Invalidate for a user_change event that carries
	// the profile's email now: stored Slack ids verified for another are dropped.
	ProfileChanged(ctx context.Context, teamID, slackUserID, email string) error
}

// TenantGetter reads a tenant; store.Store has it.
type TenantGetter interface {
	GetTenant(ctx context.Context, id string) (*accessbot.Tenant, error)
}

// NewIdentity adapts bot/identity to Resolver, adding the tenant record.
// Tenants are kept in process for TenantTTL: a resolve whose user the
// resolver holds then reads no store. now may be nil (time.Now).
func NewIdentity(src IdentitySource, tenants TenantGetter, now func() time.Time) Resolver {
	if now == nil {
		now = time.Now
	}
	return &identityAdapter{src: src, tenants: tenants, now: now, kept: map[string]keptTenant{}}
}

// TenantTTL is how long a tenant record is reused in process. It holds only
// names (slug, display name), and the workspace binding that leads to it is
// kept as long (identity.DefaultWorkspaceTTL).
const TenantTTL = identity.DefaultWorkspaceTTL

// maxKeptTenants bounds the tenants kept in process.
const maxKeptTenants = 1000

type identityAdapter struct {
	src     IdentitySource
	tenants TenantGetter
	now     func() time.Time

	mu   sync.Mutex
	kept map[string]keptTenant
}

type keptTenant struct {
	t       accessbot.Tenant
	expires time.Time
}

func (a *identityAdapter) Resolve(ctx context.Context, teamID, slackUserID string) (Actor, error) {
	ia, err := a.src.Resolve(ctx, teamID, slackUserID)
	return a.actor(ctx, teamID, slackUserID, ia, err)
}

// ResolveRecent is RecentResolver's, when the source has it (else Resolve).
func (a *identityAdapter) ResolveRecent(ctx context.Context, teamID, slackUserID string) (Actor, error) {
	src, ok := a.src.(interface {
		ResolveRecent(ctx context.Context, teamID, slackUserID string) (identity.Actor, error)
	})
	if !ok {
		return a.Resolve(ctx, teamID, slackUserID)
	}
	ia, err := src.ResolveRecent(ctx, teamID, slackUserID)
	return a.actor(ctx, teamID, slackUserID, ia, err)
}

// actor adds the tenant record to a resolved user.
func (a *identityAdapter) actor(ctx context.Context, teamID, slackUserID string, ia identity.Actor, err error) (Actor, error) {
	if err != nil {
		return Actor{}, err
	}
	t, err := a.tenant(ctx, ia.TenantID)
	if err != nil {
		return Actor{}, fmt.Errorf("resolve %s/%s: read tenant %s: %w", teamID, slackUserID, ia.TenantID, err)
	}
	return Actor{TeamID: ia.TeamID, SlackUserID: ia.SlackUserID, Tenant: t, User: ia.User}, nil
}

// tenant returns the tenant record, from the store at most once per TenantTTL.
func (a *identityAdapter) tenant(ctx context.Context, id string) (accessbot.Tenant, error) {
	now := a.now()
	a.mu.Lock()
	k, ok := a.kept[id]
	a.mu.Unlock()
	if ok && now.Before(k.expires) {
		return k.t, nil
	}
	t, err := a.tenants.GetTenant(ctx, id)
	if err != nil {
		return accessbot.Tenant{}, err
	}
	a.mu.Lock()
	if len(a.kept) >= maxKeptTenants {
		clear(a.kept) // rare: start over rather than grow
	}
	a.kept[id] = keptTenant{t: *t, expires: now.Add(TenantTTL)}
	a.mu.Unlock()
	return *t, nil
}

func (a *identityAdapter) Invalidate(ctx context.Context, teamID, slackUserID string) error {
	return a.src.Invalidate(ctx, teamID, slackUserID)
}

func (a *identityAdapter) ProfileChanged(ctx context.Context, teamID, slackUserID, email string) error {
	return a.src.ProfileChanged(ctx, teamID, slackUserID, email)
}

// WebAPI is the part of a workspace's Slack client the router and handlers
// use; *slackapi.Client (paced, retried, Block Kit guarded) has it.
type WebAPI interface {
	PostMessage(ctx context.Context, channelID string, m slackapi.Message) (channel, ts string, err error)
	PostEphemeral(ctx context.Context, channelID, userID string, m slackapi.Message) (string, error)
	PublishView(ctx context.Context, userID string, v slack.HomeTabViewRequest, hash string) (*slack.ViewResponse, error)
	OpenView(ctx context.Context, triggerID string, v slack.ModalViewRequest) (*slack.ViewResponse, error)
}

var _ WebAPI = (*slackapi.Client)(nil)

// Clients hands out the Web API client of one workspace.
type Clients interface {
	For(ctx context.Context, teamID string) (WebAPI, error)
}

// ClientsFunc adapts a function to Clients.
type ClientsFunc func(ctx context.Context, teamID string) (WebAPI, error)

func (f ClientsFunc) For(ctx context.Context, teamID string) (WebAPI, error) { return f(ctx, teamID) }

// SlackAPIClients adapts *slackapi.Clients to Clients.
func SlackAPIClients(c *slackapi.Clients) Clients {
	return ClientsFunc(func(ctx context.Context, teamID string) (WebAPI, error) {
		cl, err := c.For(ctx, teamID)
		if err != nil {
			return nil, err // never a typed nil inside the interface
		}
		return cl, nil
	})
}

// PlainWords returns the sentence for the user carried by err (an identity
// error's UserMessage), or a generic apology: never a raw Go error.
func PlainWords(err error) string { return identity.UserMessage(err) }
