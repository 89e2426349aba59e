package slackfake

import (
	"encoding/json"
	"fmt"
	"strings"
)

// verificationToken is the deprecated token Slack still puts in payloads.
const verificationToken = "fakeVerificationToken"

// SlashCommandPayload is a slash_commands envelope payload (field names as in
// Slack's SlashCommandPayload sample).
type SlashCommandPayload struct {
	Token               string `json:"token"`
	APIAppID            string `json:"api_app_id"`
	TeamID              string `json:"team_id"`
	TeamDomain          string `json:"team_domain"`
	EnterpriseID        string `json:"enterprise_id,omitempty"`
	EnterpriseName      string `json:"enterprise_name,omitempty"`
	ChannelID           string `json:"channel_id"`
	ChannelName         string `json:"channel_name"`
	UserID              string `json:"user_id"`
	UserName            string `json:"user_name"`
	Command             string `json:"command"`
	Text                string `json:"text"`
	ResponseURL         string `json:"response_url"`
	TriggerID           string `json:"trigger_id"`
	IsEnterpriseInstall bool   `json:"is_enterprise_install"`
}

// TeamRef, UserRef, ChannelRef and EnterpriseRef are the small objects of
// interactive payloads.
type TeamRef struct {
	ID           string `json:"id"`
	Domain       string `json:"domain"`
	EnterpriseID string `json:"enterprise_id,omitempty"`
}

type UserRef struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Name     string `json:"name"`
	TeamID   string `json:"team_id"`
}

type ChannelRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type EnterpriseRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Action describes one element interaction in a block_actions payload.
// Type defaults to "button"; for single selects, radio_buttons and overflow Value
// becomes the selected_option, for multi selects and checkboxes the one
// entry of selected_options (see selections.go for more).
type Action struct {
	ActionID string
	BlockID  string
	Type     string
	Value    string
	Text     string
}

func (a Action) json(ts string) map[string]any {
	typ := a.Type
	if typ == "" {
		typ = "button"
	}
	block := a.BlockID
	if block == "" {
		block = "b-" + a.ActionID
	}
	out := map[string]any{"action_id": a.ActionID, "block_id": block, "type": typ, "action_ts": ts}
	switch typ {
	case "static_select", "external_select", "radio_buttons", "overflow":
		out["selected_option"] = Choice{Value: a.Value, Text: a.Text}.option()
	case "multi_static_select", "multi_external_select", "checkboxes":
		out["selected_options"] = []map[string]any{Choice{Value: a.Value, Text: a.Text}.option()}
	case "users_select":
		out["selected_user"] = a.Value
	default:
		out["value"] = a.Value
		out["text"] = map[string]any{"type": "plain_text", "text": a.Text, "emoji": true}
	}
	return out
}

// InteractionPayload is an interactive envelope payload: block_actions,
// view_submission or view_closed (field names as in Slack's samples).
type InteractionPayload struct {
	Type                string           `json:"type"`
	Team                TeamRef          `json:"team"`
	User                UserRef          `json:"user"`
	APIAppID            string           `json:"api_app_id"`
	Token               string           `json:"token"`
	Container           map[string]any   `json:"container,omitempty"`
	TriggerID           string           `json:"trigger_id,omitempty"`
	Channel             *ChannelRef      `json:"channel,omitempty"`
	Message             json.RawMessage  `json:"message,omitempty"`
	ResponseURL         string           `json:"response_url,omitempty"`
	View                json.RawMessage  `json:"view,omitempty"`
	Actions             []map[string]any `json:"actions,omitempty"`
	Enterprise          *EnterpriseRef   `json:"enterprise"`
	IsEnterpriseInstall bool             `json:"is_enterprise_install"`
	IsCleared           *bool            `json:"is_cleared,omitempty"`
}

// Authorization is one entry of an event's authorizations list.
type Authorization struct {
	EnterpriseID        *string `json:"enterprise_id"`
	TeamID              string  `json:"team_id"`
	UserID              string  `json:"user_id"`
	IsBot               bool    `json:"is_bot"`
	IsEnterpriseInstall bool    `json:"is_enterprise_install"`
}

// EventPayload is an events_api envelope payload (an event_callback).
type EventPayload struct {
	Token              string          `json:"token"`
	TeamID             string          `json:"team_id"`
	EnterpriseID       *string         `json:"enterprise_id,omitempty"`
	APIAppID           string          `json:"api_app_id"`
	Type               string          `json:"type"`
	Event              map[string]any  `json:"event"`
	EventID            string          `json:"event_id"`
	EventTime          int64           `json:"event_time"`
	Authorizations     []Authorization `json:"authorizations"`
	IsExtSharedChannel bool            `json:"is_ext_shared_channel"`
	EventContext       string          `json:"event_context"`
}

