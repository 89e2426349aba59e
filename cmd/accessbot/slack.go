package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/identity"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/handlers"
)

// publishedMemo bounds the in-process memo of Home tabs found unchanged (one
// short entry per user who opened it in the last handlers.PublishedTTL).
const publishedMemo = 100000

// startSlackRuntime binds the single workspace (when slack.bot_token is set),
// assembles the Slack runtime and runs its Socket Mode connections in rt's
// group: a rejected app token stops `run` with the reason.
func (m *Main) startSlackRuntime(ctx context.Context, rt *Runtime) error {
	cfg := rt.Config.Slack
	if !cfg.SocketMode() {
		rt.Log.Warn().Msg("slack.app_token is not set: no Socket Mode connection, so the bot receives nothing from Slack")
		return nil
	}
	if cfg.SingleWorkspace() {
		ws, err := bot.BindSingleWorkspace(ctx, rt.Store, cfg.BotToken, cfg.Tenant,
			slackapi.Options{APIURL: cfg.APIURL, Log: rt.Log})
		if err != nil {
			return err
		}
		rt.Log.Info().Str("tenant", ws.TenantID).Str("team", ws.TeamID).Str("team_name", ws.TeamName).Msg("slack workspace bound")
	}
	forget := &lateForgetter{} // the app's clients exist only once NewApp returns
	lifecycle, err := handlers.NewLifecycle(rt.Store, forget, rt.Now)
	if err != nil {
		return err
	}
	ac := bot.AppConfig{
		Store:       rt.Store,
		AppToken:    cfg.AppToken,
		BotToken:    cfg.BotToken,
		APIURL:      cfg.APIURL,
		Connections: cfg.Connections,
		Workers:     cfg.Workers,
		IdentityTTL: cfg.IdentityCacheTTL,
		Register: func(r *bot.Router, id bot.Resolver) error {
			published := handlers.Memo(identity.NewMemoryCache(publishedMemo, rt.Now))
			if rt.Redis != nil {
				published = identity.NewRedisCache(rt.Redis, bot.RedisPrefix) // keys "home:TEAM:USER"
			}
			digestButtons := handlers.NewDigest(handlers.DigestConfig{Store: rt.Store, Actions: rt.digestActions(), Playbooks: rt.playbookMenus(), Now: rt.Now, Log: rt.Log})
			return errors.Join(handlers.Register(r, handlers.Deps{Identity: id, Lifecycle: lifecycle, Requests: rt.requestHandlers(), Reviews: rt.reviewHandlers(), Flows: rt.flowHandlers(), Steps: rt.stepHandlers(),
				Playbooks: handlers.NewPlaybooks(rt.Store, rt.keys(), rt.Now, rt.Log), PlaybookMenus: rt.playbookMenus(), Connectors: handlers.NewConnectors(rt.Store), Purposes: rt.purposeHandlers(), Reports: handlers.NewReports(rt.Store, rt.Now, rt.Log), Published: published, HomeVersions: rt.Store, Now: rt.Now}), handlers.RegisterDigest(r, digestButtons))
		},
		Now: rt.Now,
		Log: rt.Log,
	}
	if rt.Keyring != nil {
		ac.Keys = rt.Keyring
	}
	if rt.Redis != nil { // never a typed nil inside the interface
		ac.Redis = rt.Redis
	}
	app, err := bot.NewApp(ac)
	if err != nil {
		return fmt.Errorf("slack runtime: %w", err)
	}
	forget.set(app.Forget)
	for _, c := range append(app.Dispatcher.Collectors(), socketsGauge(app.Manager.Connected)) {
		if err := rt.HTTP.Registry().Register(c); err != nil {
			return fmt.Errorf("slack runtime metrics: %w", err)
		}
	}
	if err := m.mountInstaller(rt, app.Forget); err != nil {
		return err
	}
	rt.HTTP.AddCheck("slack", func(context.Context) error {
		if app.Manager.Connected() == 0 {
			return errors.New("no Slack Socket Mode connection is open")
		}
		return nil
	})
	rt.Go("slack", app.Run)
	return nil
}

// chatClients builds the Slack Web API clients the notifiers send with
// (BlockKit-guarded, paced with the Slack runtime's clients through Redis
// when it is set), or returns nil when Slack is not configured.
func (rt *Runtime) chatClients() handlers.ChatClients {
	cfg := rt.Config.Slack
	if !cfg.SocketMode() && !cfg.SingleWorkspace() {
		return nil
	}
	opts := slackapi.Options{APIURL: cfg.APIURL, Guard: slackapi.BlockKit{}, Log: rt.Log}
	if rt.Redis != nil { // pacing shared with the Slack runtime's clients
		opts.Limiter = slackapi.NewRedisLimiter(rt.Redis, bot.RedisPrefix, rt.Log)
	}
	var keys slackapi.Opener
	if rt.Keyring != nil {
		keys = rt.Keyring
	}
	return handlers.SlackChatClients(slackapi.NewClients(rt.Store, keys, cfg.BotToken, opts))
}

// socketsGauge is accessbot_slack_sockets_connected, read at scrape time.
func socketsGauge(connected func() int) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "accessbot_slack_sockets_connected",
		Help: "Socket Mode connections open in this process."}, func() float64 { return float64(connected()) })
}
