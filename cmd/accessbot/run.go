package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/flows/inventory"
	"github.com/accessbot/accessbot/flows/playbooks"
	"github.com/accessbot/accessbot/internal/config"
	"github.com/accessbot/accessbot/internal/httpserver"
	"github.com/accessbot/accessbot/internal/metrics"
	"github.com/accessbot/accessbot/internal/secrets"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/backend"
	"github.com/accessbot/accessbot/store/postgres"
)

func (m *Main) runCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the bot: store, Slack connections and the HTTP health server",
		Long: `Run the bot until SIGINT or SIGTERM: open and migrate the store, connect to
Redis when redis.url is set, connect to Slack when its tokens are set, and
serve /healthz, /readyz and /metrics on http.listen (or /readyz and /metrics
on http.admin_listen when it is set, with /debug/pprof/ when http.pprof is true).

Without Slack tokens it still starts, and says what to configure next.

Each setting flag overrides its config key and ACCESSBOT_* variable; the
rest come from --config and the environment (docs/configuration.md).`,
		Example: `  accessbot run --listen 0.0.0.0:8080
  accessbot run --store-driver postgres --log-format json
  ACCESSBOT_STORE_DSN=postgres://… accessbot run --store-driver postgres`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return m.run(cmd.Context()) },
	}
	m.settingFlags(cmd.Flags(),
		setting{"listen", "http.listen", "`ADDRESS` for /healthz, /readyz, /metrics, OAuth pages and the findings API"},
		setting{"public-url", "http.public_url", "public base `URL` of this server, for OAuth install links"},
		setting{"redis-url", "redis.url", "optional Redis `URL`, e.g. redis://127.0.0.1:6379/0; prefer the environment for a password"},
		setting{"slack-tenant", "slack.tenant", "`SLUG` of the tenant bound to slack.bot_token"},
	)
	return cmd
}

// Runtime is what `run` has built, handed to the parts it starts.
type Runtime struct {
	Config  *config.Config
	Log     zerolog.Logger
	Store   store.Store
	Redis   *redis.Client // nil when redis.url is not set
	HTTP    *httpserver.Server
	Keyring *secrets.Keyring // Seal fails with secrets.ErrNoKey when encryption.key is not set
	Now     func() time.Time
	Version string
	// Requests is the access-request runtime (service, Slack notifier, handlers).
	Requests *requestParts
	// Reviews is the access-review runtime (service, Slack handlers).
	Reviews *reviewParts
	// Playbooks emits events to the tenants' playbook servers.
	Playbooks *playbooks.Service

	group *group
}

// Go runs fn until ctx is cancelled. If fn fails, everything else is stopped
// and `run` returns the error. Returning nil (or ctx's error after cancel) is a
// clean stop.
func (rt *Runtime) Go(name string, fn func(ctx context.Context) error) { rt.group.Go(name, fn) }

func (m *Main) run(ctx context.Context) error {
	cfg, log, err := m.boot()
	if err != nil {
		return err
	}
	log.Info().Str("version", m.Version).Str("commit", m.Commit).Str("store", cfg.Store.Driver).
		Bool("redis", cfg.Redis.Enabled()).Msg("starting")

	keyring, err := cfg.Keyring()
	if err != nil {
		return err
	}
	if !keyring.CanSeal() {
		// Only OAuth installs store secrets today; without them this is no news.
		ev := log.Debug()
		if cfg.Slack.OAuth() {
			ev = log.Warn()
		}
		ev.Str("fix", "ACCESSBOT_ENCRYPTION_KEY=$(openssl rand -base64 32)").
			Msg("encryption.key is not set: secrets cannot be stored")
	}

	st, err := m.openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error().Err(err).Msg("close store")
		}
	}()
	db, _ := st.(interface{ DB() *sql.DB })
	if db != nil && cfg.Store.Driver == backend.Postgres {
		warmPool(ctx, db.DB(), cfg.Store.PoolSize, log)
	}

	var rdb *redis.Client
	if cfg.Redis.Enabled() {
		rdb, err = connectRedis(ctx, cfg)
		if err != nil {
			return err
		}
		defer rdb.Close()
	}

	srv := httpserver.New(cfg.HTTP.Listen, cfg.HTTP.AdminListen, log, httpserver.WithPprof(cfg.HTTP.Pprof))
	if err := metrics.Register(srv.Registry()); err != nil {
		return fmt.Errorf("register metrics: %w", err)
	}
	if db != nil {
		// go_sql_*: a wait count that climbs says store.pool_size is short.
		if err := srv.Registry().Register(collectors.NewDBStatsCollector(db.DB(), "store")); err != nil {
			return fmt.Errorf("register metrics: %w", err)
		}
	}
	srv.AddCheck("store", st.Ping)
	if rdb != nil {
		srv.AddCheck("redis", func(ctx context.Context) error { return rdb.Ping(ctx).Err() })
	}

	g := newGroup(ctx, log)
	defer g.cancel()
	rt := &Runtime{
		Config: cfg, Log: log, Store: st, Redis: rdb, HTTP: srv, Keyring: keyring,
		Now: m.Now, Version: m.Version, group: g,
	}
	rt.Requests = m.buildRequests(rt)
	rt.Reviews = m.buildReviews(rt)
	rt.startJobs()
	// Findings from the tenant's own tools reach the finding playbooks.
	srv.Handle("POST /api/v1/findings", findings.NewHandler(st, m.Now, log).WithAfterRecord(rt.Playbooks.FindingsOpened))
	// An upload through the API is a sync too: recurrence playbooks run after it.
	srv.Handle("POST /api/v1/inventory/{application}/{kind}", inventory.NewHandler(
		inventory.NewImporter(st, findings.NewEngine(m.Now, log), m.Now, log).WithAfterImport(rt.Playbooks.AfterImport), st, log))

	noSlack := !cfg.Slack.SocketMode() && !cfg.Slack.SingleWorkspace()
	switch {
	case !noSlack:
		if err := m.startSlack(g.ctx, rt); err != nil {
			g.cancel()
			g.wait()
			return fmt.Errorf("start slack: %w", err)
		}
	case !m.console: // a person at a terminal gets plain lines after "ready"
		log.Warn().Str("set", "ACCESSBOT_SLACK_APP_TOKEN, ACCESSBOT_SLACK_BOT_TOKEN, ACCESSBOT_SLACK_TENANT").
			Str("docs", "docs/slack-setup.md").Msg("not connected to Slack: no Slack tokens are set")
	}

	if err := m.startScheduler(rt, rt.Requests.Service); err != nil { // scheduler.go: Tick runs approvals reminders, escalation, expiry
		g.cancel()
		g.wait()
		return fmt.Errorf("start scheduler: %w", err)
	}

	if err := srv.Listen(); err != nil {
		g.cancel()
		g.wait()
		return err
	}
	rt.Go("http", srv.Serve)
	m.setReady(srv.Addr(), srv.AdminAddr())
	ready := log.Info().Str("healthz", "http://"+srv.Addr()+"/healthz")
	if a := srv.AdminAddr(); a != "" {
		ready = ready.Str("readyz", "http://"+a+"/readyz")
	}
	ready.Msg("ready")
	if noSlack && m.console {
		m.printSlackNextStep()
	}

	err = g.wait()
	log.Info().Msg("stopped")
	return err
}