// teamRefLocked describes a team, tolerating ids the fake does not host (to
// simulate payloads from an unlinked workspace).
func (s *Server) teamRefLocked(teamID string) (TeamRef, *Team) {
	t, ok := s.teams[teamID]
	if !ok {
		return TeamRef{ID: teamID, Domain: strings.ToLower(teamID)}, &Team{ID: teamID}
	}
	return TeamRef{ID: t.ID, Domain: t.Domain, EnterpriseID: t.EnterpriseID}, t
}

func (s *Server) userRefLocked(teamID, userID string) UserRef {
	name := strings.ToLower(userID)
	if u, ok := s.users[userID]; ok {
		name = u.Name
	}
	return UserRef{ID: userID, Username: name, Name: name, TeamID: teamID}
}

// SlashCommand builds a "/access <text>" invocation by user in team, from
// the user's DM with the bot. It carries a fresh trigger_id and
// response_url; change Command or ChannelID before sending if needed.
func (s *Server) SlashCommand(team, user, text string) SlashCommandPayload {
	s.mu.Lock()
	defer s.mu.Unlock()
	tr, _ := s.teamRefLocked(team)
	ur := s.userRefLocked(team, user)
	ch := DMChannel(user)
	return SlashCommandPayload{
		Token: verificationToken, APIAppID: s.cfg.appID, TeamID: team, TeamDomain: tr.Domain,
		EnterpriseID: tr.EnterpriseID, ChannelID: ch, ChannelName: "directmessage",
		UserID: user, UserName: ur.Username, Command: "/access", Text: text,
		ResponseURL: s.newResponseURLLocked(team, user, ch, ""),
		TriggerID:   s.newTriggerLocked(team, user),
	}
}

func (s *Server) interactionLocked(typ, team, user string) InteractionPayload {
	tr, _ := s.teamRefLocked(team)
	return InteractionPayload{
		Type: typ, Team: tr, User: s.userRefLocked(team, user), APIAppID: s.cfg.appID,
		Token: verificationToken, TriggerID: s.newTriggerLocked(team, user),
	}
}

func (s *Server) actionTSLocked() string {
	s.seq++
	return fmt.Sprintf("%d.%06d", s.now().Unix(), s.seq%1000000)
}

// BlockAction builds a block_actions payload with no message or view
// context (container type "message" with the user's DM).
func (s *Server) BlockAction(team, user string, actions ...Action) InteractionPayload {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.interactionLocked("block_actions", team, user)
	ch := DMChannel(user)
	p.Container = map[string]any{"type": "message", "channel_id": ch, "is_ephemeral": false}
	p.Channel = &ChannelRef{ID: ch, Name: "directmessage"}
	p.ResponseURL = s.newResponseURLLocked(team, user, ch, "")
	ts := s.actionTSLocked()
	for _, a := range actions {
		p.Actions = append(p.Actions, a.json(ts))
	}
	return p
}

// BlockActionOnMessage builds a block_actions payload for a click on the
// message (channel, ts) the fake holds: container, channel and message are
// filled from its current state, and the response_url can replace or delete
// that message.
func (s *Server) BlockActionOnMessage(team, user, channel, ts string, actions ...Action) InteractionPayload {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.interactionLocked("block_actions", team, user)
	p.Container = map[string]any{"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": false}
	p.Channel = &ChannelRef{ID: channel, Name: channel}
	if m := s.findMessageLocked(channel, ts); m != nil {
		p.Container["is_ephemeral"] = m.Ephemeral
		_, t := s.teamRefLocked(m.Team)
		p.Message, _ = json.Marshal(s.messageJSON(m, t))
	}
	p.ResponseURL = s.newResponseURLLocked(team, user, channel, ts)
	at := s.actionTSLocked()
	for _, a := range actions {
		p.Actions = append(p.Actions, a.json(at))
	}
	return p
}

// BlockActionInView builds a block_actions payload for a click inside a view
// (modal or Home tab) the fake holds.
func (s *Server) BlockActionInView(team, user, viewID string, actions ...Action) InteractionPayload {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.interactionLocked("block_actions", team, user)
	p.Container = map[string]any{"type": "view", "view_id": viewID}
	if v, ok := s.views[viewID]; ok {
		p.View = v.JSON
	}
	at := s.actionTSLocked()
	for _, a := range actions {
		p.Actions = append(p.Actions, a.json(at))
	}
	return p
}

