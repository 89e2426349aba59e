package slackfake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Defaults used when no option overrides them.
const (
	DefaultAppID        = "A0FAKEAPP01"
	DefaultAppToken     = "xapp-1-A0FAKEAPP01-fake"
	DefaultPingInterval = time.Second
	DefaultTriggerTTL   = 3 * time.Second
	// MaxSockets is Slack's documented cap on concurrent Socket Mode connections.
	MaxSockets = 10
)

// Errors returned by the control methods (never by the HTTP surface).
var (
	ErrUnknownEnvelope = errors.New("slackfake: unknown envelope")
	ErrNoConnection    = errors.New("slackfake: no open socket")
	ErrUnknownTeam     = errors.New("slackfake: unknown team")
)

// Option configures a Server.
type Option func(*config)

type config struct {
	appID        string
	appTokens    []string
	pingInterval time.Duration
	ackTimeout   time.Duration
	maxRetries   int
	triggerTTL   time.Duration
	clock        func() time.Time
	clientID     string
	clientSecret string
	maxSockets   int
}

// WithAppID sets the app id reported in hello, payloads and auth answers.
func WithAppID(id string) Option { return func(c *config) { c.appID = id } }

// WithAppToken sets the xapp token accepted by apps.connections.open
// (replacing the default one). Call it more than once to accept several.
func WithAppToken(tok string) Option {
	return func(c *config) {
		if len(c.appTokens) == 1 && c.appTokens[0] == DefaultAppToken {
			c.appTokens = nil
		}
		c.appTokens = append(c.appTokens, tok)
	}
}

// WithPingInterval sets how often the fake sends WebSocket PING frames; 0
// disables pings (slack-go then reconnects after its own ping timeout).
func WithPingInterval(d time.Duration) Option { return func(c *config) { c.pingInterval = d } }

// WithAckTimeout makes the fake redeliver an unacked envelope after d, as
// Slack does (retry_attempt+1, retry_reason "timeout"), up to 3 retries. 0
// (the default) disables automatic redelivery; Redeliver still works.
func WithAckTimeout(d time.Duration) Option { return func(c *config) { c.ackTimeout = d } }

// WithTriggerTTL sets how long a trigger_id stays valid for views.open/push
// (Slack: 3 s). 0 disables expiry.
func WithTriggerTTL(d time.Duration) Option { return func(c *config) { c.triggerTTL = d } }

// WithClock injects the clock used for message ts, event_time and trigger
// expiry. Timers (pings, ack timeouts) always use real time.
func WithClock(now func() time.Time) Option { return func(c *config) { c.clock = now } }

// WithOAuthClient sets the client id and secret oauth.v2.access accepts.
func WithOAuthClient(id, secret string) Option {
	return func(c *config) { c.clientID, c.clientSecret = id, secret }
}

// WithMaxSockets lowers or raises the socket cap (default MaxSockets).
func WithMaxSockets(n int) Option { return func(c *config) { c.maxSockets = n } }

// Team is a workspace the fake hosts. Zero fields get defaults from AddTeam.
type Team struct {
	ID           string
	Name         string
	Domain       string
	EnterpriseID string
	BotToken     string // xoxb token the team's calls must carry
	BotUserID    string
	BotID        string
	Scope        string // comma-separated granted bot scopes
	// NoEmailScope simulates an install without users:read.email: users.info
	// answers without profile.email and users.lookupByEmail fails with
	// missing_scope.
	NoEmailScope bool
}

// DefaultScope is the scope list granted to teams that do not set one.
const DefaultScope = "app_mentions:read,channels:history,chat:write,commands,groups:history,im:history,im:write,users:read,users:read.email"

// User is a member of a team.
type User struct {
	ID        string
	TeamID    string
	Name      string
	RealName  string
	Email     string
	HideEmail bool // the profile carries no email even with the scope
	Deleted   bool
	IsBot     bool
	IsAdmin   bool
	TZ        string
}

// Server is a fake Slack: Web API, Socket Mode endpoint, recorder and faults.
// All methods are safe for concurrent use.
type Server struct {
	cfg  config
	http *httptest.Server

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every recorded change
	closed    bool
	seq       int64
	teams     map[string]*Team
	tokens    map[string]string // bot token -> team id
	revoked   map[string]bool
	users     map[string]*User
	dmOpened  map[string]bool
	channels  map[string]*Channel   // conversations.info; nil until AddChannel
	messages  map[string][]*Message // channel -> messages in post order
	views     map[string]*View
	stacks    map[string][]string // user id -> modal view ids, bottom first
	homes     map[string]string   // user id -> home view id
	triggers  map[string]*trigger
	responses map[string]*responseURL
	codes     map[string]*oauthCode
	tickets   map[string]bool
	files     map[string]*File // files.getUploadURLExternal, by id (files.go)

	calls []Call
	acks  []Ack
	faults
	sockets
}