// warmPool opens the PostgreSQL pool's store.pool_size connections before
// Slack connects and River starts. Otherwise the first burst of envelopes
// finds a few, and PostgreSQL starts a backend for each query that finds
// none idle (at 1,000 envelopes/s the pool grew from 6 to 21 in 300 ms,
// and the /access help acks waited behind it). If some cannot be opened now,
// the pool opens them when needed.
func warmPool(ctx context.Context, db *sql.DB, size int, log zerolog.Logger) {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := postgres.Warm(wctx, db, size); err != nil {
		log.Warn().Err(err).Int("pool_size", size).Msg("store connections not all open at start (store.pool_size); the rest open when needed")
		return
	}
	log.Debug().Int("pool_size", size).Dur("took", time.Since(start)).Msg("store connections open")
}

func connectRedis(ctx context.Context, cfg *config.Config) (*redis.Client, error) {
	opts, err := cfg.Redis.ClientOptions()
	if err != nil { // Validate already checked.
		return nil, fmt.Errorf("redis.url: %w", err)
	}
	rdb := redis.NewClient(opts)
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rdb.Ping(pingCtx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("connect to redis at %s (redis.url): %w", opts.Addr, err)
	}
	return rdb, nil
}

// startSlack is the seam for the Slack runtime (issue 3). It is called once
// Slack tokens are configured, before HTTP serves, so it can mount handlers
// (rt.HTTP.Handle("GET /slack/install", …)) and start its long-running parts
// with rt.Go("slack", …), which run until ctx is cancelled.
func (m *Main) startSlack(ctx context.Context, rt *Runtime) error {
	return m.startSlackRuntime(ctx, rt)
}

// group runs named goroutines; the first failure cancels the rest.
type group struct {
	ctx    context.Context
	cancel context.CancelFunc
	log    zerolog.Logger
	wg     sync.WaitGroup
	once   sync.Once
	err    error
}

func newGroup(ctx context.Context, log zerolog.Logger) *group {
	ctx, cancel := context.WithCancel(ctx)
	return &group{ctx: ctx, cancel: cancel, log: log}
}

func (g *group) Go(name string, fn func(ctx context.Context) error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		err := fn(g.ctx)
		if err == nil || (g.ctx.Err() != nil && errors.Is(err, g.ctx.Err())) {
			return
		}
		g.once.Do(func() {
			g.err = fmt.Errorf("%s: %w", name, err)
			g.log.Error().Str("component", name).Err(err).Msg("stopping everything")
			g.cancel()
		})
	}()
}

// wait blocks until every goroutine has returned, and returns the first failure.
func (g *group) wait() error {
	g.wg.Wait()
	return g.err
}

// printSlackNextStep tells a person at a terminal what to do when run has
// no Slack tokens, in plain lines after the log (services get the warning).
func (m *Main) printSlackNextStep() {
	fmt.Fprint(m.Stderr, `
accessbot is running, but not connected to Slack: no tokens are set. Next:
  1. Create the Slack app and its two tokens: docs/slack-setup.md
  2. Set them, and the slug of the tenant you applied, then run again:
  ACCESSBOT_SLACK_APP_TOKEN=xapp-...
  ACCESSBOT_SLACK_BOT_TOKEN=xoxb-...
  ACCESSBOT_SLACK_TENANT=your-tenant-slug
To try it without Slack: accessbot playground
`)
}
