package bot

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"

	"github.com/accessbot/accessbot/internal/metrics"
)

// newRequest builds the request shell and looks up the workspace's client.
func (d *Dispatcher) newRequest(ctx context.Context, st *ackState, env *socketmode.Request, kind Kind, teamID, userID string, log zerolog.Logger) *Request {
	req := &Request{
		EnvelopeID: env.EnvelopeID,
		Kind:       kind,
		TeamID:     teamID,
		UserID:     userID,
		Log:        withStrs(log, "team", teamID, "user", userID),
		ack:        st,
		responder:  d.resp,
	}
	if st != nil {
		st.mu.Lock()
		st.req = req
		st.mu.Unlock()
	}
	if teamID != "" {
		api, err := d.cfg.Clients.For(ctx, teamID)
		if err != nil {
			req.Log.Debug().Err(err).Msg("no Web API client for workspace")
		} else {
			req.API = api
		}
	}
	return req
}

// resolve sets req.Actor; on failure it answers the user itself (unless
// quiet) and returns false.
func (d *Dispatcher) resolve(ctx context.Context, req *Request, quiet bool) bool {
	return d.resolveWith(ctx, req, quiet, d.cfg.Resolver.Resolve)
}

// resolveRecent is resolve for routes registered by InfoCommand: from a
// copy of the user kept in process when the Resolver keeps one.
func (d *Dispatcher) resolveRecent(ctx context.Context, req *Request) bool {
	if rr, ok := d.cfg.Resolver.(RecentResolver); ok {
		return d.resolveWith(ctx, req, false, rr.ResolveRecent)
	}
	return d.resolve(ctx, req, false)
}

func (d *Dispatcher) resolveWith(ctx context.Context, req *Request, quiet bool, resolve func(ctx context.Context, teamID, slackUserID string) (Actor, error)) bool {
	if req.UserID == "" || req.TeamID == "" {
		req.ActorErr = fmt.Errorf("resolve actor: payload names no team or user")
	} else if actor, err := resolve(ctx, req.TeamID, req.UserID); err != nil {
		req.ActorErr = fmt.Errorf("resolve actor %s/%s: %w", req.TeamID, req.UserID, err)
	} else {
		req.Actor = &actor
		req.Log = withStr(req.Log, "tenant", actor.Tenant.ID)
		return true
	}
	req.Log.Info().Err(req.ActorErr).Msg("sender not resolved to a tenant user")
	if !quiet {
		d.answer(ctx, req, Message{Text: PlainWords(req.ActorErr)})
	}
	return false
}

// answer responds, logging a failure; block_suggestion gets empty options,
// and a view_submission still unacked sees the answer in place of its form
// (it has no response_url; a DM is the fallback).
func (d *Dispatcher) answer(ctx context.Context, req *Request, m Message) {
	switch req.Kind {
	case KindSuggestion:
		_ = req.SetAck(emptyOptions())
		return
	case KindView:
		if req.SetAck(slack.NewUpdateViewSubmissionResponse(textView(m.Text))) == nil {
			return
		}
	}
	if err := req.Respond(ctx, m); err != nil {
		req.Log.Warn().Err(err).Msg("could not answer the user")
	}
}

// answerUnknownAction answers a click on a button no route knows: the
// prepared body to its response_url, else as answer does.
func (d *Dispatcher) answerUnknownAction(ctx context.Context, req *Request) {
	if req.ResponseURL == "" {
		d.answer(ctx, req, d.unknownAction.build())
		return
	}
	if err := d.resp.postBody(ctx, req.ResponseURL, d.unknownAction.wire); err != nil {
		req.Log.Warn().Err(err).Msg("could not answer the user")
	}
}

func emptyOptions() map[string]any { return map[string]any{"options": []any{}} }

// first reports whether key is new; a dedupe failure lets the envelope through
// (handling twice beats dropping).
func (d *Dispatcher) first(ctx context.Context, key string, log zerolog.Logger) bool {
	ok, err := d.cfg.Deduper.First(ctx, key, d.cfg.DedupeTTL)
	if err != nil {
		log.Warn().Err(err).Str("key", key).Msg("dedupe unavailable, handling anyway")
		return true
	}
	if !ok {
		metrics.Duplicates.Inc()
		log.Info().Str("key", key).Msg("duplicate delivery ignored")
	}
	return ok
}

