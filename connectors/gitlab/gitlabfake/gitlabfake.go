// Package gitlabfake is a GitLab REST API (v4) server for tests and the
// playground: the issue, note and user endpoints the gitlab connector uses,
// answering in GitLab's JSON shapes and errors ({"message": ...} with 401,
// 404, 409, 429 + Retry-After and RateLimit-* headers).
package gitlabfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fault replaces the answer to the next request that matches Method and
// PathSuffix ("" matches any).
type Fault struct {
	Method     string
	PathSuffix string
	Status     int
	Message    string
	RetryAfter time.Duration // for 429
}

// Issue is the fake's stored issue.
type Issue struct {
	ID          int64
	IID         int64
	ProjectID   int64
	Title       string
	Description string
	State       string // "opened" or "closed"
	Labels      []string
	AssigneeIDs []int64
	Notes       []Note
}

// Note is a comment on an issue.
type Note struct {
	ID   int64
	Body string
}

// User is a GitLab user the fake knows.
type User struct {
	ID       int64
	Username string
	Name     string
}

// Server is a running fake.
type Server struct {
	srv   *httptest.Server
	token string

	mu       sync.Mutex
	projects map[string]int64 // path → id
	issues   map[int64][]*Issue
	users    []User
	nextID   int64
	faults   []Fault
	calls    map[string]int // "METHOD /path" (path without /api/v4, ids as sent)
}

// Start serves the fake over HTTPS with httptest's certificate (trust it via
// HTTPServer().Client() or its Certificate). token is the PRIVATE-TOKEN required.
func Start(token string) *Server {
	s := &Server{token: token, projects: map[string]int64{}, issues: map[int64][]*Issue{}, calls: map[string]int{}, nextID: 1000}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the base URL to give the client (it adds /api/v4).
func (s *Server) URL() string { return s.srv.URL }

// HTTPServer exposes the httptest server (Client, Certificate).
func (s *Server) HTTPServer() *httptest.Server { return s.srv }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// AddProject registers a project by its full path ("group/app") and returns its id.
func (s *Server) AddProject(path string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	s.projects[path] = s.nextID
	return s.nextID
}

// AddUser registers a user.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users = append(s.users, u)
}

// SeedIssue stores an issue as if it had been created earlier, returns its iid.
func (s *Server) SeedIssue(projectID int64, in Issue) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.create(projectID, in).IID
}

// Issue returns a copy of a stored issue.
func (s *Server) Issue(projectID, iid int64) (Issue, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if is := s.find(projectID, iid); is != nil {
		c := *is
		c.Labels = slices.Clone(is.Labels)
		c.AssigneeIDs = slices.Clone(is.AssigneeIDs)
		c.Notes = slices.Clone(is.Notes)
		return c, true
	}
	return Issue{}, false
}

// Issues counts a project's issues.
func (s *Server) Issues(projectID int64) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.issues[projectID])
}

// Calls is how many requests matched "METHOD suffix" (e.g. "PUT /issues/1").
func (s *Server) Calls(method, pathSuffix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, v := range s.calls {
		m, p, _ := strings.Cut(k, " ")
		if m == method && strings.HasSuffix(p, pathSuffix) {
			n += v
		}
	}
	return n
}

// InjectFaults queues faults; each is used once, by the first matching request.
func (s *Server) InjectFaults(f ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f...)
}

func (s *Server) create(pid int64, in Issue) *Issue {
	s.nextID++
	is := in
	is.ID, is.ProjectID = s.nextID, pid
	is.IID = int64(len(s.issues[pid]) + 1)
	if is.State == "" {
		is.State = "opened"
	}
	s.issues[pid] = append(s.issues[pid], &is)
	return &is
}

