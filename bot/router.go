package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Handler handles one routed payload. An error is logged and answered with
// a polite "something went wrong"; handlers that want to say more call
// req.Respond and return nil.
type Handler func(ctx context.Context, req *Request) error

// ActorMode says whether an event route wants the sender resolved.
type ActorMode int

const (
	// NoActor: the handler runs without identity resolution (e.g. user_change).
	NoActor ActorMode = iota
	// ActorOptional: the router resolves the event's user; the handler runs
	// either way, with Actor or ActorErr set (e.g. app_home_opened, which
	// shows an unlinked user why).
	ActorOptional
)

type eventRoute struct {
	h    Handler
	mode ActorMode
}

// Router is the dispatch table handlers/ fills in at start-up. Registration
// is not safe for concurrent use; lookups after start-up are read-only.
// A duplicate or empty registration is recorded and reported by Err, which
// the Manager checks before it connects.
type Router struct {
	commands    map[string]map[string]Handler // command → subcommand ("" = bare) → handler
	info        map[string]bool               // "command sub" registered by InfoCommand
	actions     map[string]Handler
	views       map[string]Handler
	viewsClosed map[string]Handler
	suggestions map[string]Handler
	events      map[string]eventRoute
	errs        []error
}

func NewRouter() *Router {
	return &Router{
		commands:    map[string]map[string]Handler{},
		info:        map[string]bool{},
		actions:     map[string]Handler{},
		views:       map[string]Handler{},
		viewsClosed: map[string]Handler{},
		suggestions: map[string]Handler{},
		events:      map[string]eventRoute{},
	}
}

// Err reports every bad registration so far, or nil.
func (r *Router) Err() error { return errors.Join(r.errs...) }

func register[V any](r *Router, m map[string]V, what, key string, v V, nilHandler bool) {
	switch {
	case nilHandler:
		r.errs = append(r.errs, fmt.Errorf("register %s %q: nil handler", what, key))
	case key == "":
		r.errs = append(r.errs, fmt.Errorf("register %s: empty id", what))
	default:
		if _, dup := m[key]; dup {
			r.errs = append(r.errs, fmt.Errorf("register %s %q: already registered", what, key))
			return
		}
		m[key] = v
	}
}

// Command routes "/command sub ..." to h; sub "" handles the bare command.
// Subcommands match case-insensitively.
func (r *Router) Command(command, sub string, h Handler) {
	command = strings.ToLower(strings.TrimSpace(command))
	if !strings.HasPrefix(command, "/") {
		r.errs = append(r.errs, fmt.Errorf("register command %q: must start with /", command))
		return
	}
	subs := r.commands[command]
	if subs == nil {
		subs = map[string]Handler{}
		r.commands[command] = subs
	}
	sub = strings.ToLower(strings.TrimSpace(sub))
	switch {
	case h == nil:
		r.errs = append(r.errs, fmt.Errorf("register command %q: nil handler", strings.TrimSpace(command+" "+sub)))
	case subs[sub] != nil:
		r.errs = append(r.errs, fmt.Errorf("register command %q: already registered", strings.TrimSpace(command+" "+sub)))
	default:
		subs[sub] = h
	}
}

// InfoCommand is Command for a subcommand whose answer is the same for
// every linked, active user and changes nothing (help). Its sender may be
// resolved from a copy kept in process that is a little out of date (see
// RecentResolver), so the answer, which rides on the ack, does not wait for
// a read of the store. Never use it for a command that acts or shows the
// user's own data.
func (r *Router) InfoCommand(command, sub string, h Handler) {
	r.Command(command, sub, h)
	r.info[infoKey(command, sub)] = true
}

func infoKey(command, sub string) string {
	return strings.ToLower(strings.TrimSpace(command)) + " " + strings.ToLower(strings.TrimSpace(sub))
}

// Action routes block_actions by action_id.
func (r *Router) Action(actionID string, h Handler) {
	register(r, r.actions, "action", actionID, h, h == nil)
}

// View routes view_submission by the view's callback_id.
func (r *Router) View(callbackID string, h Handler) {
	register(r, r.views, "view", callbackID, h, h == nil)
}

// ViewClosed routes view_closed by callback_id (views opened with notify_on_close).
func (r *Router) ViewClosed(callbackID string, h Handler) {
	register(r, r.viewsClosed, "view_closed", callbackID, h, h == nil)
}

// Suggestion routes block_suggestion (external select options) by action_id.
func (r *Router) Suggestion(actionID string, h Handler) {
	register(r, r.suggestions, "suggestion", actionID, h, h == nil)
}

// Event routes events_api envelopes by inner event type.
func (r *Router) Event(eventType string, mode ActorMode, h Handler) {
	register(r, r.events, "event", eventType, eventRoute{h: h, mode: mode}, h == nil)
}

// command finds the handler for a command and its text; args is the text
// after the subcommand word. ok is false for an unknown command or
// subcommand; info is true for one registered by InfoCommand.
func (r *Router) command(command, text string) (h Handler, args string, info, ok bool) {
	subs := r.commands[strings.ToLower(command)]
	if subs == nil {
		return nil, "", false, false
	}
	text = strings.TrimSpace(text)
	word, rest, _ := strings.Cut(text, " ")
	if h := subs[strings.ToLower(word)]; h != nil {
		return h, strings.TrimSpace(rest), r.info[infoKey(command, word)], true
	}
	return nil, "", false, false
}

// EventTypes lists the routed event types (for the manifest and for tests).
func (r *Router) EventTypes() []string {
	out := make([]string, 0, len(r.events))
	for t := range r.events {
		out = append(out, t)
	}
	return out
}
