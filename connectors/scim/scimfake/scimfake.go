// Package scimfake is a SCIM 2.0 service provider for tests: /Users and
// /Groups in RFC 7643's shapes, ListResponse paging with startIndex and
// count, eq filters, PATCH operations on active and members, and RFC 7644
// §3.12 errors (status as a string, scimType, detail). Its methods change
// the directory "outside accessbot", as an admin of the application would.
package scimfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

const (
	schemaUser   = "urn:ietf:params:scim:schemas:core:2.0:User"
	schemaGroup  = "urn:ietf:params:scim:schemas:core:2.0:Group"
	schemaList   = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	schemaPatch  = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	schemaError  = "urn:ietf:params:scim:api:messages:2.0:Error"
	schemaConfig = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
)

// User is a stored user.
type User struct {
	ID, UserName, DisplayName, Email, ExternalID string
	Active                                       bool
}

// Group is a stored group.
type Group struct {
	ID, DisplayName string
	members         []string // user ids, in the order added
}

// Server is a running fake. Close it when done.
type Server struct {
	srv *httptest.Server

	// Token is the bearer token it accepts.
	Token string
	// MaxPage caps count (the server's page size; default 50).
	MaxPage int
	// DuplicateConflict answers adding a member who is there already with
	// 409 uniqueness, as some servers do; otherwise it is a no-op, as RFC
	// 7644 §3.5.2.1 describes.
	DuplicateConflict bool

	mu       sync.Mutex
	nextID   int
	users    []*User
	groups   []*Group
	lose     int // mutating requests to apply and then answer 500
	throttle int // requests to answer 429 Retry-After: 1
	requests map[string]int
}

// New starts a fake.
func New() *Server {
	s := &Server{Token: "scim-fake-token", MaxPage: 50, requests: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the SCIM base URL (".../scim/v2").
func (s *Server) URL() string { return s.srv.URL + "/scim/v2" }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

func (s *Server) id(prefix string) string {
	s.nextID++
	return fmt.Sprintf("%s-%04d", prefix, s.nextID)
}

// PutUser stores u (a new one when its ID is empty) and returns its id.
func (s *Server) PutUser(u User) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ID != "" {
		if x := s.user(u.ID); x != nil {
			*x = u
			return u.ID
		}
	} else {
		u.ID = s.id("u")
	}
	s.users = append(s.users, &u)
	return u.ID
}

// PutGroup stores a group named name and returns its id.
func (s *Server) PutGroup(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := &Group{ID: s.id("g"), DisplayName: name}
	s.groups = append(s.groups, g)
	return g.ID
}

// GroupIDs returns the ids of the groups named name, in creation order.
func (s *Server) GroupIDs(name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, g := range s.groups {
		if g.DisplayName == name {
			ids = append(ids, g.ID)
		}
	}
	return ids
}

// AddMember puts user in group.
func (s *Server) AddMember(group, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.group(group); g != nil && !slices.Contains(g.members, user) {
		g.members = append(g.members, user)
	}
}

// RemoveMember takes user out of group.
func (s *Server) RemoveMember(group, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.group(group); g != nil {
		g.members = slices.DeleteFunc(g.members, func(m string) bool { return m == user })
	}
}

// IsMember reports whether user is in group.
func (s *Server) IsMember(group, user string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.group(group)
	return g != nil && slices.Contains(g.members, user)
}

// User returns a copy of a stored user (by id or userName), nil if none.
func (s *Server) User(ref string) *User {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.user(ref)
	if u == nil {
		u = s.userByName(ref)
	}
	if u == nil {
		return nil
	}
	c := *u
	return &c
}

// SetToken replaces the accepted bearer token while the server runs.
func (s *Server) SetToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Token = tok
}

// LoseResponses makes the next n mutating requests (POST, PATCH, DELETE)
// take effect and then answer 500, as when an answer is lost on the way:
// the client retries what is already done.
func (s *Server) LoseResponses(n int) {
	s.mu.Lock()
	s.lose = n
	s.mu.Unlock()
}

// Throttle answers the next n requests 429 with Retry-After: 1.
func (s *Server) Throttle(n int) {
	s.mu.Lock()
	s.throttle = n
	s.mu.Unlock()
}