// replay puts the remembered answer of a redelivered envelope on its ack.
func (d *Dispatcher) replay(st *ackState, envelopeID string) {
	if p, ok := d.answers.get(envelopeID); ok && st != nil {
		st.set(p)
	}
}

// run calls h, turning a panic or an error into a logged, polite answer.
func (d *Dispatcher) run(ctx context.Context, req *Request, route string, h Handler) {
	start, outcome := time.Now(), "ok"
	defer func() {
		if p := recover(); p != nil {
			outcome = "panic"
			req.Log.Error().Str("route", route).Interface("panic", p).Str("stack", string(debug.Stack())).Msg("handler panicked")
			d.answer(ctx, req, Message{Text: fmt.Sprintf(MsgSorry, req.EnvelopeID)})
		}
		metrics.Since(metrics.HandlerLatency.WithLabelValues(routeLabel(route), outcome), start)
	}()
	if err := h(ctx, req); err != nil {
		outcome = "error"
		req.Log.Error().Err(err).Str("route", route).Msg("handler failed")
		d.answer(ctx, req, Message{Text: fmt.Sprintf(MsgSorry, req.EnvelopeID)})
	}
}

// routeLabel keeps the route label's values few: routes are registered
// names, except view callbacks and commands, which are bounded too since
// only registered ones reach run.
func routeLabel(route string) string {
	if len(route) > 80 {
		return route[:80]
	}
	return route
}

func (d *Dispatcher) handleCommand(ctx context.Context, st *ackState, env *socketmode.Request, cmd *slack.SlashCommand, log zerolog.Logger) {
	req := d.newRequest(ctx, st, env, KindCommand, cmd.TeamID, cmd.UserID, withStr(log, "command", cmd.Command))
	req.Command, req.ChannelID, req.TriggerID, req.ResponseURL = cmd, cmd.ChannelID, cmd.TriggerID, cmd.ResponseURL
	if !d.first(ctx, "command:"+env.EnvelopeID, req.Log) {
		d.replay(st, env.EnvelopeID)
		return
	}
	h, args, info, ok := d.cfg.Router.command(cmd.Command, cmd.Text)
	if !ok {
		req.Log.Warn().Int("text_len", len(cmd.Text)).Msg("unknown command")
		d.answer(ctx, req, Message{Text: fmt.Sprintf(MsgUnknownCommand, d.helpCommand(cmd.Command))})
		return
	}
	req.Args = args
	if info {
		ok = d.resolveRecent(ctx, req) // help: answered on the ack without a store read
	} else {
		ok = d.resolve(ctx, req, false)
	}
	if !ok {
		return
	}
	d.run(ctx, req, cmd.Command, h)
}

// helpCommand is the command to suggest: the one the user typed when it is ours.
func (d *Dispatcher) helpCommand(typed string) string {
	if _, ok := d.cfg.Router.commands[strings.ToLower(typed)]; ok {
		return strings.ToLower(typed)
	}
	return d.cfg.HelpCommand
}

