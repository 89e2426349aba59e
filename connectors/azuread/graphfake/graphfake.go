// Package graphfake is a Microsoft Graph v1.0 and Entra ID token endpoint
// for tests and the playground. It answers in Graph's documented shapes
// (connectors/azuread/testdata/graph-shapes.json names the sources): users,
// groups and directory roles with @odata.nextLink paging; /users/delta and
// /groups/delta (members@delta, @removed) ending with @odata.deltaLink; 410
// syncStateNotFound for an expired delta token; 429 with Retry-After;
// $batch of at most 20; 400 "already exist" on adding a member that is
// there and 404 on removing one that is not.
package graphfake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// User is a stored user.
type User struct {
	ID, DisplayName, Mail, UPN string
	AccountEnabled             bool
	LeaveDate                  *time.Time
	ver                        int64
	deleted                    bool
}

// Group is a stored group.
type Group struct {
	ID, DisplayName, MailNickname, Description string
	ver                                        int64
	deleted                                    bool
	members                                    map[string]bool
}

// Role is a stored, activated directory role.
type Role struct {
	ID, DisplayName, TemplateID string
	members                     map[string]bool
}

type memberChange struct {
	ver         int64
	group, user string
}

// Server is a running fake. Its methods change the directory "outside
// accessbot", as an admin in the Entra portal would.
type Server struct {
	srv *httptest.Server

	TenantID, ClientID, ClientSecret string
	// Roles is the token's roles claim: the granted application permissions.
	Roles []string
	// PageSize is $top when a request gives none (Graph's default is 100).
	PageSize int

	mu          sync.Mutex
	ver         int64
	users       map[string]*User
	groups      map[string]*Group
	roles       map[string]*Role
	changes     []memberChange // membership changes, in version order
	expiredUpTo int64          // delta tokens at or below this are gone
	throttle    []time.Duration
	lose        int // changing requests to apply and then answer 500
	nextID      int
	Requests    map[string]int // "GET /users/delta" -> count
	Tokens      int            // tokens issued
	Batches     []int          // sizes of the $batch requests served
}

// New starts a fake. Close it when done.
func New() *Server {
	s := &Server{
		TenantID: "11111111-2222-3333-4444-555555555555", ClientID: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", ClientSecret: "fake-secret",
		PageSize: 100,
		users:    map[string]*User{}, groups: map[string]*Group{}, roles: map[string]*Role{}, Requests: map[string]int{},
		Roles: []string{"User.Read.All", "Group.Read.All", "Directory.Read.All", "RoleManagement.Read.All", "AuditLog.Read.All",
			"AdministrativeUnit.Read.All", "Application.Read.All", "User.ReadWrite.All", "Group.ReadWrite.All", "RoleManagement.ReadWrite.Directory"},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the authority URL (the token endpoint lives under it).
func (s *Server) URL() string { return s.srv.URL }

// GraphURL is the Graph base URL, ".../v1.0".
func (s *Server) GraphURL() string { return s.srv.URL + "/v1.0" }

func (s *Server) Close() { s.srv.Close() }

// NewID returns a fresh object id (a GUID-shaped string).
func (s *Server) NewID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newID()
}

func (s *Server) newID() string {
	s.nextID++
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", s.nextID, s.nextID)
}

func (s *Server) bump() int64 { s.ver++; return s.ver }

// PutUser creates or replaces a user (id "" makes one) and returns its id.
func (s *Server) PutUser(u User) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.putUser(u)
}

func (s *Server) putUser(u User) string {
	if u.ID == "" {
		u.ID = s.newID()
	}
	u.ver, u.deleted = s.bump(), false
	s.users[u.ID] = &u
	return u.ID
}

// DeleteUser deletes a user and its memberships.
func (s *Server) DeleteUser(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteUser(id)
}

func (s *Server) deleteUser(id string) bool {
	u := s.users[id]
	if u == nil || u.deleted {
		return false
	}
	u.deleted, u.ver = true, s.bump()
	for _, g := range s.groups {
		if g.members[id] {
			s.setMember(g, id, false)
		}
	}
	for _, r := range s.roles {
		delete(r.members, id)
	}
	return true
}

// PutGroup creates or replaces a group's properties and returns its id.
func (s *Server) PutGroup(g Group) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.putGroup(g)
}