// Count is how many requests were served for key, e.g. "PATCH /Groups/{id}".
func (s *Server) Count(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[key]
}

func (s *Server) user(id string) *User {
	for _, u := range s.users {
		if u.ID == id {
			return u
		}
	}
	return nil
}

func (s *Server) userByName(name string) *User {
	for _, u := range s.users {
		if strings.EqualFold(u.UserName, name) { // userName is case-insensitive (RFC 7643 §4.1.1)
			return u
		}
	}
	return nil
}

func (s *Server) group(id string) *Group {
	for _, g := range s.groups {
		if g.ID == id {
			return g
		}
	}
	return nil
}

// scimErr is an RFC 7644 §3.12 error.
type scimErr struct {
	status   int
	scimType string
	detail   string
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, e scimErr) {
	body := map[string]any{"schemas": []string{schemaError}, "status": strconv.Itoa(e.status), "detail": e.detail}
	if e.scimType != "" {
		body["scimType"] = e.scimType
	}
	writeJSON(w, e.status, body)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, "/scim/v2/")
	if !ok {
		writeErr(w, scimErr{404, "", "not a SCIM endpoint: " + r.URL.Path})
		return
	}
	seg := strings.Split(path, "/")
	key := r.Method + " /" + seg[0]
	if len(seg) > 1 {
		key += "/{id}"
	}
	s.mu.Lock()
	s.requests[key]++
	token := s.Token
	throttled := s.throttle > 0
	if throttled {
		s.throttle--
	}
	s.mu.Unlock()
	if key == "GET /ServiceProviderConfig" { // unauthenticated (RFC 7644 §4)
		s.config(w)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+token {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scimfake"`)
		writeErr(w, scimErr{401, "", "Authorization failure. The authorization header is invalid or missing."})
		return
	}
	if throttled {
		w.Header().Set("Retry-After", "1")
		writeErr(w, scimErr{429, "", "Too many requests."})
		return
	}
	if r.Method != http.MethodGet {
		if ct := r.Header.Get("Content-Type"); r.Method != http.MethodDelete && !strings.HasPrefix(ct, "application/scim+json") && !strings.HasPrefix(ct, "application/json") {
			writeErr(w, scimErr{415, "", "Content-Type must be application/scim+json."})
			return
		}
		s.mu.Lock()
		lose := s.lose > 0
		if lose {
			s.lose--
		}
		s.mu.Unlock()
		if lose {
			rec := httptest.NewRecorder()
			s.route(rec, r, key, seg)
			writeErr(w, scimErr{500, "", "Internal error (the change was applied)."})
			return
		}
	}
	s.route(w, r, key, seg)
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, key string, seg []string) {
	id := ""
	if len(seg) > 1 {
		id = seg[1]
	}
	switch key {
	case "GET /Users":
		s.listUsers(w, r)
	case "GET /Groups":
		s.listGroups(w, r)
	case "POST /Users":
		s.createUser(w, r)
	case "POST /Groups":
		s.createGroup(w, r)
	case "GET /Users/{id}":
		s.mu.Lock()
		u := s.user(id)
		var out map[string]any
		if u != nil {
			out = userJSON(u)
		}
		s.mu.Unlock()
		if u == nil {
			writeErr(w, scimErr{404, "", "Resource " + id + " not found."})
			return
		}
		writeJSON(w, 200, out)
	case "GET /Groups/{id}":
		s.mu.Lock()
		g := s.group(id)
		var out map[string]any
		if g != nil {
			out = s.groupJSON(g)
		}
		s.mu.Unlock()
		if g == nil {
			writeErr(w, scimErr{404, "", "Resource " + id + " not found."})
			return
		}
		writeJSON(w, 200, out)
	case "PATCH /Users/{id}":
		s.patchUser(w, r, id)
	case "PATCH /Groups/{id}":
		s.patchGroup(w, r, id)
	case "DELETE /Users/{id}":
		s.mu.Lock()
		u := s.user(id)
		if u != nil {
			s.users = slices.DeleteFunc(s.users, func(x *User) bool { return x.ID == id })
			for _, g := range s.groups {
				g.members = slices.DeleteFunc(g.members, func(m string) bool { return m == id })
			}
		}
		s.mu.Unlock()
		if u == nil {
			writeErr(w, scimErr{404, "", "Resource " + id + " not found."})
			return
		}
		w.WriteHeader(204)
	case "DELETE /Groups/{id}":
		s.mu.Lock()
		g := s.group(id)
		if g != nil {
			s.groups = slices.DeleteFunc(s.groups, func(x *Group) bool { return x.ID == id })
		}
		s.mu.Unlock()
		if g == nil {
			writeErr(w, scimErr{404, "", "Resource " + id + " not found."})
			return
		}
		w.WriteHeader(204)
	default:
		writeErr(w, scimErr{404, "", "No endpoint " + key + "."})
	}
}