func (s *Server) find(pid, iid int64) *Issue {
	for _, is := range s.issues[pid] {
		if is.IID == iid {
			return is
		}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func gitlabError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	path := strings.TrimPrefix(r.URL.EscapedPath(), "/api/v4")
	s.calls[r.Method+" "+path]++
	w.Header().Set("RateLimit-Limit", "2000")
	w.Header().Set("RateLimit-Remaining", "1999")

	if r.Header.Get("PRIVATE-TOKEN") != s.token {
		gitlabError(w, http.StatusUnauthorized, "401 Unauthorized")
		return
	}
	for i, f := range s.faults {
		if (f.Method == "" || f.Method == r.Method) && strings.HasSuffix(path, f.PathSuffix) {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			if f.Status == http.StatusTooManyRequests {
				w.Header().Set("RateLimit-Remaining", "0")
				w.Header().Set("RateLimit-Reset", strconv.FormatInt(time.Now().Add(f.RetryAfter).Unix(), 10))
				w.Header().Set("Retry-After", strconv.Itoa(int(f.RetryAfter/time.Second)))
			}
			msg := f.Message
			if msg == "" {
				msg = fmt.Sprintf("%d %s", f.Status, http.StatusText(f.Status))
			}
			gitlabError(w, f.Status, msg)
			return
		}
	}

	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) == 1 && parts[0] == "users" && r.Method == http.MethodGet {
		s.listUsers(w, r)
		return
	}
	if len(parts) < 3 || parts[0] != "projects" || parts[2] != "issues" {
		gitlabError(w, http.StatusNotFound, "404 Not Found")
		return
	}
	pid, ok := s.projectID(parts[1])
	if !ok {
		gitlabError(w, http.StatusNotFound, "404 Project Not Found")
		return
	}
	if len(parts) == 3 {
		switch r.Method {
		case http.MethodGet:
			s.listIssues(w, r, pid)
		case http.MethodPost:
			s.createIssue(w, r, pid)
		default:
			gitlabError(w, http.StatusMethodNotAllowed, "405 Method Not Allowed")
		}
		return
	}
	iid, err := strconv.ParseInt(parts[3], 10, 64)
	is := s.find(pid, iid)
	if err != nil || is == nil {
		gitlabError(w, http.StatusNotFound, "404 Issue Not Found")
		return
	}
	switch {
	case len(parts) == 4 && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, s.issueJSON(is))
	case len(parts) == 4 && r.Method == http.MethodPut:
		s.updateIssue(w, r, is)
	case len(parts) == 5 && parts[4] == "notes" && r.Method == http.MethodGet:
		out := []map[string]any{}
		for _, n := range is.Notes {
			out = append(out, map[string]any{"id": n.ID, "body": n.Body, "noteable_type": "Issue", "noteable_iid": is.IID, "system": false})
		}
		w.Header().Set("X-Total", strconv.Itoa(len(out)))
		writeJSON(w, http.StatusOK, out)
	case len(parts) == 5 && parts[4] == "notes" && r.Method == http.MethodPost:
		var body struct {
			Body string `json:"body"`
		}
		if err := decode(r, &body); err != nil || strings.TrimSpace(body.Body) == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body is missing"})
			return
		}
		s.nextID++
		is.Notes = append(is.Notes, Note{ID: s.nextID, Body: body.Body})
		writeJSON(w, http.StatusCreated, map[string]any{"id": s.nextID, "body": body.Body, "noteable_type": "Issue", "noteable_iid": is.IID, "system": false})
	default:
		gitlabError(w, http.StatusNotFound, "404 Not Found")
	}
}

// projectID accepts a numeric id or a URL-encoded full path ("group%2Fapp").
func (s *Server) projectID(raw string) (int64, bool) {
	if id, err := strconv.ParseInt(raw, 10, 64); err == nil {
		for _, v := range s.projects {
			if v == id {
				return id, true
			}
		}
		return 0, false
	}
	p, err := url.PathUnescape(raw)
	if err != nil {
		return 0, false
	}
	id, ok := s.projects[p]
	return id, ok
}

func decode(r *http.Request, v any) error {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return fmt.Errorf("want a JSON body")
	}
	return json.NewDecoder(r.Body).Decode(v)
}