func (s *Server) putGroup(g Group) string {
	if g.ID == "" {
		g.ID = s.newID()
	}
	if g.MailNickname == "" {
		g.MailNickname = strings.ToLower(strings.ReplaceAll(g.DisplayName, " ", ""))
	}
	if old := s.groups[g.ID]; old != nil {
		g.members = old.members
	} else {
		g.members = map[string]bool{}
	}
	g.ver, g.deleted = s.bump(), false
	s.groups[g.ID] = &g
	return g.ID
}

// DeleteGroup deletes a group.
func (s *Server) DeleteGroup(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteGroup(id)
}

func (s *Server) deleteGroup(id string) bool {
	g := s.groups[id]
	if g == nil || g.deleted {
		return false
	}
	g.deleted, g.ver = true, s.bump()
	return true
}

// AddMember puts a user in a group.
func (s *Server) AddMember(group, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.groups[group]; g != nil && !g.members[user] {
		s.setMember(g, user, true)
	}
}

// RemoveMember takes a user out of a group.
func (s *Server) RemoveMember(group, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.groups[group]; g != nil && g.members[user] {
		s.setMember(g, user, false)
	}
}

func (s *Server) setMember(g *Group, user string, in bool) {
	if in {
		g.members[user] = true
	} else {
		delete(g.members, user)
	}
	s.changes = append(s.changes, memberChange{ver: s.bump(), group: g.ID, user: user})
}

// IsMember reports whether user is in group (a group or a role id).
func (s *Server) IsMember(container, user string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.groups[container]; g != nil && !g.deleted {
		return g.members[user]
	}
	if r := s.roles[container]; r != nil {
		return r.members[user]
	}
	return false
}

// User returns a copy of a stored user (deleted ones too), or nil.
func (s *Server) User(id string) *User {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[id]; u != nil {
		c := *u
		return &c
	}
	return nil
}

// GroupByName returns a live group's id by display name, or "".
func (s *Server) GroupByName(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.groups {
		if !g.deleted && g.DisplayName == name {
			return g.ID
		}
	}
	return ""
}

// PutRole activates a directory role with members and returns its id.
func (s *Server) PutRole(name string, members ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &Role{ID: s.newID(), DisplayName: name, TemplateID: s.newID(), members: map[string]bool{}}
	for _, m := range members {
		r.members[m] = true
	}
	s.roles[r.ID] = r
	return r.ID
}

// ExpireDeltaTokens makes every delta token issued so far answer 410
// syncStateNotFound, as Graph does after 7 days.
func (s *Server) ExpireDeltaTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expiredUpTo = s.ver
}

// Throttle answers the next len(after) Graph requests 429 with these
// Retry-After values (whole seconds).
func (s *Server) Throttle(after ...time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle = append(s.throttle, after...)
}

// SetRoles replaces the granted application permissions (the roles claim
// of the tokens issued from now on) while the server runs.
func (s *Server) SetRoles(roles ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Roles = slices.Clone(roles)
}

// LoseResponses makes the next n changing requests (POST, PATCH, DELETE)
// take effect and then answer 500 generalException, as when an answer is lost on the way:
// the client's retry meets what is already done ("already exist", 404).
func (s *Server) LoseResponses(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lose = n
}

// Count returns how many requests matched "METHOD /path" (path without /v1.0).
func (s *Server) Count(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Requests[key]
}

// ---- HTTP ----

type gerr struct {
	status      int
	code, msg   string
	retryAfter  time.Duration
	requestID   string
	clientReqID string
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

var reqN atomic.Int64

func writeErr(w http.ResponseWriter, e gerr) {
	n := reqN.Add(1)
	rid := fmt.Sprintf("%08x-1111-4222-8333-%012x", n, n)
	w.Header().Set("request-id", rid)
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(e.retryAfter/time.Second)))
	}
	writeJSON(w, e.status, map[string]any{"error": map[string]any{
		"code": e.code, "message": e.msg,
		"innerError": map[string]any{"date": time.Now().UTC().Format("2006-01-02T15:04:05"), "request-id": rid, "client-request-id": rid},
	}})
}

