package slackfake

import "encoding/json"

// applyAckLocked gives an ack payload the effect Slack gives it: a slash
// command's ack message is shown in the channel (ephemeral unless
// response_type is in_channel), and a view_submission's response_action
// changes the user's modal stack (empty ack closes the current view).
func (s *Server) applyAckLocked(env *envelope, payload json.RawMessage) {
	if string(payload) == "null" {
		payload = nil
	}
	switch env.Type {
	case TypeSlashCommands:
		if payload == nil {
			return
		}
		var cmd SlashCommandPayload
		var rb responseBody
		if json.Unmarshal(env.Payload, &cmd) != nil || json.Unmarshal(payload, &rb) != nil {
			return
		}
		if rb.Text == "" && (rb.Blocks == nil || string(rb.Blocks) == "null") {
			return
		}
		_, t := s.teamRefLocked(cmd.TeamID)
		m := &Message{Channel: cmd.ChannelID, Team: cmd.TeamID, User: t.BotUserID, Text: rb.Text,
			Blocks: nullToNil(rb.Blocks), Attachments: nullToNil(rb.Attachments), Source: "ack",
			Ephemeral: rb.ResponseType != "in_channel"}
		if m.Ephemeral {
			m.Recipient = cmd.UserID
		}
		m.TS = s.nextTSLocked()
		s.messages[m.Channel] = append(s.messages[m.Channel], m)
	case TypeInteractive:
		var p struct {
			Type string  `json:"type"`
			Team TeamRef `json:"team"`
			User UserRef `json:"user"`
		}
		if json.Unmarshal(env.Payload, &p) != nil || p.Type != "view_submission" {
			return
		}
		var resp struct {
			ResponseAction string                     `json:"response_action"`
			View           map[string]json.RawMessage `json:"view"`
		}
		if payload != nil && json.Unmarshal(payload, &resp) != nil {
			return
		}
		s.applyResponseActionLocked(p.Team.ID, p.User.ID, resp.ResponseAction, resp.View)
	}
}

func (s *Server) applyResponseActionLocked(teamID, user, action string, view map[string]json.RawMessage) {
	t, ok := s.teams[teamID]
	stack := s.stacks[user]
	switch action {
	case "errors":
		return
	case "clear":
		s.clearStackLocked(user)
	case "update":
		if !ok || len(stack) == 0 || view == nil {
			return
		}
		top := s.views[stack[len(stack)-1]]
		_, _ = s.storeViewLocked(t, user, view, top.ID, top.RootViewID, top.PreviousViewID)
	case "push":
		if !ok || view == nil || len(stack) >= maxViewStack {
			return
		}
		root, prev := "", ""
		if len(stack) > 0 {
			root, prev = stack[0], stack[len(stack)-1]
		}
		if v, aerr := s.storeViewLocked(t, user, view, "", root, prev); aerr == nil {
			s.stacks[user] = append(stack, v.ID)
		}
	default: // an empty ack closes the submitted (top) view
		if len(stack) == 0 {
			return
		}
		s.views[stack[len(stack)-1]].Closed = true
		if len(stack) == 1 {
			delete(s.stacks, user)
		} else {
			s.stacks[user] = stack[:len(stack)-1]
		}
	}
}

func nullToNil(r json.RawMessage) json.RawMessage {
	if string(r) == "null" {
		return nil
	}
	return r
}
