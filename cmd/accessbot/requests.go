package main

import (
	"context"

	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers"
)

// notifierWorkers send request notifications in the background, in order
// per request, so a modal's "Create request" is never held up by Slack.
const notifierWorkers = 4

// requestParts is the access-request runtime: the service (whose Tick the
// scheduler runs), its Slack notifier and the Slack handlers.
type requestParts struct {
	Service  *requests.Service
	Notifier *handlers.Notifier
	Handlers *handlers.Requests
}

// buildRequests wires requests.Service with the Slack notifier, the default
// provisioner (record only, until the provisioning engine lands) and the
// approvals.* policy. Without Slack configured the notifier is a no-op.
func (m *Main) buildRequests(rt *Runtime) *requestParts {
	cfg := rt.Config.Slack
	var notifier requests.Notifier
	var slackNotifier *handlers.Notifier
	if cfg.SocketMode() || cfg.SingleWorkspace() {
		opts := slackapi.Options{APIURL: cfg.APIURL, Guard: slackapi.BlockKit{}, Log: rt.Log}
		if rt.Redis != nil { // pacing shared with the Slack runtime's clients
			opts.Limiter = slackapi.NewRedisLimiter(rt.Redis, bot.RedisPrefix, rt.Log)
		}
		var keys slackapi.Opener
		if rt.Keyring != nil {
			keys = rt.Keyring
		}
		clients := slackapi.NewClients(rt.Store, keys, cfg.BotToken, opts)
		slackNotifier = handlers.NewNotifier(handlers.NotifierConfig{Store: rt.Store, Clients: handlers.SlackChatClients(clients),
			Workers: notifierWorkers, Log: rt.Log})
		notifier = slackNotifier
		rt.Go("request_notifier", func(ctx context.Context) error {
			slackNotifier.Start(ctx)
			<-ctx.Done()
			slackNotifier.Wait()
			return nil
		})
	}
	svc := requests.New(rt.Store, notifier, requests.RecordOnly{}, rt.Now, requests.Policy(rt.Config.Approvals), rt.Log)
	return &requestParts{Service: svc, Notifier: slackNotifier, Handlers: handlers.NewRequests(svc, rt.Store, rt.Log)}
}

// requestHandlers are the Slack handlers of access requests, nil when run
// built none (tests that start only the Slack runtime).
func (rt *Runtime) requestHandlers() *handlers.Requests {
	if rt.Requests == nil {
		return nil
	}
	return rt.Requests.Handlers
}
