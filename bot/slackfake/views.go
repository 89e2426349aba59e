package slackfake

import (
	"encoding/json"
	"fmt"
	"time"
)

// maxViewStack is Slack's limit of stacked modals.
const maxViewStack = 3

// trigger is a trigger_id handed out in a payload.
type trigger struct {
	team, user string
	issued     time.Time
	used       bool
}

// NewTriggerID hands out a trigger_id for user in team, as Slack does in
// interactive payloads. Payload builders call it for you.
func (s *Server) NewTriggerID(team, user string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newTriggerLocked(team, user)
}

func (s *Server) newTriggerLocked(team, user string) string {
	s.seq++
	id := fmt.Sprintf("%d.%d.%s", s.now().Unix(), s.seq, randHex(16))
	s.triggers[id] = &trigger{team: team, user: user, issued: s.now()}
	return id
}

// useTriggerLocked consumes a trigger_id, returning the user it belongs to.
func (s *Server) useTriggerLocked(team *Team, id string) (string, *apiError) {
	t, ok := s.triggers[id]
	if !ok || t.team != team.ID {
		return "", errResp("invalid_trigger_id")
	}
	if t.used {
		return "", errResp("exchanged_trigger_id")
	}
	if s.cfg.triggerTTL > 0 && s.now().Sub(t.issued) > s.cfg.triggerTTL {
		return "", errResp("expired_trigger_id")
	}
	t.used = true
	return t.user, nil
}

// viewInput decodes the "view" argument (JSON object, or JSON text in a form).
func viewInput(r *request, wantType string) (map[string]json.RawMessage, *apiError) {
	raw, err := r.rawField("view")
	if err != nil || raw == nil {
		return nil, &apiError{code: "invalid_arguments", extra: map[string]any{
			"response_metadata": map[string]any{"messages": []string{"[ERROR] missing required field: view"}}}}
	}
	var v map[string]json.RawMessage
	if json.Unmarshal(raw, &v) != nil {
		return nil, errResp("invalid_arguments")
	}
	var typ string
	_ = json.Unmarshal(v["type"], &typ)
	if typ != wantType {
		return nil, &apiError{code: "invalid_arguments", extra: map[string]any{
			"response_metadata": map[string]any{"messages": []string{fmt.Sprintf("[ERROR] view type must be %s", wantType)}}}}
	}
	if b, ok := v["blocks"]; ok {
		var list []json.RawMessage
		if json.Unmarshal(b, &list) != nil || len(list) > maxModalBlocks {
			return nil, &apiError{code: "invalid_arguments", extra: map[string]any{
				"response_metadata": map[string]any{"messages": []string{
					fmt.Sprintf("[ERROR] must provide an array of at most %d blocks [json-pointer:/view/blocks]", maxModalBlocks)}}}}
		}
	}
	return v, nil
}

func stringField(v map[string]json.RawMessage, name string) string {
	var s string
	_ = json.Unmarshal(v[name], &s)
	return s
}

// storeViewLocked builds the answered view object and stores it.
func (s *Server) storeViewLocked(team *Team, user string, in map[string]json.RawMessage, id, root, prev string) (*View, *apiError) {
	ext := stringField(in, "external_id")
	if ext != "" {
		for _, v := range s.views {
			if v.Team == team.ID && v.ExternalID == ext && v.ID != id && !v.Closed {
				return nil, errResp("duplicate_external_id")
			}
		}
	}
	if id == "" {
		s.seq++
		id = fmt.Sprintf("V%08d%s", s.seq, randHex(2))
	}
	if root == "" {
		root = id
	}
	hash := fmt.Sprintf("%d.%s", s.now().Unix(), randHex(4))
	out := map[string]any{
		"blocks":           []any{},
		"private_metadata": "",
		"callback_id":      "",
		"external_id":      "",
		"clear_on_close":   false,
		"notify_on_close":  false,
		"submit_disabled":  false,
	}
	for k, v := range in {
		out[k] = v
	}
	out["id"] = id
	out["team_id"] = team.ID
	out["state"] = map[string]any{"values": map[string]any{}}
	out["hash"] = hash
	out["root_view_id"] = root
	out["previous_view_id"] = nil
	if prev != "" {
		out["previous_view_id"] = prev
	}
	out["app_id"] = s.cfg.appID
	out["app_installed_team_id"] = team.ID
	out["bot_id"] = team.BotID
	js, _ := json.Marshal(out)
	v := &View{
		ID: id, Team: team.ID, User: user, Type: stringField(in, "type"),
		CallbackID: stringField(in, "callback_id"), ExternalID: ext, Hash: hash,
		RootViewID: root, PreviousViewID: prev, JSON: js,
	}
	s.views[id] = v
	return v, nil
}

