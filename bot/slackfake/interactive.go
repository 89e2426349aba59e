package slackfake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
)

// ErrViewNotOpen is returned by SubmitView for a view not in the user's stack.
var ErrViewNotOpen = errors.New("slackfake: view not open")

// Builders for any element a person can use (the playground's needs):
// Action covers buttons and single selects, these take the action object as
// Slack sends it, so multi selects, radio buttons, checkboxes and date
// pickers work too, and views carry the client's current input state.

// RawAction is one element interaction of a block_actions payload in Slack's
// shape: action_id, block_id, type and the type's value fields (value,
// selected_option, selected_options, selected_date, …). action_ts is filled
// in; block_id defaults as for Action.
type RawAction map[string]any

func (a RawAction) json(ts string) map[string]any {
	out := maps.Clone(map[string]any(a))
	if out == nil {
		out = map[string]any{}
	}
	if _, ok := out["type"]; !ok {
		out["type"] = "button"
	}
	if b, _ := out["block_id"].(string); b == "" {
		id, _ := out["action_id"].(string)
		out["block_id"] = "b-" + id
	}
	out["action_ts"] = ts
	return out
}

// MessageAction is BlockActionOnMessage for a RawAction.
func (s *Server) MessageAction(team, user, channel, ts string, action RawAction) InteractionPayload {
	p := s.BlockActionOnMessage(team, user, channel, ts)
	s.mu.Lock()
	defer s.mu.Unlock()
	p.Actions = []map[string]any{action.json(s.actionTSLocked())}
	return p
}

// ViewAction builds a block_actions payload for an element of the view
// viewID (modal or Home tab) the fake holds. Like Slack, it carries the view
// with state.values as the client has them (block_id → action_id → value),
// so a handler that redraws the form on a dispatch_action sees every input.
func (s *Server) ViewAction(team, user, viewID string, values map[string]map[string]StateValue, action RawAction) InteractionPayload {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.interactionLocked("block_actions", team, user)
	p.Container = map[string]any{"type": "view", "view_id": viewID}
	p.View = s.viewStateLocked(team, viewID, values)
	p.Actions = []map[string]any{action.json(s.actionTSLocked())}
	return p
}

// viewStateLocked is the view object of viewID with state.values set.
func (s *Server) viewStateLocked(team, viewID string, values map[string]map[string]StateValue) json.RawMessage {
	obj := map[string]any{"id": viewID, "team_id": team, "type": "modal", "app_id": s.cfg.appID}
	if v, ok := s.views[viewID]; ok {
		obj = map[string]any{}
		_ = json.Unmarshal(v.JSON, &obj)
	}
	if values == nil {
		values = map[string]map[string]StateValue{}
	}
	obj["state"] = map[string]any{"values": values}
	js, _ := json.Marshal(obj)
	return js
}

// SubmitView is ViewSubmission for an explicit view id that must be open in
// the user's modal stack: a stale form (already closed or replaced by a push)
// is refused instead of being submitted as Slack never would.
func (s *Server) SubmitView(team, user, viewID string, values map[string]map[string]StateValue) (InteractionPayload, error) {
	s.mu.Lock()
	open := false
	for _, id := range s.stacks[user] {
		open = open || id == viewID
	}
	s.mu.Unlock()
	if !open {
		return InteractionPayload{}, fmt.Errorf("submit view %s of %s: %w", viewID, user, ErrViewNotOpen)
	}
	return s.ViewSubmission(team, user, viewID, values), nil
}

// SuggestionPayload is a block_suggestion payload (an external_select's
// type-ahead): the query is Value.
type SuggestionPayload struct {
	Type       string          `json:"type"`
	Team       TeamRef         `json:"team"`
	User       UserRef         `json:"user"`
	APIAppID   string          `json:"api_app_id"`
	Token      string          `json:"token"`
	Container  map[string]any  `json:"container"`
	ActionID   string          `json:"action_id"`
	BlockID    string          `json:"block_id"`
	Value      string          `json:"value"`
	View       json.RawMessage `json:"view,omitempty"`
	Enterprise *EnterpriseRef  `json:"enterprise"`
	// IsEnterpriseInstall mirrors Slack's field.
	IsEnterpriseInstall bool `json:"is_enterprise_install"`
}

// BlockSuggestion builds the block_suggestion Slack sends while user types
// query into the external_select (blockID, actionID) of view viewID.
func (s *Server) BlockSuggestion(team, user, viewID, blockID, actionID, query string) SuggestionPayload {
	s.mu.Lock()
	defer s.mu.Unlock()
	tr, _ := s.teamRefLocked(team)
	p := SuggestionPayload{
		Type: "block_suggestion", Team: tr, User: s.userRefLocked(team, user), APIAppID: s.cfg.appID,
		Token: verificationToken, Container: map[string]any{"type": "view", "view_id": viewID},
		ActionID: actionID, BlockID: blockID, Value: query,
	}
	if v, ok := s.views[viewID]; ok {
		p.View = v.JSON
	}
	return p
}

// BlockSuggestionOnMessage builds the block_suggestion Slack sends while
// user types query into the external_select (blockID, actionID) of the
// message (channel, ts): the container names the message, and there is no view.
func (s *Server) BlockSuggestionOnMessage(team, user, channel, ts, blockID, actionID, query string) SuggestionPayload {
	s.mu.Lock()
	defer s.mu.Unlock()
	tr, _ := s.teamRefLocked(team)
	eph := false
	if m := s.findMessageLocked(channel, ts); m != nil {
		eph = m.Ephemeral
	}
	return SuggestionPayload{
		Type: "block_suggestion", Team: tr, User: s.userRefLocked(team, user), APIAppID: s.cfg.appID,
		Token: verificationToken, Container: map[string]any{"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": eph},
		ActionID: actionID, BlockID: blockID, Value: query,
	}
}

// Suggestions is a block_suggestion ack: options or option_groups, raw.
type Suggestions struct {
	Options      []json.RawMessage `json:"options"`
	OptionGroups []json.RawMessage `json:"option_groups"`
}

// Suggest sends p and waits for its ack, as Slack does before showing the
// menu. An ack without a payload is an empty menu.
func (s *Server) Suggest(ctx context.Context, p SuggestionPayload) (Suggestions, error) {
	id, err := s.Send(TypeInteractive, p)
	if err != nil {
		return Suggestions{}, err
	}
	ack, err := s.AwaitAck(ctx, id)
	if err != nil {
		return Suggestions{}, fmt.Errorf("suggest %s: %w", p.ActionID, err)
	}
	var out Suggestions
	if len(ack.Payload) > 0 && string(ack.Payload) != "null" {
		if err := json.Unmarshal(ack.Payload, &out); err != nil {
			return Suggestions{}, fmt.Errorf("suggest %s: ack payload: %w", p.ActionID, err)
		}
	}
	return out, nil
}

// Changed is closed at the next recorded change (call, ack, message, view,
// connection): a change feed for long polls that need no condition.
func (s *Server) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}