func (s *Server) config(w http.ResponseWriter) {
	writeJSON(w, 200, map[string]any{
		"schemas":               []string{schemaConfig},
		"patch":                 map[string]bool{"supported": true},
		"bulk":                  map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":                map[string]any{"supported": true, "maxResults": s.MaxPage},
		"changePassword":        map[string]bool{"supported": false},
		"sort":                  map[string]bool{"supported": false},
		"etag":                  map[string]bool{"supported": false},
		"authenticationSchemes": []map[string]any{{"type": "oauthbearertoken", "name": "OAuth Bearer Token", "description": "Authentication scheme using the OAuth Bearer Token Standard", "primary": true}},
		"meta":                  map[string]string{"resourceType": "ServiceProviderConfig", "location": s.URL() + "/ServiceProviderConfig"},
	})
}

func userJSON(u *User) map[string]any {
	m := map[string]any{"schemas": []string{schemaUser}, "id": u.ID, "userName": u.UserName, "active": u.Active,
		"meta": map[string]string{"resourceType": "User"}}
	if u.DisplayName != "" {
		m["displayName"] = u.DisplayName
	}
	if u.ExternalID != "" {
		m["externalId"] = u.ExternalID
	}
	if u.Email != "" {
		m["emails"] = []map[string]any{{"value": u.Email, "type": "work", "primary": true}}
	}
	return m
}

func (s *Server) groupJSON(g *Group) map[string]any {
	ms := []map[string]any{}
	for _, id := range g.members {
		m := map[string]any{"value": id, "type": "User", "$ref": s.URL() + "/Users/" + id}
		if u := s.user(id); u != nil {
			m["display"] = u.UserName
		}
		ms = append(ms, m)
	}
	return map[string]any{"schemas": []string{schemaGroup}, "id": g.ID, "displayName": g.DisplayName, "members": ms,
		"meta": map[string]string{"resourceType": "Group"}}
}

var eqRE = regexp.MustCompile(`^\s*(\w+)\s+eq\s+("(?:[^"\\]|\\.)*")\s*$`)

// parseFilter reads `attr eq "value"`, the only filter this fake serves.
func parseFilter(f string, attrs ...string) (attr, value string, err *scimErr) {
	if f == "" {
		return "", "", nil
	}
	m := eqRE.FindStringSubmatch(f)
	if m == nil {
		return "", "", &scimErr{400, "invalidFilter", "The specified filter syntax was invalid or is not supported: " + f}
	}
	if !slices.ContainsFunc(attrs, func(a string) bool { return strings.EqualFold(a, m[1]) }) {
		return "", "", &scimErr{400, "invalidFilter", "The filter names an attribute that cannot be filtered: " + m[1]}
	}
	if json.Unmarshal([]byte(m[2]), &value) != nil {
		return "", "", &scimErr{400, "invalidFilter", "The filter's value is not a valid string."}
	}
	return m[1], value, nil
}

// page reads startIndex and count (RFC 7644 §3.4.2.4: 1-based; less than
// 1 is 1; count capped by the server).
func (s *Server) page(r *http.Request, total int) (from, to int) {
	start, err := strconv.Atoi(r.URL.Query().Get("startIndex"))
	if err != nil || start < 1 {
		start = 1
	}
	count, err := strconv.Atoi(r.URL.Query().Get("count"))
	if err != nil || count > s.MaxPage || count < 0 {
		count = s.MaxPage
	}
	from = min(start-1, total)
	return from, min(from+count, total)
}