func notFound(id string) gerr {
	return gerr{status: 404, code: "Request_ResourceNotFound", msg: fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id)}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") {
		s.token(w, r)
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/v1.0/") {
		writeErr(w, gerr{status: 400, code: "BadRequest", msg: "Invalid version."})
		return
	}
	if got := r.Header.Get("Authorization"); !strings.HasPrefix(got, "Bearer ") || !s.validToken(strings.TrimPrefix(got, "Bearer ")) {
		writeErr(w, gerr{status: 401, code: "InvalidAuthenticationToken", msg: "Access token is empty."})
		return
	}
	if !allowed(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), r.Method, strings.TrimPrefix(r.URL.Path, "/v1.0")) {
		writeErr(w, gerr{status: 403, code: "Authorization_RequestDenied", msg: "Insufficient privileges to complete the operation."})
		return
	}
	s.mu.Lock()
	if len(s.throttle) > 0 {
		d := s.throttle[0]
		s.throttle = s.throttle[1:]
		s.mu.Unlock()
		writeErr(w, gerr{status: 429, code: "TooManyRequests", msg: "Too many requests.", retryAfter: d})
		return
	}
	lose := r.Method != http.MethodGet && s.lose > 0
	if lose {
		s.lose--
	}
	s.mu.Unlock()
	path := strings.TrimPrefix(r.URL.Path, "/v1.0")
	if lose { // applied, then the answer is lost
		s.route(httptest.NewRecorder(), r, path)
		writeErr(w, gerr{status: 500, code: "generalException", msg: "An internal server error occurred (the change was applied)."})
		return
	}
	if path == "/$batch" && r.Method == http.MethodPost {
		s.batch(w, r)
		return
	}
	s.route(w, r, path)
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	tenant := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")[0]
	switch {
	case tenant != s.TenantID:
		writeJSON(w, 400, map[string]any{"error": "invalid_request", "error_description": "AADSTS90002: Tenant '" + tenant + "' not found.", "error_codes": []int{90002}})
	case r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("scope") != "https://graph.microsoft.com/.default":
		writeJSON(w, 400, map[string]any{"error": "invalid_request", "error_description": "AADSTS900144: The request body must contain the following parameter: 'grant_type' and a /.default scope.", "error_codes": []int{900144}})
	case r.PostForm.Get("client_id") != s.ClientID:
		writeJSON(w, 400, map[string]any{"error": "unauthorized_client", "error_description": "AADSTS700016: Application with identifier '" + r.PostForm.Get("client_id") + "' was not found in the directory.", "error_codes": []int{700016}})
	case r.PostForm.Get("client_secret") != s.ClientSecret:
		writeJSON(w, 401, map[string]any{"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.", "error_codes": []int{7000215}})
	default:
		s.mu.Lock()
		s.Tokens++
		roles := slices.Clone(s.Roles)
		s.mu.Unlock()
		writeJSON(w, 200, map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": s.makeToken(roles)})
	}
}

// makeToken is a JWT-shaped token (unsigned) whose payload carries the
// claims a client reads: tid, appid and roles.
func (s *Server) makeToken(roles []string) string {
	enc := base64.RawURLEncoding
	h, _ := json.Marshal(map[string]string{"typ": "JWT", "alg": "none"})
	p, _ := json.Marshal(map[string]any{"aud": "https://graph.microsoft.com", "tid": s.TenantID, "appid": s.ClientID, "roles": roles,
		"exp": time.Now().Add(time.Hour).Unix()})
	return enc.EncodeToString(h) + "." + enc.EncodeToString(p) + ".fake"
}

func (s *Server) validToken(tok string) bool {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Tid string `json:"tid"`
	}
	return err == nil && json.Unmarshal(b, &c) == nil && c.Tid == s.TenantID
}

