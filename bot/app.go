package bot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/identity"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
)

// RedisPrefix is put before every key the Slack runtime keeps in Redis.
const RedisPrefix = "accessbot:"

// AppConfig assembles the Slack runtime: Web API clients, identity,
// dispatcher, router and sockets.
type AppConfig struct {
	Store store.Store
	Keys  slackapi.Opener // decrypts OAuth-stored bot tokens; may be nil

	AppToken     secrets.Secret // xapp-…
	BotToken     secrets.Secret // xoxb-… in single-workspace mode, else ""
	APIURL       string
	Connections  int
	PingInterval time.Duration
	HTTPClient   *http.Client

	// Redis shares dedupe keys, the identity cache and pacing across
	// replicas; nil keeps them in process.
	Redis       redis.UniversalClient
	IdentityTTL time.Duration
	// Pacing overrides slackapi's default pacing (tests use &slackapi.Pacing{}).
	Pacing *slackapi.Pacing
	// Guard overrides the production Block Kit guard (tests use slackapi.Strict{}).
	Guard slackapi.Guard

	// Register fills the router; id is the resolver handlers may invalidate.
	Register func(r *Router, id Resolver) error

	AckDeadline time.Duration // 0: DefaultAckDeadline
	Workers     int           // async workers; 0: DefaultWorkers
	// ShutdownGrace bounds the drain of acked work at shutdown; 0: DefaultShutdownGrace.
	ShutdownGrace time.Duration
	Now           func() time.Time
	Log           zerolog.Logger
}

// App is the assembled Slack runtime.
type App struct {
	Clients    *slackapi.Clients
	Identity   Resolver
	Dispatcher *Dispatcher
	Manager    *Manager

	resolver *identity.Resolver
}

// Forget drops what is cached in process about a workspace (its Web API
// client and its binding); call it when the app is installed or uninstalled
// there. Other replicas catch up within identity.DefaultWorkspaceTTL.
func (a *App) Forget(teamID string) {
	a.Clients.Forget(teamID)
	a.resolver.ForgetWorkspace(teamID)
}

// NewApp wires everything; it fails on bad config or bad routes.
func NewApp(cfg AppConfig) (*App, error) {
	if cfg.Store == nil || cfg.Register == nil {
		return nil, errors.New("new slack app: store and register are required")
	}
	if cfg.Guard == nil {
		cfg.Guard = slackapi.BlockKit{}
	}
	apiHTTP, respHTTP, sockHTTP := cfg.HTTPClient, cfg.HTTPClient, cfg.HTTPClient
	if cfg.HTTPClient == nil {
		// One transport keeping enough idle connections for every worker:
		// http.DefaultTransport keeps 2 per host, so 32 workers calling
		// slack.com dial (and in production TLS-handshake) again and again.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = max(cfg.Workers, DefaultWorkers) + 8
		apiHTTP = &http.Client{Transport: tr}
		respHTTP = &http.Client{Transport: tr, Timeout: 10 * time.Second}
		sockHTTP = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	}
	opts := slackapi.Options{APIURL: cfg.APIURL, HTTPClient: apiHTTP, Pacing: cfg.Pacing, Guard: cfg.Guard, Log: cfg.Log}
	var dedupe Deduper
	var cache identity.Cache
	if cfg.Redis != nil {
		opts.Limiter = slackapi.NewRedisLimiter(cfg.Redis, RedisPrefix, cfg.Log)
		dedupe = NewFallbackDeduper(NewRedisDeduper(cfg.Redis, RedisPrefix+"dedupe:"), cfg.Log)
		cache = identity.NewRedisCache(cfg.Redis, RedisPrefix) // its keys start with "identity:"
	}
	clients := slackapi.NewClients(cfg.Store, cfg.Keys, cfg.BotToken, opts)
	res := identity.NewResolver(cfg.Store, clients, identity.Options{Cache: cache, TTL: cfg.IdentityTTL, Now: cfg.Now, Log: cfg.Log})
	id := NewIdentity(res, cfg.Store, cfg.Now)

	r := NewRouter()
	if err := cfg.Register(r, id); err != nil {
		return nil, fmt.Errorf("new slack app: %w", err)
	}
	d, err := NewDispatcher(DispatcherConfig{
		Router: r, Resolver: id, Clients: SlackAPIClients(clients), Deduper: dedupe,
		AckDeadline: cfg.AckDeadline, Workers: cfg.Workers, ShutdownGrace: cfg.ShutdownGrace,
		HTTPClient: respHTTP, Log: cfg.Log,
	})
	if err != nil {
		return nil, fmt.Errorf("new slack app: %w", err)
	}
	m, err := NewManager(ManagerConfig{
		AppToken: cfg.AppToken.Reveal(), APIURL: cfg.APIURL, Connections: cfg.Connections,
		PingInterval: cfg.PingInterval, HTTPClient: sockHTTP,
	}, d, cfg.Log)
	if err != nil {
		return nil, fmt.Errorf("new slack app: %w", err)
	}
	return &App{Clients: clients, Identity: id, Dispatcher: d, Manager: m, resolver: res}, nil
}

