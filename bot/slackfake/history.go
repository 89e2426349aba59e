package slackfake

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// Message metadata (chat.postMessage's metadata argument), read back by
// conversations.history and conversations.replies with
// include_all_metadata=true, as Slack does. See testdata/conversations.*.json.

// Metadata is a message's metadata: {"event_type":…,"event_payload":{…}}.
type Metadata struct {
	EventType    string         `json:"event_type"`
	EventPayload map[string]any `json:"event_payload"`
}

// maxHistoryLimit is the largest limit conversations.history and
// conversations.replies honour; default is what they use when none is sent.
const (
	maxHistoryLimit     = 999
	defaultHistoryLimit = 100
)

// messageMetadata reads the metadata argument: a JSON object with an
// event_type string and an event_payload object.
func messageMetadata(r *request) (*Metadata, *apiError) {
	raw, err := r.rawField("metadata")
	if err != nil {
		return nil, errResp("invalid_metadata_format")
	}
	if raw == nil {
		return nil, nil
	}
	var md Metadata
	if json.Unmarshal(raw, &md) != nil {
		return nil, errResp("invalid_metadata_format")
	}
	if md.EventType == "" || md.EventPayload == nil {
		return nil, errResp("invalid_metadata_schema")
	}
	if len(raw) > 8000 {
		return nil, errResp("metadata_too_large")
	}
	return &md, nil
}

// historyScope is the scope reading a conversation's history needs.
func historyScope(ch string) string {
	switch {
	case strings.HasPrefix(ch, "D"):
		return "im:history"
	case strings.HasPrefix(ch, "G"):
		return "groups:history"
	}
	return "channels:history"
}

func (s *Server) checkHistoryScope(r *request, ch string) *apiError {
	need := historyScope(ch)
	if !slices.Contains(strings.Split(r.team.Scope, ","), need) {
		return &apiError{code: "missing_scope", extra: map[string]any{"needed": need, "provided": r.team.Scope}}
	}
	return nil
}

// tsAfter compares Slack timestamps ("1700000000.000123") numerically.
func tsLess(a, b string) bool {
	fa, _ := strconv.ParseFloat(a, 64)
	fb, _ := strconv.ParseFloat(b, 64)
	return fa < fb
}

// inRange applies oldest/latest (exclusive unless inclusive).
func inRange(ts, oldest, latest string, inclusive bool) bool {
	if oldest != "" && (tsLess(ts, oldest) || (!inclusive && ts == oldest)) {
		return false
	}
	if latest != "" && (tsLess(latest, ts) || (!inclusive && ts == latest)) {
		return false
	}
	return true
}

// page cuts msgs (already in answer order) at the cursor and the limit.
func page(r *request, msgs []*Message) ([]*Message, string, *apiError) {
	start := 0
	if c := r.get("cursor"); c != "" {
		b, err := base64.StdEncoding.DecodeString(c)
		n, cerr := strconv.Atoi(strings.TrimPrefix(string(b), "next_ts:"))
		if err != nil || cerr != nil || !strings.HasPrefix(string(b), "next_ts:") || n < 0 || n > len(msgs) {
			return nil, "", errResp("invalid_cursor")
		}
		start = n
	}
	limit := defaultHistoryLimit
	if l := r.get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return nil, "", errResp("invalid_limit")
		}
		limit = min(n, maxHistoryLimit)
	}
	end := min(start+limit, len(msgs))
	next := ""
	if end < len(msgs) {
		// Slack's cursors are opaque base64; this one holds an offset.
		next = base64.StdEncoding.EncodeToString([]byte("next_ts:" + strconv.Itoa(end)))
	}
	return msgs[start:end], next, nil
}

func (s *Server) listJSON(r *request, msgs []*Message) []map[string]any {
	withMeta := r.get("include_all_metadata") == "1" || r.get("include_all_metadata") == "true"
	out := make([]map[string]any, 0, len(msgs))
	for _, m := range msgs {
		j := s.messageJSON(m, r.team)
		if !withMeta {
			delete(j, "metadata")
		}
		out = append(out, j)
	}
	return out
}

// conversationsHistory answers the conversation's top-level messages (no
// thread replies), newest first.
func (s *Server) conversationsHistory(r *request) (map[string]any, *apiError) {
	ch, aerr := s.resolveChannelLocked(r.team, r.get("channel"))
	if aerr != nil {
		return nil, aerr
	}
	if aerr := s.checkHistoryScope(r, ch); aerr != nil {
		return nil, aerr
	}
	inclusive := r.get("inclusive") == "1" || r.get("inclusive") == "true"
	var msgs []*Message
	all := s.messages[ch]
	for i := len(all) - 1; i >= 0; i-- {
		m := all[i]
		if m.Deleted || m.Ephemeral || (m.ThreadTS != "" && m.ThreadTS != m.TS) || !inRange(m.TS, r.get("oldest"), r.get("latest"), inclusive) {
			continue
		}
		msgs = append(msgs, m)
	}
	got, next, aerr := page(r, msgs)
	if aerr != nil {
		return nil, aerr
	}
	return map[string]any{"messages": s.listJSON(r, got), "has_more": next != "", "pin_count": 0,
		"channel_actions_ts": nil, "channel_actions_count": 0, "response_metadata": map[string]any{"next_cursor": next}}, nil
}

// conversationsReplies answers a thread: its parent, then the replies oldest first.
func (s *Server) conversationsReplies(r *request) (map[string]any, *apiError) {
	ch, aerr := s.resolveChannelLocked(r.team, r.get("channel"))
	if aerr != nil {
		return nil, aerr
	}
	if aerr := s.checkHistoryScope(r, ch); aerr != nil {
		return nil, aerr
	}
	ts := r.get("ts")
	parent := s.findMessageLocked(ch, ts)
	if parent == nil || parent.Deleted || parent.Ephemeral {
		return nil, errResp("thread_not_found")
	}
	inclusive := r.get("inclusive") == "1" || r.get("inclusive") == "true"
	msgs := []*Message{parent}
	for _, m := range s.messages[ch] {
		if m.ThreadTS == ts && m.TS != ts && !m.Deleted && !m.Ephemeral && inRange(m.TS, r.get("oldest"), r.get("latest"), inclusive) {
			msgs = append(msgs, m)
		}
	}
	got, next, aerr := page(r, msgs)
	if aerr != nil {
		return nil, aerr
	}
	return map[string]any{"messages": s.listJSON(r, got), "has_more": next != "",
		"response_metadata": map[string]any{"next_cursor": next}}, nil
}

// DeliveryPosts counts chat.postMessage posts per metadata event_payload
// "key" of eventType (accessbot tags its notifications with
// "accessbot_delivery"): a key posted twice is a duplicate.
func (s *Server) DeliveryPosts(eventType string) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, list := range s.messages {
		for _, m := range list {
			if m.Source != "chat.postMessage" || m.Metadata == nil || m.Metadata.EventType != eventType {
				continue
			}
			if k, ok := m.Metadata.EventPayload["key"].(string); ok {
				out[k]++
			}
		}
	}
	return out
}