// allowed checks the token's roles as Graph does for app-only calls:
// reading users, groups and roles needs a Read (or ReadWrite) permission
// of the object or of the directory; changing them needs a ReadWrite one.
// A $batch is checked per sub-request.
func allowed(tok, method, path string) bool {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return false
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Roles []string `json:"roles"`
	}
	_ = json.Unmarshal(b, &c)
	has := func(ps ...string) bool {
		for _, p := range ps {
			if slices.Contains(c.Roles, p) {
				return true
			}
		}
		return false
	}
	seg := strings.Split(strings.TrimPrefix(path, "/"), "/")[0]
	read := method == http.MethodGet
	switch seg {
	case "users":
		if read {
			return has("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
		}
		return has("User.ReadWrite.All", "Directory.ReadWrite.All")
	case "groups":
		if read {
			return has("Group.Read.All", "Group.ReadWrite.All", "GroupMember.Read.All", "Directory.Read.All", "Directory.ReadWrite.All")
		}
		return has("Group.ReadWrite.All", "GroupMember.ReadWrite.All", "Directory.ReadWrite.All")
	case "directoryRoles":
		if read {
			return has("RoleManagement.Read.Directory", "RoleManagement.Read.All", "RoleManagement.ReadWrite.Directory", "Directory.Read.All", "Directory.ReadWrite.All")
		}
		return has("RoleManagement.ReadWrite.Directory")
	}
	return true
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, path string) {
	seg := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for i := range seg {
		seg[i], _ = url.PathUnescape(seg[i])
	}
	key := r.Method + " /" + seg[0]
	if len(seg) > 1 {
		if seg[1] == "delta" {
			key += "/delta"
		} else {
			key += "/{id}"
			for i, p := range seg[2:] {
				if i == 1 && p != "$ref" {
					p = "{id}"
				}
				key += "/" + p
			}
		}
	}
	s.mu.Lock()
	s.Requests[key]++
	s.mu.Unlock()
	q := r.URL.Query()
	switch key {
	case "GET /users/delta":
		s.usersDelta(w, r, q)
	case "GET /groups/delta":
		s.groupsDelta(w, r, q)
	case "GET /directoryRoles", "GET /groups", "GET /users":
		s.list(w, r, seg[0], q)
	case "GET /directoryRoles/{id}/members", "GET /groups/{id}/members":
		s.members(w, r, seg[0], seg[1], q)
	case "POST /groups/{id}/members/$ref", "POST /directoryRoles/{id}/members/$ref":
		s.addRef(w, r, seg[0], seg[1])
	case "DELETE /groups/{id}/members/{id}/$ref", "DELETE /directoryRoles/{id}/members/{id}/$ref":
		s.removeRef(w, seg[0], seg[1], seg[3])
	case "DELETE /groups/{id}/members/{id}", "DELETE /directoryRoles/{id}/members/{id}":
		writeErr(w, gerr{status: 405, code: "Request_BadRequest", msg: "Use the /$ref segment to remove a member; this fake refuses to delete the object itself."})
	case "POST /users":
		s.createUser(w, r)
	case "POST /groups":
		s.createGroup(w, r)
	case "GET /users/{id}":
		s.getUser(w, seg[1])
	case "PATCH /users/{id}":
		s.patchUser(w, r, seg[1])
	case "DELETE /users/{id}":
		s.mu.Lock()
		id := s.userKey(seg[1])
		ok := s.deleteUser(id)
		s.mu.Unlock()
		if !ok {
			writeErr(w, notFound(seg[1]))
			return
		}
		w.WriteHeader(204)
	case "DELETE /groups/{id}":
		s.mu.Lock()
		ok := s.deleteGroup(seg[1])
		s.mu.Unlock()
		if !ok {
			writeErr(w, notFound(seg[1]))
			return
		}
		w.WriteHeader(204)
	default:
		writeErr(w, gerr{status: 400, code: "BadRequest", msg: fmt.Sprintf("Resource not found for the segment '%s'.", seg[len(seg)-1])})
	}
}

func (s *Server) userKey(idOrUPN string) string {
	if _, ok := s.users[idOrUPN]; ok {
		return idOrUPN
	}
	for _, u := range s.users {
		if !u.deleted && strings.EqualFold(u.UPN, idOrUPN) {
			return u.ID
		}
	}
	return idOrUPN
}

func userJSON(u *User) map[string]any {
	if u.deleted {
		return map[string]any{"id": u.ID, "@removed": map[string]string{"reason": "changed"}}
	}
	m := map[string]any{"id": u.ID, "displayName": u.DisplayName, "userPrincipalName": u.UPN, "accountEnabled": u.AccountEnabled, "mail": nil, "employeeLeaveDateTime": nil}
	if u.Mail != "" {
		m["mail"] = u.Mail
	}
	if u.LeaveDate != nil {
		m["employeeLeaveDateTime"] = u.LeaveDate.UTC().Format(time.RFC3339)
	}
	return m
}