// Run serves Slack until ctx ends or the app token is rejected.
func (a *App) Run(ctx context.Context) error { return a.Manager.Run(ctx) }

// WorkspaceBinder is the store part BindSingleWorkspace needs.
type WorkspaceBinder interface {
	GetTenantBySlug(ctx context.Context, slug string) (*accessbot.Tenant, error)
	WorkspaceByTeam(ctx context.Context, teamID string) (*accessbot.Workspace, error)
	WorkspaceByTenant(ctx context.Context, tenantID string) (*accessbot.Workspace, error)
	BindWorkspace(ctx context.Context, w *accessbot.Workspace) error
}

// BindSingleWorkspace binds the workspace of slack.bot_token (found with
// auth.test) to tenant slug, unless it already is. A conflicting binding
// (the tenant has another workspace, or the workspace another tenant) is
// refused with an error that says what to do.
func BindSingleWorkspace(ctx context.Context, st WorkspaceBinder, botToken secrets.Secret, slug string, opts slackapi.Options) (*accessbot.Workspace, error) {
	if opts.Guard == nil {
		opts.Guard = slackapi.BlockKit{}
	}
	t, err := st.GetTenantBySlug(ctx, slug)
	if errors.Is(err, accessbot.ErrNotFound) {
		return nil, fmt.Errorf("slack.tenant %q: no such tenant: create it first with `accessbot apply -f tenant.yaml`", slug)
	}
	if err != nil {
		return nil, fmt.Errorf("slack.tenant %q: %w", slug, err)
	}
	cl, err := slackapi.NewClient("auth.test", botToken.Reveal(), opts)
	if err != nil {
		return nil, fmt.Errorf("slack.bot_token: %w", err)
	}
	at, err := cl.AuthTest(ctx)
	if err != nil {
		return nil, fmt.Errorf("slack.bot_token: auth.test failed (check the token and slack.api_url): %w", err)
	}
	if at.TeamID == "" {
		return nil, errors.New("slack.bot_token: auth.test returned no team_id")
	}
	if ws, err := st.WorkspaceByTeam(ctx, at.TeamID); err == nil {
		if ws.TenantID != t.ID {
			return nil, fmt.Errorf("slack workspace %s (%s) is already bound to another tenant (id %s), not %q: "+
				"one workspace serves one tenant; unbind it there or set slack.tenant to that tenant", at.TeamID, at.Team, ws.TenantID, slug)
		}
		return ws, nil
	} else if !errors.Is(err, accessbot.ErrNotFound) {
		return nil, fmt.Errorf("read binding of workspace %s: %w", at.TeamID, err)
	}
	if ws, err := st.WorkspaceByTenant(ctx, t.ID); err == nil {
		return nil, fmt.Errorf("tenant %q is already bound to Slack workspace %s, but slack.bot_token belongs to workspace %s (%s): "+
			"one tenant has one workspace; use that workspace's bot token or unbind it first", slug, ws.TeamID, at.TeamID, at.Team)
	} else if !errors.Is(err, accessbot.ErrNotFound) {
		return nil, fmt.Errorf("read binding of tenant %q: %w", slug, err)
	}
	ws := &accessbot.Workspace{TenantID: t.ID, TeamID: at.TeamID, TeamName: at.Team, BotUserID: at.UserID}
	if err := st.BindWorkspace(ctx, ws); err != nil {
		return nil, fmt.Errorf("bind workspace %s to tenant %q: %w", at.TeamID, slug, err)
	}
	return ws, nil
}
