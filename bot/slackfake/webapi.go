package slackfake

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
)

// request is a parsed Web API request.
type request struct {
	method string
	params url.Values
	raw    json.RawMessage
	body   map[string]json.RawMessage
	token  string
	kind   string
	basic  [2]string // client id, secret from HTTP Basic
	team   *Team     // resolved from a bot token; nil otherwise
}

// get returns a form/query parameter or a top-level JSON string field.
func (r *request) get(name string) string {
	if v := r.params.Get(name); v != "" {
		return v
	}
	if raw, ok := r.body[name]; ok {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	return ""
}

// has reports whether the parameter was sent at all.
func (r *request) has(name string) bool {
	if _, ok := r.params[name]; ok {
		return true
	}
	_, ok := r.body[name]
	return ok
}

// rawField returns a JSON-valued parameter: a JSON body field as is, or a
// form field holding JSON text (how slack-go sends blocks).
func (r *request) rawField(name string) (json.RawMessage, error) {
	if raw, ok := r.body[name]; ok {
		return raw, nil
	}
	v := r.params.Get(name)
	if v == "" {
		return nil, nil
	}
	if !json.Valid([]byte(v)) {
		return nil, fmt.Errorf("%s is not JSON", name)
	}
	return json.RawMessage(v), nil
}

// apiError is a Slack error answer (HTTP 200, ok:false).
type apiError struct {
	code  string
	extra map[string]any
}

func errResp(code string) *apiError { return &apiError{code: code} }

type handler func(r *request) (map[string]any, *apiError)

type route struct {
	auth string // TokenBot, TokenApp or TokenNone
	fn   handler
}

func (s *Server) routes() map[string]route {
	return map[string]route{
		"apps.connections.open":        {TokenApp, s.appsConnectionsOpen},
		"auth.test":                    {TokenBot, s.authTest},
		"chat.postMessage":             {TokenBot, s.chatPostMessage},
		"chat.update":                  {TokenBot, s.chatUpdate},
		"chat.postEphemeral":           {TokenBot, s.chatPostEphemeral},
		"chat.delete":                  {TokenBot, s.chatDelete},
		"views.open":                   {TokenBot, s.viewsOpen},
		"views.push":                   {TokenBot, s.viewsPush},
		"views.update":                 {TokenBot, s.viewsUpdate},
		"views.publish":                {TokenBot, s.viewsPublish},
		"users.info":                   {TokenBot, s.usersInfo},
		"users.lookupByEmail":          {TokenBot, s.usersLookupByEmail},
		"conversations.open":           {TokenBot, s.conversationsOpen},
		"conversations.history":        {TokenBot, s.conversationsHistory},
		"conversations.info":           {TokenBot, s.conversationsInfo},
		"conversations.replies":        {TokenBot, s.conversationsReplies},
		"oauth.v2.access":              {TokenNone, s.oauthV2Access},
		"files.getUploadURLExternal":   {TokenBot, s.filesGetUploadURLExternal},
		"files.completeUploadExternal": {TokenBot, s.filesCompleteUploadExternal},
	}
}

func (s *Server) serveAPI(w http.ResponseWriter, hr *http.Request) {
	method := strings.TrimPrefix(hr.URL.Path, "/api/")
	if d := s.answerDelay(method); d > 0 {
		rec := httptest.NewRecorder()
		s.serveAPINow(rec, hr, method)
		if !sleepCtx(hr.Context(), d) {
			return
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		return
	}
	s.serveAPINow(w, hr, method)
}

func (s *Server) serveAPINow(w http.ResponseWriter, hr *http.Request, method string) {
	req, perr := parseRequest(method, hr)
	f, failing, delay := s.takeFault(method)
	if !sleepCtx(hr.Context(), delay) {
		return
	}
	call := Call{Method: method, TokenKind: req.kind, Token: req.token, Params: req.params, JSON: req.raw}

	s.mu.Lock()
	defer s.mu.Unlock()
	call.Time = s.now()
	if id, ok := s.tokens[req.token]; ok {
		call.Team = id
	}
	if failing {
		call.Status, call.Error = writeFault(w, f)
		s.recordCallLocked(call)
		return
	}
	if wait, limited := s.rateLimitedLocked(method, call.Team); limited {
		call.Status, call.Error = writeRateLimited(w, wait)
		s.recordCallLocked(call)
		return
	}
	var (
		out  map[string]any
		aerr *apiError
	)
	rt, known := s.routes()[method]
	switch {
	case perr != nil:
		aerr = perr
	case !known:
		aerr = errResp("unknown_method")
	default:
		aerr = s.authenticateLocked(req, rt.auth)
		if aerr == nil {
			out, aerr = rt.fn(req)
		}
	}
	if aerr != nil {
		body := map[string]any{"ok": false, "error": aerr.code}
		for k, v := range aerr.extra {
			body[k] = v
		}
		writeJSON(w, http.StatusOK, body)
		call.Status, call.Error = http.StatusOK, aerr.code
	} else {
		out["ok"] = true
		writeJSON(w, http.StatusOK, out)
		call.Status = http.StatusOK
	}
	if req.team != nil {
		call.Team = req.team.ID
	}
	if t, ok := out["team"].(map[string]any); ok && method == "oauth.v2.access" {
		call.Team, _ = t["id"].(string)
	}
	s.recordCallLocked(call)
}

// parseRequest reads query, form or JSON input the way slack-go sends it.
func parseRequest(method string, hr *http.Request) (*request, *apiError) {
	req := &request{method: method, params: url.Values{}, kind: TokenNone}
	for k, v := range hr.URL.Query() {
		req.params[k] = v
	}
	if id, secret, ok := hr.BasicAuth(); ok {
		req.basic = [2]string{id, secret}
		req.kind = TokenBasic
	}
	if a := hr.Header.Get("Authorization"); strings.HasPrefix(a, "Bearer ") {
		req.token = strings.TrimPrefix(a, "Bearer ")
	}
	var perr *apiError
	if hr.Method == http.MethodPost {
		body, err := io.ReadAll(io.LimitReader(hr.Body, 4<<20))
		if err != nil {
			return req, errResp("request_timeout")
		}
		ct, _, _ := mime.ParseMediaType(hr.Header.Get("Content-Type"))
		switch {
		case ct == "application/json" && len(strings.TrimSpace(string(body))) > 0:
			req.raw = json.RawMessage(body)
			if err := json.Unmarshal(body, &req.body); err != nil {
				perr = errResp("invalid_json")
			}
		case len(body) > 0:
			form, err := url.ParseQuery(string(body))
			if err != nil {
				perr = errResp("invalid_form_data")
			}
			for k, v := range form {
				req.params[k] = append(req.params[k], v...)
			}
		}
	}
	if req.token == "" {
		req.token = req.get("token")
	}
	if req.token != "" {
		req.kind = tokenKind(req.token)
	}
	return req, perr
}

func tokenKind(tok string) string {
	switch {
	case strings.HasPrefix(tok, "xoxb-"):
		return TokenBot
	case strings.HasPrefix(tok, "xapp-"):
		return TokenApp
	case strings.HasPrefix(tok, "xoxp-"):
		return TokenUser
	default:
		return TokenOther
	}
}

func (s *Server) authenticateLocked(req *request, need string) *apiError {
	switch need {
	case TokenNone:
		return nil
	case TokenApp:
		if req.token == "" {
			return errResp("not_authed")
		}
		if s.revoked[req.token] {
			return errResp("token_revoked")
		}
		for _, t := range s.cfg.appTokens {
			if t == req.token {
				return nil
			}
		}
		if req.kind != TokenApp {
			return errResp("not_allowed_token_type")
		}
		return errResp("invalid_auth")
	}
	if req.token == "" {
		return errResp("not_authed")
	}
	if s.revoked[req.token] {
		return errResp("token_revoked")
	}
	id, ok := s.tokens[req.token]
	if !ok {
		return errResp("invalid_auth")
	}
	cp := *s.teams[id]
	req.team = &cp
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) appsConnectionsOpen(*request) (map[string]any, *apiError) {
	if s.closed {
		return nil, errResp("service_unavailable")
	}
	ticket := randHex(16)
	s.tickets[ticket] = true
	u := "ws" + strings.TrimPrefix(s.http.URL, "http") + "/link/?ticket=" + ticket + "&app_id=" + url.QueryEscape(s.cfg.appID)
	return map[string]any{"url": u}, nil
}

func (s *Server) authTest(r *request) (map[string]any, *apiError) {
	t := r.team
	out := map[string]any{
		"url":                   "https://" + t.Domain + ".slack.com/",
		"team":                  t.Name,
		"user":                  "accessbot",
		"team_id":               t.ID,
		"user_id":               t.BotUserID,
		"bot_id":                t.BotID,
		"is_enterprise_install": false,
	}
	if t.EnterpriseID != "" {
		out["enterprise_id"] = t.EnterpriseID
	}
	return out, nil
}

// userInTeamLocked returns the user if it exists and belongs to the team.
func (s *Server) userInTeamLocked(teamID, userID string) *User {
	u, ok := s.users[userID]
	if !ok || u.TeamID != teamID {
		return nil
	}
	return u
}

func (s *Server) userJSON(u *User, t *Team) map[string]any {
	tz := u.TZ
	if tz == "" {
		tz = "Europe/Berlin"
	}
	profile := map[string]any{
		"real_name":               u.RealName,
		"real_name_normalized":    u.RealName,
		"display_name":            u.Name,
		"display_name_normalized": u.Name,
		"team":                    u.TeamID,
		"title":                   "",
		"status_text":             "",
		"status_emoji":            "",
		"avatar_hash":             "g0000000000",
		"image_48":                "https://example.invalid/avatar48.png",
		"image_72":                "https://example.invalid/avatar72.png",
	}
	if u.Email != "" && !u.HideEmail && !t.NoEmailScope {
		profile["email"] = u.Email
	}
	return map[string]any{
		"id":                  u.ID,
		"team_id":             u.TeamID,
		"name":                u.Name,
		"deleted":             u.Deleted,
		"color":               "9f69e7",
		"real_name":           u.RealName,
		"tz":                  tz,
		"tz_label":            "Central European Time",
		"tz_offset":           3600,
		"profile":             profile,
		"is_admin":            u.IsAdmin,
		"is_owner":            false,
		"is_primary_owner":    false,
		"is_restricted":       false,
		"is_ultra_restricted": false,
		"is_bot":              u.IsBot,
		"is_app_user":         false,
		"updated":             s.now().Unix(),
		"is_email_confirmed":  u.Email != "",
	}
}

func (s *Server) usersInfo(r *request) (map[string]any, *apiError) {
	if list := r.get("users"); list != "" && r.get("user") == "" {
		var users []any
		for _, id := range strings.Split(list, ",") {
			u := s.userInTeamLocked(r.team.ID, strings.TrimSpace(id))
			if u == nil {
				return nil, errResp("user_not_found")
			}
			users = append(users, s.userJSON(u, r.team))
		}
		return map[string]any{"users": users}, nil
	}
	u := s.userInTeamLocked(r.team.ID, r.get("user"))
	if u == nil {
		return nil, errResp("user_not_found")
	}
	return map[string]any{"user": s.userJSON(u, r.team)}, nil
}

func (s *Server) usersLookupByEmail(r *request) (map[string]any, *apiError) {
	if r.team.NoEmailScope {
		return nil, &apiError{code: "missing_scope", extra: map[string]any{"needed": "users:read.email", "provided": r.team.Scope}}
	}
	email := r.get("email")
	if email == "" {
		return nil, errResp("invalid_arguments")
	}
	for _, u := range s.users {
		if u.TeamID == r.team.ID && !u.HideEmail && strings.EqualFold(u.Email, email) {
			return map[string]any{"user": s.userJSON(u, r.team)}, nil
		}
	}
	return nil, errResp("users_not_found")
}

func (s *Server) conversationsOpen(r *request) (map[string]any, *apiError) {
	users := r.get("users")
	if users == "" {
		ch := r.get("channel")
		if ch == "" {
			return nil, errResp("user_not_found")
		}
		return map[string]any{"channel": map[string]any{"id": ch}, "no_op": true, "already_open": true}, nil
	}
	ids := strings.Split(users, ",")
	for _, id := range ids {
		if s.userInTeamLocked(r.team.ID, strings.TrimSpace(id)) == nil {
			return nil, errResp("user_not_found")
		}
	}
	if len(ids) > 1 {
		return nil, errResp("not_supported_by_fake")
	}
	uid := strings.TrimSpace(ids[0])
	ch := DMChannel(uid)
	already := s.dmOpened[ch]
	s.dmOpened[ch] = true
	return map[string]any{
		"no_op":        already,
		"already_open": already,
		"channel": map[string]any{
			"id":                   ch,
			"created":              s.now().Unix(),
			"is_archived":          false,
			"is_im":                true,
			"is_org_shared":        false,
			"user":                 uid,
			"last_read":            "0000000000.000000",
			"unread_count":         0,
			"unread_count_display": 0,
			"is_open":              true,
			"priority":             0,
			"context_team_id":      r.team.ID,
			"updated":              s.now().UnixMilli(),
		},
	}, nil
}

// oauthCode is a pending authorization code from IssueOAuthCode.
type oauthCode struct {
	team, user, redirectURI string
	used                    bool
}

// IssueOAuthCode returns a one-time code that oauth.v2.access exchanges for
// teamID's bot token, as if user installed the app with redirectURI ("" if
// the authorize step sent none).
func (s *Server) IssueOAuthCode(teamID, userID, redirectURI string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.teams[teamID]; !ok {
		return "", fmt.Errorf("issue oauth code for %s: %w", teamID, ErrUnknownTeam)
	}
	code := fmt.Sprintf("%d.%s", s.now().Unix(), randHex(12))
	s.codes[code] = &oauthCode{team: teamID, user: userID, redirectURI: redirectURI}
	return code, nil
}

func (s *Server) oauthV2Access(r *request) (map[string]any, *apiError) {
	id, secret := r.basic[0], r.basic[1]
	if id == "" {
		id, secret = r.get("client_id"), r.get("client_secret")
	}
	switch {
	case id == "" || s.cfg.clientID == "" || id != s.cfg.clientID:
		return nil, errResp("invalid_client_id")
	case secret != s.cfg.clientSecret:
		return nil, errResp("bad_client_secret")
	}
	c, ok := s.codes[r.get("code")]
	if !ok || c.used {
		return nil, errResp("invalid_code")
	}
	if c.redirectURI != "" && r.get("redirect_uri") != c.redirectURI {
		return nil, errResp("bad_redirect_uri")
	}
	c.used = true
	t := s.teams[c.team]
	var enterprise any
	if t.EnterpriseID != "" {
		enterprise = map[string]any{"id": t.EnterpriseID, "name": "Enterprise " + t.EnterpriseID}
	}
	return map[string]any{
		"app_id":                s.cfg.appID,
		"authed_user":           map[string]any{"id": c.user},
		"scope":                 t.Scope,
		"token_type":            "bot",
		"access_token":          t.BotToken,
		"bot_user_id":           t.BotUserID,
		"team":                  map[string]any{"id": t.ID, "name": t.Name},
		"enterprise":            enterprise,
		"is_enterprise_install": false,
	}, nil
}