// paging: $skiptoken is "<since>.<asOf>.<offset>": the round's start
// version, the version it was cut at, and how many objects were sent.
func (s *Server) pageSize(q url.Values) int {
	if n, err := strconv.Atoi(q.Get("$top")); err == nil && n > 0 {
		return min(n, 999)
	}
	return s.PageSize
}

type cursor struct {
	since, asOf int64
	offset      int
}

func parseSkip(v string) (cursor, bool) {
	p := strings.Split(v, ".")
	if len(p) != 3 {
		return cursor{}, false
	}
	a, e1 := strconv.ParseInt(p[0], 10, 64)
	b, e2 := strconv.ParseInt(p[1], 10, 64)
	c, e3 := strconv.Atoi(p[2])
	return cursor{a, b, c}, e1 == nil && e2 == nil && e3 == nil
}

// deltaStart reads a delta request's position: a fresh round, a delta
// token, or a skip token. ok false means it answered an error.
func (s *Server) deltaStart(w http.ResponseWriter, q url.Values) (cursor, bool) {
	switch {
	case q.Get("$skiptoken") != "":
		c, ok := parseSkip(q.Get("$skiptoken"))
		if !ok {
			writeErr(w, gerr{status: 400, code: "Request_BadRequest", msg: "Invalid skip token."})
		}
		return c, ok
	case q.Get("$deltatoken") != "":
		v, err := strconv.ParseInt(q.Get("$deltatoken"), 10, 64)
		if err != nil || v <= s.expiredUpTo {
			writeErr(w, gerr{status: 410, code: "syncStateNotFound", msg: "The sync state generation is not found. Please use the initial sync request."})
			return cursor{}, false
		}
		return cursor{since: v, asOf: s.ver}, true
	}
	return cursor{since: 0, asOf: s.ver}, true
}

func (s *Server) deltaPage(w http.ResponseWriter, r *http.Request, q url.Values, what string, c cursor, items []map[string]any) {
	n := s.pageSize(q)
	end := min(c.offset+n, len(items))
	out := map[string]any{"@odata.context": s.GraphURL() + "/$metadata#" + what, "value": items[c.offset:end]}
	base := s.GraphURL() + "/" + what + "/delta?"
	if end < len(items) {
		v := url.Values{"$skiptoken": {fmt.Sprintf("%d.%d.%d", c.since, c.asOf, end)}}
		if q.Get("$select") != "" {
			v.Set("$select", q.Get("$select"))
		}
		if q.Get("$top") != "" {
			v.Set("$top", q.Get("$top"))
		}
		out["@odata.nextLink"] = base + odataQuery(v)
	} else {
		v := url.Values{"$deltatoken": {strconv.FormatInt(c.asOf, 10)}}
		if q.Get("$select") != "" {
			v.Set("$select", q.Get("$select"))
		}
		out["@odata.deltaLink"] = base + odataQuery(v)
	}
	writeJSON(w, 200, out)
}

func (s *Server) usersDelta(w http.ResponseWriter, r *http.Request, q url.Values) {
	s.mu.Lock()
	c, ok := s.deltaStart(w, q)
	if !ok {
		s.mu.Unlock()
		return
	}
	var us []*User
	for _, u := range s.users {
		// A fresh round lists live users only; a later one, every change.
		if c.since == 0 && !u.deleted && u.ver <= c.asOf || c.since > 0 && u.ver > c.since && u.ver <= c.asOf {
			us = append(us, u)
		}
	}
	sort.Slice(us, func(i, k int) bool { return us[i].ID < us[k].ID })
	items := make([]map[string]any, len(us))
	for i, u := range us {
		items[i] = userJSON(u)
	}
	s.mu.Unlock()
	s.deltaPage(w, r, q, "users", c, items)
}