func (s *Server) viewsOpen(r *request) (map[string]any, *apiError) {
	in, aerr := viewInput(r, "modal")
	if aerr != nil {
		return nil, aerr
	}
	user, aerr := s.useTriggerLocked(r.team, r.get("trigger_id"))
	if aerr != nil {
		return nil, aerr
	}
	v, aerr := s.storeViewLocked(r.team, user, in, "", "", "")
	if aerr != nil {
		return nil, aerr
	}
	s.clearStackLocked(user)
	s.stacks[user] = []string{v.ID}
	return map[string]any{"view": v.JSON}, nil
}

func (s *Server) viewsPush(r *request) (map[string]any, *apiError) {
	in, aerr := viewInput(r, "modal")
	if aerr != nil {
		return nil, aerr
	}
	user, aerr := s.useTriggerLocked(r.team, r.get("trigger_id"))
	if aerr != nil {
		return nil, aerr
	}
	stack := s.stacks[user]
	if len(stack) >= maxViewStack {
		return nil, errResp("push_limit_reached")
	}
	root, prev := "", ""
	if len(stack) > 0 {
		root, prev = stack[0], stack[len(stack)-1]
	}
	v, aerr := s.storeViewLocked(r.team, user, in, "", root, prev)
	if aerr != nil {
		return nil, aerr
	}
	s.stacks[user] = append(stack, v.ID)
	return map[string]any{"view": v.JSON}, nil
}

func (s *Server) viewsUpdate(r *request) (map[string]any, *apiError) {
	var cur *View
	if id := r.get("view_id"); id != "" {
		cur = s.views[id]
	} else if ext := r.get("external_id"); ext != "" {
		for _, v := range s.views {
			if v.Team == r.team.ID && v.ExternalID == ext && !v.Closed {
				cur = v
			}
		}
	} else {
		return nil, errResp("invalid_arguments")
	}
	if cur == nil || cur.Closed || cur.Team != r.team.ID {
		return nil, errResp("not_found")
	}
	in, aerr := viewInput(r, cur.Type)
	if aerr != nil {
		return nil, aerr
	}
	if h := r.get("hash"); h != "" && h != cur.Hash {
		return nil, errResp("hash_conflict")
	}
	v, aerr := s.storeViewLocked(r.team, cur.User, in, cur.ID, cur.RootViewID, cur.PreviousViewID)
	if aerr != nil {
		return nil, aerr
	}
	return map[string]any{"view": v.JSON}, nil
}

func (s *Server) viewsPublish(r *request) (map[string]any, *apiError) {
	user := r.get("user_id")
	if s.userInTeamLocked(r.team.ID, user) == nil {
		return nil, errResp("user_not_found")
	}
	in, aerr := viewInput(r, "home")
	if aerr != nil {
		return nil, aerr
	}
	id := s.homes[user]
	if id != "" {
		if h := r.get("hash"); h != "" && h != s.views[id].Hash {
			return nil, errResp("hash_conflict")
		}
	}
	v, aerr := s.storeViewLocked(r.team, user, in, id, "", "")
	if aerr != nil {
		return nil, aerr
	}
	s.homes[user] = v.ID
	return map[string]any{"view": v.JSON}, nil
}