func (d *Dispatcher) handleInteractive(ctx context.Context, st *ackState, env *socketmode.Request, cb *slack.InteractionCallback, log zerolog.Logger) {
	teamID := cb.Team.ID
	if teamID == "" {
		teamID = cb.User.TeamID
	}
	kind := Kind(cb.Type)
	req := d.newRequest(ctx, st, env, kind, teamID, cb.User.ID, log)
	req.Interaction, req.TriggerID, req.ResponseURL = cb, cb.TriggerID, cb.ResponseURL
	req.ChannelID = cb.Channel.ID
	if req.ChannelID == "" {
		req.ChannelID = cb.Container.ChannelID
	}
	if req.ResponseURL == "" && len(cb.ResponseURLs) > 0 {
		req.ResponseURL = cb.ResponseURLs[0].ResponseURL
	}
	dedupeKey := dedupeKey(teamID, env.EnvelopeID, cb.TriggerID)

	switch cb.Type {
	case slack.InteractionTypeBlockActions:
		d.handleBlockActions(ctx, req, dedupeKey, cb.ActionCallback.BlockActions)
	case slack.InteractionTypeViewSubmission:
		h := d.cfg.Router.views[cb.View.CallbackID]
		req.Log = withStr(req.Log, "callback_id", cb.View.CallbackID)
		if !d.first(ctx, dedupeKey, req.Log) {
			d.replay(st, env.EnvelopeID)
			return
		}
		if h == nil {
			req.Log.Warn().Msg("unknown view submission")
			d.answer(ctx, req, Message{Text: fmt.Sprintf(MsgUnknownView, d.cfg.HelpCommand)})
			return
		}
		if d.resolve(ctx, req, false) {
			d.run(ctx, req, "view:"+cb.View.CallbackID, h)
		}
	case slack.InteractionTypeBlockSuggestion:
		req.Log = withStr(req.Log, "action_id", cb.ActionID)
		h := d.cfg.Router.suggestions[cb.ActionID]
		if h == nil {
			req.Log.Warn().Msg("unknown suggestion")
			_ = req.SetAck(emptyOptions())
			return
		}
		// Suggestions are idempotent reads: no dedupe needed.
		if d.resolve(ctx, req, true) {
			d.run(ctx, req, "suggestion:"+cb.ActionID, h)
		} else {
			_ = req.SetAck(emptyOptions())
		}
	case slack.InteractionTypeViewClosed:
		h := d.cfg.Router.viewsClosed[cb.View.CallbackID]
		if h == nil || !d.first(ctx, dedupeKey, req.Log) {
			return
		}
		if d.resolve(ctx, req, true) {
			d.run(ctx, req, "view_closed:"+cb.View.CallbackID, h)
		}
	default:
		req.Log.Warn().Msg("unhandled interaction type")
		if req.ResponseURL != "" || req.API != nil {
			d.answer(ctx, req, Message{Text: fmt.Sprintf(MsgUnknownAction, d.cfg.HelpCommand)})
		}
	}
}

func (d *Dispatcher) handleBlockActions(ctx context.Context, req *Request, dedupeKey string, acts []*slack.BlockAction) {
	if len(acts) == 0 {
		req.Log.Warn().Msg("block_actions payload without block actions")
		return
	}
	resolved := false
	for _, act := range acts {
		// The dedupe key names the action: no logger of its own until it runs.
		if !d.first(ctx, dedupeKey+":"+act.ActionID+":"+act.ActionTs, req.Log) {
			continue
		}
		h := d.cfg.Router.actions[act.ActionID]
		if h == nil {
			// A button of an older version or a removed feature: expected
			// after upgrades, and answered, so not worth a warning each click.
			req.Log.Info().Str("action_id", act.ActionID).Msg("unknown action")
			d.answerUnknownAction(ctx, req)
			continue
		}
		if !resolved {
			if !d.resolve(ctx, req, false) {
				return
			}
			resolved = true
		}
		one := *req
		one.Action = act
		one.Log = withStr(req.Log, "action_id", act.ActionID)
		d.run(ctx, &one, "action:"+act.ActionID, h)
	}
}

func (d *Dispatcher) handleEvent(ctx context.Context, env *socketmode.Request, outer eventsPayload, log zerolog.Logger) {
	inner, err := decodeInner(outer)
	if err != nil {
		log.Warn().Err(err).Msg("malformed inner event")
		return
	}
	log = withStrs(log, "event", inner.Type, "event_id", outer.EventID)
	route, ok := d.cfg.Router.events[inner.Type]
	if !ok {
		log.Debug().Msg("event type not routed")
		return
	}
	key := "event:" + outer.EventID
	if outer.EventID == "" {
		key = "event:envelope:" + env.EnvelopeID
	}
	if !d.first(ctx, key, log) {
		return
	}
	req := d.newRequest(ctx, nil, env, KindEvent, outer.TeamID, inner.UserID, log)
	req.ChannelID = inner.ChannelID
	req.Event = &Event{ID: outer.EventID, Type: inner.Type, Raw: outer.Event}
	if route.mode == ActorOptional {
		d.resolve(ctx, req, true)
	}
	d.run(ctx, req, "event:"+inner.Type, route.h)
}