func (s *Server) groupsDelta(w http.ResponseWriter, r *http.Request, q url.Values) {
	s.mu.Lock()
	c, ok := s.deltaStart(w, q)
	if !ok {
		s.mu.Unlock()
		return
	}
	withMembers := strings.Contains(q.Get("$select"), "members")
	changed := map[string]map[string]bool{} // group -> users whose membership changed
	if c.since > 0 {
		for _, ch := range s.changes {
			if ch.ver > c.since && ch.ver <= c.asOf {
				if changed[ch.group] == nil {
					changed[ch.group] = map[string]bool{}
				}
				changed[ch.group][ch.user] = true
			}
		}
	}
	var gs []*Group
	for _, g := range s.groups {
		switch {
		case c.since == 0:
			if !g.deleted && g.ver <= c.asOf {
				gs = append(gs, g)
			}
		case g.ver > c.since && g.ver <= c.asOf, changed[g.ID] != nil && !g.deleted:
			gs = append(gs, g)
		}
	}
	sort.Slice(gs, func(i, k int) bool { return gs[i].ID < gs[k].ID })
	items := make([]map[string]any, len(gs))
	for i, g := range gs {
		if g.deleted {
			items[i] = map[string]any{"id": g.ID, "@removed": map[string]string{"reason": "changed"}}
			continue
		}
		m := map[string]any{"id": g.ID, "displayName": g.DisplayName, "securityEnabled": true, "mailNickname": g.MailNickname, "description": nil}
		if withMembers {
			var md []map[string]any
			if c.since == 0 {
				for _, u := range sortedKeys(g.members) {
					md = append(md, map[string]any{"@odata.type": "#microsoft.graph.user", "id": u})
				}
			} else {
				for _, u := range sortedKeys(changed[g.ID]) {
					e := map[string]any{"@odata.type": "#microsoft.graph.user", "id": u}
					if !g.members[u] {
						e["@removed"] = map[string]string{"reason": "deleted"}
					}
					md = append(md, e)
				}
			}
			if md != nil {
				m["members@delta"] = md
			}
		}
		items[i] = m
	}
	s.mu.Unlock()
	s.deltaPage(w, r, q, "groups", c, items)
}

