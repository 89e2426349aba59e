package slackfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Limits the fake enforces the way Slack does.
const (
	maxMessageBlocks  = 50
	maxModalBlocks    = 100
	maxTextRunes      = 40000
	responseURLUses   = 5
	responseURLMaxAge = 30 * time.Minute
)

// resolveChannelLocked maps a user id to its DM (chat.postMessage accepts
// one) and refuses DMs of users from another team.
func (s *Server) resolveChannelLocked(team *Team, ch string) (string, *apiError) {
	if ch == "" {
		return "", errResp("channel_not_found")
	}
	if strings.HasPrefix(ch, "U") || strings.HasPrefix(ch, "W") {
		if s.userInTeamLocked(team.ID, ch) == nil {
			return "", errResp("channel_not_found")
		}
		return DMChannel(ch), nil
	}
	if strings.HasPrefix(ch, "D") && s.userInTeamLocked(team.ID, ch[1:]) == nil {
		return "", errResp("channel_not_found")
	}
	return ch, nil
}

// messageContent reads text, blocks and attachments and checks them.
func messageContent(r *request, m *Message) *apiError {
	blocks, err := r.rawField("blocks")
	if err != nil {
		return errResp("invalid_blocks_format")
	}
	atts, err := r.rawField("attachments")
	if err != nil {
		return errResp("invalid_attachments")
	}
	if r.has("text") {
		m.Text = r.get("text")
	}
	if blocks != nil {
		var list []json.RawMessage
		if json.Unmarshal(blocks, &list) != nil {
			return errResp("invalid_blocks_format")
		}
		if len(list) > maxMessageBlocks {
			return &apiError{code: "invalid_blocks", extra: map[string]any{
				"errors": []string{fmt.Sprintf("must provide an array of at most %d blocks", maxMessageBlocks)}}}
		}
		m.Blocks = blocks
	}
	if atts != nil {
		m.Attachments = atts
	}
	if r := []rune(m.Text); len(r) > maxTextRunes {
		m.Text = string(r[:maxTextRunes])
	}
	return nil
}

func (s *Server) messageJSON(m *Message, t *Team) map[string]any {
	out := map[string]any{
		"type":   "message",
		"text":   m.Text,
		"user":   m.User,
		"ts":     m.TS,
		"team":   m.Team,
		"bot_id": t.BotID,
		"app_id": s.cfg.appID,
		"bot_profile": map[string]any{
			"id": t.BotID, "deleted": false, "name": "accessbot", "updated": s.now().Unix(),
			"app_id": s.cfg.appID, "team_id": t.ID, "user_id": t.BotUserID,
		},
	}
	if m.Blocks != nil {
		out["blocks"] = m.Blocks
	}
	if m.Attachments != nil {
		out["attachments"] = m.Attachments
	}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	if m.Metadata != nil {
		out["metadata"] = m.Metadata
	}
	return out
}

func (s *Server) chatPostMessage(r *request) (map[string]any, *apiError) {
	ch, aerr := s.resolveChannelLocked(r.team, r.get("channel"))
	if aerr != nil {
		return nil, aerr
	}
	// A channel made known with AddChannel answers as Slack does a bot
	// (without chat:write.public) that is not in it: a private one is
	// invisible, a public one not_in_channel.
	if c := s.channels[ch]; c != nil && !c.BotMember {
		if c.Private || c.TeamID != r.team.ID {
			return nil, errResp("channel_not_found")
		}
		return nil, errResp("not_in_channel")
	}
	m := &Message{Channel: ch, Team: r.team.ID, User: r.team.BotUserID, ThreadTS: r.get("thread_ts"), Source: "chat.postMessage"}
	if aerr := messageContent(r, m); aerr != nil {
		return nil, aerr
	}
	if m.Text == "" && m.Blocks == nil && m.Attachments == nil {
		return nil, errResp("no_text")
	}
	md, aerr := messageMetadata(r)
	if aerr != nil {
		return nil, aerr
	}
	m.Metadata = md
	m.TS = s.nextTSLocked()
	s.messages[ch] = append(s.messages[ch], m)
	return map[string]any{"channel": ch, "ts": m.TS, "message": s.messageJSON(m, r.team)}, nil
}

func (s *Server) chatUpdate(r *request) (map[string]any, *apiError) {
	ch, aerr := s.resolveChannelLocked(r.team, r.get("channel"))
	if aerr != nil {
		return nil, aerr
	}
	m := s.findMessageLocked(ch, r.get("ts"))
	if m == nil || m.Deleted || m.Ephemeral {
		return nil, errResp("message_not_found")
	}
	if m.Team != r.team.ID {
		return nil, errResp("cant_update_message")
	}
	next := *m
	if aerr := messageContent(r, &next); aerr != nil {
		return nil, aerr
	}
	next.Edits++
	*m = next
	msg := s.messageJSON(m, r.team)
	delete(msg, "ts") // chat.update's message object carries no ts
	msg["edited"] = map[string]any{"user": r.team.BotUserID, "ts": s.nextTSLocked()}
	return map[string]any{"channel": ch, "ts": m.TS, "text": m.Text, "message": msg}, nil
}