// New starts a fake Slack on a local port. Call Close when done.
func New(opts ...Option) *Server {
	cfg := config{
		appID:        DefaultAppID,
		appTokens:    []string{DefaultAppToken},
		pingInterval: DefaultPingInterval,
		maxRetries:   3,
		triggerTTL:   DefaultTriggerTTL,
		clock:        time.Now,
		maxSockets:   MaxSockets,
	}
	for _, o := range opts {
		o(&cfg)
	}
	s := &Server{
		cfg:       cfg,
		changed:   make(chan struct{}),
		teams:     map[string]*Team{},
		tokens:    map[string]string{},
		revoked:   map[string]bool{},
		users:     map[string]*User{},
		dmOpened:  map[string]bool{},
		messages:  map[string][]*Message{},
		views:     map[string]*View{},
		stacks:    map[string][]string{},
		homes:     map[string]string{},
		triggers:  map[string]*trigger{},
		responses: map[string]*responseURL{},
		codes:     map[string]*oauthCode{},
		tickets:   map[string]bool{},
	}
	s.faults.init()
	s.sockets.init()
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", s.serveAPI)
	mux.HandleFunc("/response/", s.serveResponseURL)
	mux.HandleFunc("/link/", s.serveSocket)
	mux.HandleFunc("/upload/v1/", s.serveUpload)
	s.http = httptest.NewServer(mux)
	return s
}

// URL is the Web API base, ending in "/", for slack.OptionAPIURL and
// slack.OAuthOptionAPIURL.
func (s *Server) URL() string { return s.http.URL + "/api/" }

// BaseURL is the server root without a trailing slash.
func (s *Server) BaseURL() string { return s.http.URL }

// AppID is the app id the fake reports.
func (s *Server) AppID() string { return s.cfg.appID }

// AppToken is the first xapp token apps.connections.open accepts.
func (s *Server) AppToken() string { return s.cfg.appTokens[0] }

// Close drops every socket and stops the HTTP server.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	s.DropConnections()
	s.stopTimers()
	s.http.CloseClientConnections()
	s.http.Close()
}

// AddTeam registers a workspace, filling defaults, and returns the stored copy.
func (s *Server) AddTeam(t Team) Team {
	if t.ID == "" {
		t.ID = "T" + strings.ToUpper(randHex(5))
	}
	if t.Name == "" {
		t.Name = "Team " + t.ID
	}
	if t.Domain == "" {
		t.Domain = strings.ToLower(t.ID)
	}
	if t.BotToken == "" {
		t.BotToken = "xoxb-" + t.ID + "-" + randHex(8)
	}
	if t.BotUserID == "" {
		t.BotUserID = "U" + t.ID[1:] + "BOT"
	}
	if t.BotID == "" {
		t.BotID = "B" + t.ID[1:] + "BOT"
	}
	if t.Scope == "" {
		t.Scope = DefaultScope
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.teams[t.ID]; ok {
		delete(s.tokens, old.BotToken)
	}
	cp := t
	s.teams[t.ID] = &cp
	s.tokens[t.BotToken] = t.ID
	delete(s.revoked, t.BotToken)
	s.notifyLocked()
	return t
}

// Team returns a registered team.
func (s *Server) Team(id string) (Team, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.teams[id]
	if !ok {
		return Team{}, false
	}
	return *t, true
}

// SetEmailScope grants or withdraws users:read.email for a team.
func (s *Server) SetEmailScope(teamID string, granted bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.teams[teamID]
	if !ok {
		return fmt.Errorf("set email scope for %s: %w", teamID, ErrUnknownTeam)
	}
	t.NoEmailScope = !granted
	return nil
}

// AddUser registers (or replaces) a user; TeamID must name a known team.
func (s *Server) AddUser(u User) (User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.teams[u.TeamID]; !ok {
		return User{}, fmt.Errorf("add user %s: team %q: %w", u.ID, u.TeamID, ErrUnknownTeam)
	}
	if u.ID == "" {
		u.ID = "U" + strings.ToUpper(randHex(5))
	}
	if u.Name == "" {
		u.Name = strings.ToLower(u.ID)
	}
	if u.RealName == "" {
		u.RealName = u.Name
	}
	cp := u
	s.users[u.ID] = &cp
	s.notifyLocked()
	return u, nil
}

// User returns a registered user.
func (s *Server) User(id string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return User{}, false
	}
	return *u, true
}

// RevokeToken makes later calls with tok fail with token_revoked.
func (s *Server) RevokeToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked[tok] = true
}

// DMChannel is the stable direct-message channel id the fake uses for a user.
func DMChannel(userID string) string { return "D" + userID }

func (s *Server) now() time.Time { return s.cfg.clock() }

// nextTSLocked returns a message ts unique within this server.
func (s *Server) nextTSLocked() string {
	s.seq++
	return fmt.Sprintf("%d.%06d", s.now().Unix(), s.seq%1000000)
}

// notifyLocked wakes every waiter; callers hold s.mu.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// WaitFor blocks until cond returns true or ctx ends. cond is re-evaluated
// after every recorded change (call, ack, message, view, connection), so
// no polling interval is involved. cond may call Server accessors.
func (s *Server) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("slackfake: wait: %w", ctx.Err())
		}
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