// odataQuery encodes like Graph's links: "$skiptoken=...", the dollar kept.
func odataQuery(v url.Values) string {
	return strings.ReplaceAll(v.Encode(), "%24", "$")
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// list serves GET /users, /groups, /directoryRoles with an optional
// $filter of "displayName eq '...'" or "mailNickname eq '...'".
func (s *Server) list(w http.ResponseWriter, r *http.Request, what string, q url.Values) {
	field, want, hasFilter := "", "", q.Get("$filter") != ""
	if hasFilter {
		f := q.Get("$filter")
		name, val, ok := strings.Cut(f, " eq ")
		if !ok || len(val) < 2 || val[0] != '\'' || val[len(val)-1] != '\'' {
			writeErr(w, gerr{status: 400, code: "Request_UnsupportedQuery", msg: "Unsupported query: " + f})
			return
		}
		field, want = name, strings.ReplaceAll(val[1:len(val)-1], "''", "'")
	}
	s.mu.Lock()
	var items []map[string]any
	switch what {
	case "users":
		for _, u := range s.users {
			if !u.deleted && (!hasFilter || field == "displayName" && u.DisplayName == want || field == "userPrincipalName" && strings.EqualFold(u.UPN, want)) {
				items = append(items, userJSON(u))
			}
		}
	case "groups":
		for _, g := range s.groups {
			if !g.deleted && (!hasFilter || field == "displayName" && g.DisplayName == want || field == "mailNickname" && strings.EqualFold(g.MailNickname, want)) {
				items = append(items, map[string]any{"id": g.ID, "displayName": g.DisplayName, "mailNickname": g.MailNickname, "securityEnabled": true})
			}
		}
	case "directoryRoles":
		for _, ro := range s.roles {
			if !hasFilter || field == "displayName" && ro.DisplayName == want {
				items = append(items, map[string]any{"id": ro.ID, "displayName": ro.DisplayName, "roleTemplateId": ro.TemplateID, "description": nil})
			}
		}
	}
	s.mu.Unlock()
	sort.Slice(items, func(i, k int) bool { return items[i]["id"].(string) < items[k]["id"].(string) })
	s.plainPage(w, r, q, what, items)
}

func (s *Server) plainPage(w http.ResponseWriter, r *http.Request, q url.Values, ctxName string, items []map[string]any) {
	n := s.pageSize(q)
	off, _ := strconv.Atoi(q.Get("$skiptoken"))
	off = min(max(off, 0), len(items))
	end := min(off+n, len(items))
	out := map[string]any{"@odata.context": s.GraphURL() + "/$metadata#" + ctxName, "value": items[off:end]}
	if items == nil {
		out["value"] = []any{}
	}
	if end < len(items) {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("$skiptoken", strconv.Itoa(end))
		out["@odata.nextLink"] = s.GraphURL() + r.URL.Path[len("/v1.0"):] + "?" + odataQuery(v)
	}
	writeJSON(w, 200, out)
}

func (s *Server) members(w http.ResponseWriter, r *http.Request, kind, id string, q url.Values) {
	s.mu.Lock()
	var ms map[string]bool
	if kind == "groups" {
		if g := s.groups[id]; g != nil && !g.deleted {
			ms = g.members
		}
	} else if ro := s.roles[id]; ro != nil {
		ms = ro.members
	}
	if ms == nil {
		s.mu.Unlock()
		writeErr(w, notFound(id))
		return
	}
	var items []map[string]any
	for _, u := range sortedKeys(ms) {
		items = append(items, map[string]any{"@odata.type": "#microsoft.graph.user", "id": u})
	}
	s.mu.Unlock()
	s.plainPage(w, r, q, "directoryObjects", items)
}

func (s *Server) addRef(w http.ResponseWriter, r *http.Request, kind, id string) {
	var body struct {
		Ref string `json:"@odata.id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || !strings.Contains(body.Ref, "/directoryObjects/") {
		writeErr(w, gerr{status: 400, code: "Request_BadRequest", msg: "Invalid object identifier '" + body.Ref + "'."})
		return
	}
	uid := body.Ref[strings.LastIndex(body.Ref, "/")+1:]
	s.mu.Lock()
	defer s.mu.Unlock()
	if u := s.users[uid]; u == nil || u.deleted {
		writeErr(w, notFound(uid))
		return
	}
	var already bool
	switch kind {
	case "groups":
		g := s.groups[id]
		if g == nil || g.deleted {
			writeErr(w, notFound(id))
			return
		}
		if already = g.members[uid]; !already {
			s.setMember(g, uid, true)
		}
	default:
		ro := s.roles[id]
		if ro == nil {
			writeErr(w, notFound(id))
			return
		}
		if already = ro.members[uid]; !already {
			ro.members[uid] = true
		}
	}
	if already {
		writeErr(w, gerr{status: 400, code: "Request_BadRequest", msg: "One or more added object references already exist for the following modified properties: 'members'."})
		return
	}
	w.WriteHeader(204)
}

func (s *Server) removeRef(w http.ResponseWriter, kind, id, uid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch kind {
	case "groups":
		g := s.groups[id]
		if g == nil || g.deleted || !g.members[uid] {
			writeErr(w, notFound(uid))
			return
		}
		s.setMember(g, uid, false)
	default:
		ro := s.roles[id]
		if ro == nil || !ro.members[uid] {
			writeErr(w, notFound(uid))
			return
		}
		delete(ro.members, uid)
	}
	w.WriteHeader(204)
}

func (s *Server) getUser(w http.ResponseWriter, idOrUPN string) {
	s.mu.Lock()
	u := s.users[s.userKey(idOrUPN)]
	if u == nil || u.deleted {
		s.mu.Unlock()
		writeErr(w, notFound(idOrUPN))
		return
	}
	m := userJSON(u)
	s.mu.Unlock()
	writeJSON(w, 200, m)
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	var in struct {
		AccountEnabled    *bool  `json:"accountEnabled"`
		DisplayName       string `json:"displayName"`
		MailNickname      string `json:"mailNickname"`
		UserPrincipalName string `json:"userPrincipalName"`
		PasswordProfile   *struct {
			Password string `json:"password"`
		} `json:"passwordProfile"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeErr(w, gerr{status: 400, code: "BadRequest", msg: "Unable to read JSON request payload."})
		return
	}
	for name, missing := range map[string]bool{"accountEnabled": in.AccountEnabled == nil, "displayName": in.DisplayName == "",
		"mailNickname": in.MailNickname == "", "userPrincipalName": in.UserPrincipalName == "", "passwordProfile": in.PasswordProfile == nil || in.PasswordProfile.Password == ""} {
		if missing {
			writeErr(w, gerr{status: 400, code: "Request_BadRequest", msg: "Invalid value specified for property '" + name + "' of resource 'User'."})
			return
		}
	}
	s.mu.Lock()
	for _, u := range s.users {
		if !u.deleted && strings.EqualFold(u.UPN, in.UserPrincipalName) {
			s.mu.Unlock()
			writeErr(w, gerr{status: 400, code: "Request_BadRequest", msg: "Another object with the same value for property userPrincipalName already exists."})
			return
		}
	}
	id := s.putUser(User{DisplayName: in.DisplayName, UPN: in.UserPrincipalName, AccountEnabled: *in.AccountEnabled})
	m := userJSON(s.users[id])
	s.mu.Unlock()
	writeJSON(w, 201, m)
}

func (s *Server) patchUser(w http.ResponseWriter, r *http.Request, idOrUPN string) {
	var in map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeErr(w, gerr{status: 400, code: "BadRequest", msg: "Unable to read JSON request payload."})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[s.userKey(idOrUPN)]
	if u == nil || u.deleted {
		writeErr(w, notFound(idOrUPN))
		return
	}
	c := *u
	if v, ok := in["accountEnabled"]; ok {
		_ = json.Unmarshal(v, &c.AccountEnabled)
	}
	if v, ok := in["displayName"]; ok {
		_ = json.Unmarshal(v, &c.DisplayName)
	}
	s.putUser(c)
	w.WriteHeader(204)
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) {
	var in struct {
		DisplayName     string `json:"displayName"`
		MailNickname    string `json:"mailNickname"`
		Description     string `json:"description"`
		MailEnabled     *bool  `json:"mailEnabled"`
		SecurityEnabled *bool  `json:"securityEnabled"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.DisplayName == "" || in.MailNickname == "" || in.MailEnabled == nil || in.SecurityEnabled == nil {
		writeErr(w, gerr{status: 400, code: "Request_BadRequest", msg: "A value is required for property 'displayName', 'mailEnabled', 'mailNickname' and 'securityEnabled' of resource 'Group'."})
		return
	}
	s.mu.Lock()
	id := s.putGroup(Group{DisplayName: in.DisplayName, MailNickname: in.MailNickname, Description: in.Description})
	s.mu.Unlock()
	writeJSON(w, 201, map[string]any{"id": id, "displayName": in.DisplayName, "mailNickname": in.MailNickname, "securityEnabled": true, "mailEnabled": false})
}

// batch runs each sub-request through the same routes and wraps the
// answers as Graph does; more than 20 is refused whole.
func (s *Server) batch(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Requests []struct {
			ID      string            `json:"id"`
			Method  string            `json:"method"`
			URL     string            `json:"url"`
			Body    json.RawMessage   `json:"body"`
			Headers map[string]string `json:"headers"`
		} `json:"requests"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeErr(w, gerr{status: 400, code: "BadRequest", msg: "Invalid batch payload format."})
		return
	}
	if len(in.Requests) > 20 {
		writeErr(w, gerr{status: 400, code: "BadRequest", msg: "The number of batch requests exceeds the maximum of 20."})
		return
	}
	s.mu.Lock()
	s.Batches = append(s.Batches, len(in.Requests))
	s.mu.Unlock()
	var out []map[string]any
	for _, q := range in.Requests {
		u, err := url.Parse(q.URL)
		if err != nil || !strings.HasPrefix(q.URL, "/") {
			out = append(out, map[string]any{"id": q.ID, "status": 400, "body": map[string]any{"error": map[string]string{"code": "BadRequest", "message": "Invalid request URL."}}})
			continue
		}
		var body *strings.Reader
		if len(q.Body) > 0 {
			body = strings.NewReader(string(q.Body))
		} else {
			body = strings.NewReader("")
		}
		sub := httptest.NewRequest(q.Method, "/v1.0"+u.Path+"?"+u.RawQuery, body)
		rec := httptest.NewRecorder()
		if allowed(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), q.Method, u.Path) {
			s.route(rec, sub, u.Path)
		} else {
			writeErr(rec, gerr{status: 403, code: "Authorization_RequestDenied", msg: "Insufficient privileges to complete the operation."})
		}
		resp := map[string]any{"id": q.ID, "status": rec.Code, "headers": map[string]string{"Content-Type": "application/json"}}
		if rec.Body.Len() > 0 {
			resp["body"] = json.RawMessage(rec.Body.Bytes())
		}
		out = append(out, resp)
	}
	writeJSON(w, 200, map[string]any{"responses": out})
}