func list(w http.ResponseWriter, start int, total int, items []map[string]any) {
	writeJSON(w, 200, map[string]any{"schemas": []string{schemaList}, "totalResults": total, "startIndex": start + 1,
		"itemsPerPage": len(items), "Resources": items})
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	_, value, ferr := parseFilter(r.URL.Query().Get("filter"), "userName")
	if ferr != nil {
		writeErr(w, *ferr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var match []*User
	for _, u := range s.users {
		if r.URL.Query().Get("filter") == "" || strings.EqualFold(u.UserName, value) {
			match = append(match, u)
		}
	}
	from, to := s.page(r, len(match))
	items := []map[string]any{}
	for _, u := range match[from:to] {
		items = append(items, userJSON(u))
	}
	list(w, from, len(match), items)
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) {
	_, value, ferr := parseFilter(r.URL.Query().Get("filter"), "displayName")
	if ferr != nil {
		writeErr(w, *ferr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var match []*Group
	for _, g := range s.groups {
		if r.URL.Query().Get("filter") == "" || g.DisplayName == value {
			match = append(match, g)
		}
	}
	from, to := s.page(r, len(match))
	items := []map[string]any{}
	for _, g := range match[from:to] {
		items = append(items, s.groupJSON(g))
	}
	list(w, from, len(match), items)
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Schemas     []string `json:"schemas"`
		UserName    string   `json:"userName"`
		DisplayName string   `json:"displayName"`
		ExternalID  string   `json:"externalId"`
		Active      *bool    `json:"active"`
		Emails      []struct {
			Value   string `json:"value"`
			Primary bool   `json:"primary"`
		} `json:"emails"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeErr(w, scimErr{400, "invalidSyntax", "The request body could not be parsed: " + err.Error()})
		return
	}
	if !slices.Contains(in.Schemas, schemaUser) {
		writeErr(w, scimErr{400, "invalidSyntax", "schemas must include " + schemaUser + "."})
		return
	}
	if strings.TrimSpace(in.UserName) == "" {
		writeErr(w, scimErr{400, "invalidValue", "Attribute 'userName' is required."})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.userByName(in.UserName) != nil {
		writeErr(w, scimErr{409, "uniqueness", "One or more of the attribute values are already in use or are reserved: userName " + in.UserName + "."})
		return
	}
	u := &User{ID: s.id("u"), UserName: in.UserName, DisplayName: in.DisplayName, ExternalID: in.ExternalID, Active: in.Active == nil || *in.Active}
	if len(in.Emails) > 0 {
		u.Email = in.Emails[0].Value
	}
	s.users = append(s.users, u)
	w.Header().Set("Location", s.URL()+"/Users/"+u.ID)
	writeJSON(w, 201, userJSON(u))
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) {
	var in struct {
		DisplayName string `json:"displayName"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.DisplayName == "" {
		writeErr(w, scimErr{400, "invalidValue", "Attribute 'displayName' is required."})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.groups {
		if g.DisplayName == in.DisplayName {
			writeErr(w, scimErr{409, "uniqueness", "displayName " + in.DisplayName + " is already in use."})
			return
		}
	}
	g := &Group{ID: s.id("g"), DisplayName: in.DisplayName}
	s.groups = append(s.groups, g)
	writeJSON(w, 201, s.groupJSON(g))
}

type patchBody struct {
	Schemas    []string `json:"schemas"`
	Operations []struct {
		Op    string          `json:"op"`
		Path  string          `json:"path"`
		Value json.RawMessage `json:"value"`
	} `json:"Operations"`
}

func readPatch(w http.ResponseWriter, r *http.Request) (*patchBody, bool) {
	var p patchBody
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		writeErr(w, scimErr{400, "invalidSyntax", "The request body could not be parsed: " + err.Error()})
		return nil, false
	}
	if !slices.Contains(p.Schemas, schemaPatch) || len(p.Operations) == 0 {
		writeErr(w, scimErr{400, "invalidSyntax", "A PatchOp needs schemas [" + schemaPatch + "] and Operations."})
		return nil, false
	}
	return &p, true
}

// patchUser serves replace of active (with a path, or as a value object)
// and refuses id (immutable) and anything else.
func (s *Server) patchUser(w http.ResponseWriter, r *http.Request, id string) {
	p, ok := readPatch(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.user(id)
	if u == nil {
		writeErr(w, scimErr{404, "", "Resource " + id + " not found."})
		return
	}
	next := *u
	for _, op := range p.Operations {
		if !strings.EqualFold(op.Op, "replace") && !strings.EqualFold(op.Op, "add") {
			writeErr(w, scimErr{400, "invalidValue", "Operation " + op.Op + " is not supported on Users here."})
			return
		}
		vals := map[string]json.RawMessage{}
		if op.Path != "" {
			vals[op.Path] = op.Value
		} else if json.Unmarshal(op.Value, &vals) != nil {
			writeErr(w, scimErr{400, "invalidSyntax", "A PATCH without a path needs an object value."})
			return
		}
		for k, v := range vals {
			switch strings.ToLower(k) {
			case "id", "meta":
				writeErr(w, scimErr{400, "mutability", "Attribute '" + k + "' is readOnly."})
				return
			case "active":
				if json.Unmarshal(v, &next.Active) != nil {
					writeErr(w, scimErr{400, "invalidValue", "Attribute 'active' must be a boolean."})
					return
				}
			case "displayname":
				_ = json.Unmarshal(v, &next.DisplayName)
			default:
				writeErr(w, scimErr{400, "invalidPath", "The path '" + k + "' is not supported here."})
				return
			}
		}
	}
	*u = next
	writeJSON(w, 200, userJSON(u))
}

var memberPathRE = regexp.MustCompile(`^members\[\s*value\s+eq\s+("(?:[^"\\]|\\.)*")\s*\]$`)

// patchGroup serves add members, remove members[value eq "id"] and
// remove members (all).
func (s *Server) patchGroup(w http.ResponseWriter, r *http.Request, id string) {
	p, ok := readPatch(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.group(id)
	if g == nil {
		writeErr(w, scimErr{404, "", "Resource " + id + " not found."})
		return
	}
	members := slices.Clone(g.members)
	for _, op := range p.Operations {
		switch {
		case strings.EqualFold(op.Op, "add") && op.Path == "members":
			var vs []struct {
				Value string `json:"value"`
			}
			if json.Unmarshal(op.Value, &vs) != nil || len(vs) == 0 {
				writeErr(w, scimErr{400, "invalidValue", "add members needs a list of {\"value\": id}."})
				return
			}
			for _, v := range vs {
				if s.user(v.Value) == nil {
					writeErr(w, scimErr{400, "invalidValue", "Member " + v.Value + " is not a user of this service provider."})
					return
				}
				if slices.Contains(members, v.Value) {
					if s.DuplicateConflict {
						writeErr(w, scimErr{409, "uniqueness", "User " + v.Value + " is already a member of " + g.DisplayName + "."})
						return
					}
					continue
				}
				members = append(members, v.Value)
			}
		case strings.EqualFold(op.Op, "remove") && op.Path == "members":
			members = nil
		case strings.EqualFold(op.Op, "remove"):
			m := memberPathRE.FindStringSubmatch(op.Path)
			var uid string
			if m == nil || json.Unmarshal([]byte(m[1]), &uid) != nil {
				writeErr(w, scimErr{400, "invalidPath", "The path '" + op.Path + "' is not supported here."})
				return
			}
			if !slices.Contains(members, uid) {
				writeErr(w, scimErr{400, "noTarget", "No member matches " + op.Path + "."})
				return
			}
			members = slices.DeleteFunc(members, func(x string) bool { return x == uid })
		case strings.EqualFold(op.Op, "replace") && strings.EqualFold(op.Path, "id"):
			writeErr(w, scimErr{400, "mutability", "Attribute 'id' is readOnly."})
			return
		default:
			writeErr(w, scimErr{400, "invalidPath", "Operation " + op.Op + " " + op.Path + " is not supported here."})
			return
		}
	}
	g.members = members
	w.WriteHeader(204)
}