func (s *Server) chatPostEphemeral(r *request) (map[string]any, *apiError) {
	ch, aerr := s.resolveChannelLocked(r.team, r.get("channel"))
	if aerr != nil {
		return nil, aerr
	}
	if s.userInTeamLocked(r.team.ID, r.get("user")) == nil {
		return nil, errResp("user_not_in_channel")
	}
	m := &Message{Channel: ch, Team: r.team.ID, User: r.team.BotUserID, ThreadTS: r.get("thread_ts"),
		Ephemeral: true, Recipient: r.get("user"), Source: "chat.postEphemeral"}
	if aerr := messageContent(r, m); aerr != nil {
		return nil, aerr
	}
	if m.Text == "" && m.Blocks == nil && m.Attachments == nil {
		return nil, errResp("no_text")
	}
	m.TS = s.nextTSLocked()
	s.messages[ch] = append(s.messages[ch], m)
	return map[string]any{"message_ts": m.TS}, nil
}

func (s *Server) chatDelete(r *request) (map[string]any, *apiError) {
	ch, aerr := s.resolveChannelLocked(r.team, r.get("channel"))
	if aerr != nil {
		return nil, aerr
	}
	m := s.findMessageLocked(ch, r.get("ts"))
	if m == nil || m.Deleted || m.Ephemeral {
		return nil, errResp("message_not_found")
	}
	if m.Team != r.team.ID {
		return nil, errResp("cant_delete_message")
	}
	m.Deleted = true
	return map[string]any{"channel": ch, "ts": m.TS}, nil
}

// responseURL is a response_url the fake handed out in a payload.
type responseURL struct {
	team, user, channel string
	messageTS           string // the message a block action came from
	issued              time.Time
	uses                int
}

// newResponseURLLocked hands out a response_url on this server.
func (s *Server) newResponseURLLocked(team, user, channel, messageTS string) string {
	id := randHex(12)
	s.responses[id] = &responseURL{team: team, user: user, channel: channel, messageTS: messageTS, issued: s.now()}
	return s.http.URL + "/response/" + id
}

// responseBody is what slack-go posts to a response_url.
type responseBody struct {
	Text            string          `json:"text"`
	Blocks          json.RawMessage `json:"blocks"`
	Attachments     json.RawMessage `json:"attachments"`
	ResponseType    string          `json:"response_type"`
	ReplaceOriginal bool            `json:"replace_original"`
	DeleteOriginal  bool            `json:"delete_original"`
	ThreadTS        string          `json:"thread_ts"`
}

func (s *Server) serveResponseURL(w http.ResponseWriter, hr *http.Request) {
	const method = "response_url"
	id := strings.TrimPrefix(hr.URL.Path, "/response/")
	body, _ := io.ReadAll(io.LimitReader(hr.Body, 4<<20))
	f, failing, delay := s.takeFault(method)
	if !sleepCtx(hr.Context(), delay) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	call := Call{Method: method, TokenKind: TokenNone, JSON: json.RawMessage(body), Time: s.now()}
	defer func() { s.recordCallLocked(call) }()
	if failing {
		call.Status, call.Error = writeFault(w, f)
		return
	}
	fail := func(status int, code string) {
		writeJSON(w, status, map[string]any{"ok": false, "error": code})
		call.Status, call.Error = status, code
	}
	ru, ok := s.responses[id]
	if !ok || hr.Method != http.MethodPost {
		fail(http.StatusNotFound, "no_service")
		return
	}
	call.Team = ru.team
	// Which message the URL answers for, so a test can tell a replace of
	// the clicked message from a new one.
	call.Params = url.Values{"channel": {ru.channel}}
	if ru.messageTS != "" {
		call.Params.Set("ts", ru.messageTS)
	}
	if ru.uses >= responseURLUses || s.now().Sub(ru.issued) > responseURLMaxAge {
		fail(http.StatusNotFound, "expired_url")
		return
	}
	var rb responseBody
	if err := json.Unmarshal(body, &rb); err != nil {
		fail(http.StatusBadRequest, "invalid_payload")
		return
	}
	var list []json.RawMessage
	if rb.Blocks != nil && string(rb.Blocks) != "null" && (json.Unmarshal(rb.Blocks, &list) != nil || len(list) > maxMessageBlocks) {
		fail(http.StatusOK, "invalid_blocks")
		return
	}
	if string(rb.Blocks) == "null" {
		rb.Blocks = nil
	}
	if string(rb.Attachments) == "null" {
		rb.Attachments = nil
	}
	ru.uses++
	t := s.teams[ru.team]
	orig := s.findMessageLocked(ru.channel, ru.messageTS)
	switch {
	case rb.DeleteOriginal && orig != nil:
		orig.Deleted = true
	case rb.ReplaceOriginal && orig != nil:
		orig.Text, orig.Blocks, orig.Attachments = rb.Text, rb.Blocks, rb.Attachments
		orig.Edits++
	default:
		m := &Message{Channel: ru.channel, Team: ru.team, User: t.BotUserID, ThreadTS: rb.ThreadTS,
			Text: rb.Text, Blocks: rb.Blocks, Attachments: rb.Attachments, Source: method,
			Ephemeral: rb.ResponseType != "in_channel"}
		if m.Ephemeral {
			m.Recipient = ru.user
		}
		m.TS = s.nextTSLocked()
		s.messages[ru.channel] = append(s.messages[ru.channel], m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	call.Status = http.StatusOK
}