// StateValue is one input's value in view.state.values.
type StateValue map[string]any

// PlainTextValue, StaticSelectValue, UsersSelectValue and DateValue build
// state values in Slack's shape.
func PlainTextValue(v string) StateValue {
	return StateValue{"type": "plain_text_input", "value": v}
}

func StaticSelectValue(value, text string) StateValue {
	return StateValue{"type": "static_select", "selected_option": map[string]any{
		"text": map[string]any{"type": "plain_text", "text": text, "emoji": true}, "value": value}}
}

func UsersSelectValue(userID string) StateValue {
	return StateValue{"type": "users_select", "selected_user": userID}
}

func DateValue(date string) StateValue {
	return StateValue{"type": "datepicker", "selected_date": date}
}

// ViewSubmission builds a view_submission for the user's view viewID ("" =
// the top of the user's modal stack) with state values keyed block_id ->
// action_id. An unknown view yields a minimal view object with that id.
func (s *Server) ViewSubmission(team, user, viewID string, values map[string]map[string]StateValue) InteractionPayload {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.interactionLocked("view_submission", team, user)
	p.View = s.viewWithStateLocked(team, user, viewID, values)
	return p
}

// ViewClosed builds a view_closed payload for the user's view viewID.
func (s *Server) ViewClosed(team, user, viewID string) InteractionPayload {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.interactionLocked("view_closed", team, user)
	p.TriggerID = ""
	p.View = s.viewWithStateLocked(team, user, viewID, nil)
	cleared := false
	p.IsCleared = &cleared
	return p
}

func (s *Server) viewWithStateLocked(team, user, viewID string, values map[string]map[string]StateValue) json.RawMessage {
	if viewID == "" {
		if st := s.stacks[user]; len(st) > 0 {
			viewID = st[len(st)-1]
		}
	}
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

// EventCallback builds an event_callback of eventType for team. event holds
// the inner event's fields; type and event_ts are filled when missing. Each
// call has a fresh event_id.
func (s *Server) EventCallback(eventType, team string, event map[string]any) EventPayload {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.eventLocked(eventType, team, event)
}

func (s *Server) eventLocked(eventType, team string, event map[string]any) EventPayload {
	_, t := s.teamRefLocked(team)
	ev := map[string]any{}
	for k, v := range event {
		ev[k] = v
	}
	ev["type"] = eventType
	if _, ok := ev["event_ts"]; !ok {
		ev["event_ts"] = s.actionTSLocked()
	}
	var ent *string
	if t.EnterpriseID != "" {
		e := t.EnterpriseID
		ent = &e
	}
	return EventPayload{
		Token: verificationToken, TeamID: team, EnterpriseID: ent, APIAppID: s.cfg.appID,
		Type: "event_callback", Event: ev,
		EventID:        "Ev" + strings.ToUpper(randHex(5)),
		EventTime:      s.now().Unix(),
		Authorizations: []Authorization{{EnterpriseID: ent, TeamID: team, UserID: t.BotUserID, IsBot: true}},
		EventContext:   "4-" + randHex(16),
	}
}

// AppHomeOpened builds the app_home_opened event for user's Home tab,
// carrying the currently published view if any.
func (s *Server) AppHomeOpened(team, user string) EventPayload {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := map[string]any{"user": user, "channel": DMChannel(user), "tab": "home"}
	if id, ok := s.homes[user]; ok {
		ev["view"] = s.views[id].JSON
	}
	return s.eventLocked("app_home_opened", team, ev)
}

// UserChange builds a user_change event carrying the user's current profile
// (as users.info would show it).
func (s *Server) UserChange(team, user string) EventPayload {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := map[string]any{"user": map[string]any{"id": user, "team_id": team}, "cache_ts": s.now().Unix()}
	if u, ok := s.users[user]; ok {
		_, t := s.teamRefLocked(team)
		ev["user"] = s.userJSON(u, t)
	}
	p := s.eventLocked("user_change", team, ev)
	delete(p.Event, "event_ts") // Slack's user_change sample has none
	return p
}

// AppMention builds an app_mention event in channel.
func (s *Server) AppMention(team, user, channel, text string) EventPayload {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := s.nextTSLocked()
	return s.eventLocked("app_mention", team, map[string]any{
		"user": user, "text": text, "ts": ts, "channel": channel, "team": team, "event_ts": ts})
}