// labels accepts GitLab's comma-separated string or an array.
type labels []string

func (l *labels) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*l = nil
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				*l = append(*l, p)
			}
		}
		return nil
	}
	var a []string
	err := json.Unmarshal(b, &a)
	*l = a
	return err
}

func (s *Server) listIssues(w http.ResponseWriter, r *http.Request, pid int64) {
	q := r.URL.Query()
	search, in, state := q.Get("search"), q.Get("in"), q.Get("state")
	out := []map[string]any{}
	for _, is := range s.issues[pid] {
		if state != "" && state != "all" && is.State != state {
			continue
		}
		if search != "" {
			hay := is.Title + "\n" + is.Description
			switch in {
			case "description":
				hay = is.Description
			case "title":
				hay = is.Title
			}
			if !strings.Contains(strings.ToLower(hay), strings.ToLower(search)) {
				continue
			}
		}
		out = append(out, s.issueJSON(is))
	}
	w.Header().Set("X-Total", strconv.Itoa(len(out)))
	w.Header().Set("X-Page", "1")
	w.Header().Set("X-Total-Pages", "1")
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createIssue(w http.ResponseWriter, r *http.Request, pid int64) {
	var in struct {
		Title       string  `json:"title"`
		Description string  `json:"description"`
		Labels      labels  `json:"labels"`
		AssigneeIDs []int64 `json:"assignee_ids"`
	}
	if err := decode(r, &in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if strings.TrimSpace(in.Title) == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "title is missing"})
		return
	}
	is := s.create(pid, Issue{Title: in.Title, Description: in.Description, Labels: in.Labels, AssigneeIDs: in.AssigneeIDs})
	writeJSON(w, http.StatusCreated, s.issueJSON(is))
}

func (s *Server) updateIssue(w http.ResponseWriter, r *http.Request, is *Issue) {
	var in struct {
		AddLabels    labels   `json:"add_labels"`
		RemoveLabels labels   `json:"remove_labels"`
		StateEvent   string   `json:"state_event"`
		AssigneeIDs  *[]int64 `json:"assignee_ids"`
	}
	if err := decode(r, &in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	for _, l := range in.AddLabels {
		if !slices.Contains(is.Labels, l) {
			is.Labels = append(is.Labels, l)
		}
	}
	is.Labels = slices.DeleteFunc(is.Labels, func(l string) bool { return slices.Contains(in.RemoveLabels, l) })
	switch in.StateEvent {
	case "":
	case "close":
		is.State = "closed"
	case "reopen":
		is.State = "opened"
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "state_event does not have a valid value"})
		return
	}
	if in.AssigneeIDs != nil {
		ids := []int64{}
		for _, id := range *in.AssigneeIDs {
			if id != 0 {
				ids = append(ids, id)
			}
		}
		is.AssigneeIDs = ids
	}
	writeJSON(w, http.StatusOK, s.issueJSON(is))
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("username")
	out := []map[string]any{}
	for _, u := range s.users {
		if name == "" || strings.EqualFold(u.Username, name) {
			out = append(out, map[string]any{"id": u.ID, "username": u.Username, "name": u.Name, "state": "active"})
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) issueJSON(is *Issue) map[string]any {
	assignees := []map[string]any{}
	for _, id := range is.AssigneeIDs {
		for _, u := range s.users {
			if u.ID == id {
				assignees = append(assignees, map[string]any{"id": u.ID, "username": u.Username, "name": u.Name, "state": "active"})
			}
		}
	}
	var assignee any
	if len(assignees) > 0 {
		assignee = assignees[0]
	}
	lbls := is.Labels
	if lbls == nil {
		lbls = []string{}
	}
	return map[string]any{
		"id": is.ID, "iid": is.IID, "project_id": is.ProjectID,
		"title": is.Title, "description": is.Description, "state": is.State,
		"labels": lbls, "assignees": assignees, "assignee": assignee,
		"web_url": fmt.Sprintf("%s/-/issues/%d", s.srv.URL, is.IID),
	}
}
