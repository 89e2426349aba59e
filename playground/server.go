// Package playground is a web page for trying accessbot without a Slack
// workspace: it drives a bot/slackfake server the real bot is connected to.
// A visitor picks which Slack user to be, types /access commands, reads
// their DMs, opens the App Home and fills in modals; every click becomes the
// envelope Slack would send (slash_commands, block_actions,
// block_suggestion, view_submission, app_home_opened).
//
// The page is plain HTML, CSS and JavaScript embedded in the binary. It
// talks to a small JSON API (see Server) that tests can drive directly.
package playground

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/bot/slackfake"
	"github.com/accessbot/accessbot/connectors/webhook/receiver"
)

//go:embed static
var static embed.FS

// DefaultAckTimeout is how long the API waits for the bot to ack an
// envelope (Slack gives up after 3 s; a laptop running tests is slower).
const DefaultAckTimeout = 5 * time.Second

// maxBody caps API request bodies; modal state is small.
const maxBody = 1 << 20

// Person is a Slack user the visitor can be.
type Person struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Email      string `json:"email"`
	Role       string `json:"role,omitempty"`
	Department string `json:"department,omitempty"`
	// Note says what to expect, e.g. "admin" or "not in accessbot: refused".
	Note string `json:"note,omitempty"`
}

// Channel is a public channel the page shows (the bot posts digests and
// critical alerts to the tenant's alert channels).
type Channel struct {
	ID   string `json:"id"`
	Name string `json:"name"` // without "#"
}

// Controls run the bot's clock forward and its scheduled jobs now; the
// playground command gives the real scheduler and its injected clock.
type Controls interface {
	// Now is the bot's clock.
	Now() time.Time
	// Advance moves the clock forward by d and runs one scheduler tick, so
	// what became due (reminders, escalations, expiries, digests) happens.
	Advance(ctx context.Context, d time.Duration) error
	// RunNow runs a scheduled job (one of Jobs) for the tenant at once.
	RunNow(ctx context.Context, job string) error
	// Jobs are the jobs RunNow accepts, with a label for the page.
	Jobs() []Job
}

// Webhooks is what the page shows of a webhook receiver
// (*receiver.Receiver is one).
type Webhooks interface {
	Deliveries() []receiver.Delivery
	Stats() receiver.Stats
}

// Job is a scheduled job the page offers to run now.
type Job struct {
	Name  string `json:"name"`
	Label string `json:"label"`
}

// MaxAdvance caps one move of the clock.
const MaxAdvance = 31 * 24 * time.Hour

// Config is what a Server drives.
type Config struct {
	Fake     *slackfake.Server
	TeamID   string
	TeamName string
	// People are the users offered on the page; each must be a user of
	// TeamID in Fake.
	People []Person
	// Start is the person the page shows first (default the first of People).
	Start    string
	Channels []Channel
	// Controls, when set, adds the clock and "run now" controls.
	Controls Controls
	// Webhooks, when set, is the webhook receiver in the playground
	// process that the example tenant's chains deliver to: the page shows
	// its deliveries (GET /api/webhooks).
	Webhooks   Webhooks
	AckTimeout time.Duration // DefaultAckTimeout when zero
	Log        zerolog.Logger
}

// Server serves the page and its JSON API:
//
//	GET  /api/people                 team and people
//	GET  /api/state?user=U           DMs, top modal, Home view of U
//	POST /api/command  {user,text}   a slash command; answers the ack
//	POST /api/home     {user}        app_home_opened; answers the new Home view
//	POST /api/action   {user,view_id|channel+ts,action,values}  block_actions
//	POST /api/suggest  {user,view_id,block_id,action_id,value}  block_suggestion options
//	POST /api/submit   {user,view_id,values}  view_submission; answers the ack
//	POST /api/close    {user,view_id}          closes the user's modals
//	GET  /api/clock                  the bot's time and the jobs that can run now
//	POST /api/clock    {advance}     moves the clock forward ("24h") and ticks
//	POST /api/run      {job}         runs a scheduled job now
//	GET  /api/webhooks               the playground receiver's deliveries, newest first
type Server struct {
	cfg    Config
	people map[string]Person
	mux    *http.ServeMux
}

var _ http.Handler = (*Server)(nil)

// New checks cfg and builds the Server.
func New(cfg Config) (*Server, error) {
	if cfg.Fake == nil || cfg.TeamID == "" {
		return nil, errors.New("playground: a fake Slack and its team id are required")
	}
	if len(cfg.People) == 0 {
		return nil, errors.New("playground: no people to be")
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = DefaultAckTimeout
	}
	s := &Server{cfg: cfg, people: map[string]Person{}, mux: http.NewServeMux()}
	for _, p := range cfg.People {
		u, ok := cfg.Fake.User(p.ID)
		if !ok || u.TeamID != cfg.TeamID {
			return nil, fmt.Errorf("playground: person %s is not a user of team %s in the fake", p.ID, cfg.TeamID)
		}
		s.people[p.ID] = p
	}
	if _, ok := s.people[cfg.Start]; cfg.Start != "" && !ok {
		return nil, fmt.Errorf("playground: start person %s is not one of the people", cfg.Start)
	}
	sub, err := fs.Sub(static, "static")
	if err != nil {
		return nil, fmt.Errorf("playground: static files: %w", err)
	}
	files := http.FileServerFS(sub)
	s.mux.Handle("GET /{$}", files)
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", files))
	s.mux.HandleFunc("GET /api/people", s.handlePeople)
	s.mux.HandleFunc("GET /api/state", s.handleState)
	s.mux.HandleFunc("POST /api/command", s.handleCommand)
	s.mux.HandleFunc("POST /api/home", s.handleHome)
	s.mux.HandleFunc("POST /api/action", s.handleAction)
	s.mux.HandleFunc("POST /api/suggest", s.handleSuggest)
	s.mux.HandleFunc("POST /api/submit", s.handleSubmit)
	s.mux.HandleFunc("POST /api/close", s.handleClose)
	s.mux.HandleFunc("GET /api/clock", s.handleClock)
	s.mux.HandleFunc("POST /api/clock", s.handleAdvance)
	s.mux.HandleFunc("POST /api/run", s.handleRun)
	s.mux.HandleFunc("GET /api/webhooks", s.handleWebhooks)
	return s, nil
}

// ServeHTTP adds headers that keep message content inert: no inline
// script or remote content runs even if a renderer bug let markup through.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

// apiError is every error answer: {"error": "..."}.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{status: http.StatusInternalServerError, msg: err.Error()}
	}
	s.cfg.Log.Debug().Str("path", r.URL.Path).Int("status", ae.status).Str("error", ae.msg).Msg("playground api error")
	writeJSON(w, ae.status, map[string]string{"error": ae.msg})
}

// decode reads a JSON body into v. Only application/json is accepted, so a
// foreign web page cannot post to the playground without a CORS preflight.
func decode(r *http.Request, v any) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "application/json" {
		return &apiError{status: http.StatusUnsupportedMediaType, msg: "send Content-Type: application/json"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		return badRequest("bad JSON body: %v", err)
	}
	return nil
}

// person returns the known person id, or a 400.
func (s *Server) person(id string) (Person, error) {
	p, ok := s.people[id]
	if !ok {
		return Person{}, badRequest("unknown user %q: pick one of /api/people", id)
	}
	return p, nil
}

// decodeFrom decodes the body into v, whose user (read after decoding)
// must be a known person.
func (s *Server) decodeFrom(r *http.Request, v any, user *string) error {
	if err := decode(r, v); err != nil {
		return err
	}
	_, err := s.person(*user)
	return err
}

// awaitAck waits for the bot's ack of env and returns its payload (nil when
// the ack carried none).
func (s *Server) awaitAck(ctx context.Context, env string) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.AckTimeout)
	defer cancel()
	a, err := s.cfg.Fake.AwaitAck(ctx, env)
	if err != nil {
		return nil, &apiError{status: http.StatusGatewayTimeout,
			msg: fmt.Sprintf("the bot did not answer within %s (is it connected?)", s.cfg.AckTimeout)}
	}
	if string(a.Payload) == "null" {
		return nil, nil
	}
	return a.Payload, nil
}

func (s *Server) handlePeople(w http.ResponseWriter, _ *http.Request) {
	channels := s.cfg.Channels
	if channels == nil {
		channels = []Channel{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"team":     map[string]string{"id": s.cfg.TeamID, "name": s.cfg.TeamName},
		"people":   s.cfg.People,
		"channels": channels,
		"controls": s.cfg.Controls != nil,
		"webhooks": s.cfg.Webhooks != nil,
		"start":    s.cfg.Start,
	})
}

func (s *Server) handleWebhooks(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Webhooks == nil {
		s.fail(w, r, &apiError{status: http.StatusNotFound, msg: "this playground has no webhook receiver"})
		return
	}
	ds := s.cfg.Webhooks.Deliveries()
	if ds == nil {
		ds = []receiver.Delivery{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": ds, "stats": s.cfg.Webhooks.Stats()})
}

// commandBody is POST /api/command.
type commandBody struct {
	User string `json:"user"`
	Text string `json:"text"` // "/access help", "help" or ""
	// Channel is the page's channel the command is typed in ("" the DM):
	// Slack reports it with the command, and channel routes use it.
	Channel string `json:"channel,omitempty"`
}

// commandText strips the "/access" the visitor may type.
func commandText(in string) (string, error) {
	t := strings.TrimSpace(in)
	if strings.HasPrefix(t, "/") {
		name, rest, _ := strings.Cut(t, " ")
		if name != "/access" {
			return "", badRequest("only /access exists here (got %s)", name)
		}
		t = strings.TrimSpace(rest)
	}
	return t, nil
}

func (s *Server) handleCommand(w http.ResponseWriter, r *http.Request) {
	var b commandBody
	if err := s.decodeFrom(r, &b, &b.User); err != nil {
		s.fail(w, r, err)
		return
	}
	text, err := commandText(b.Text)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := s.cfg.Fake.SlashCommand(s.cfg.TeamID, b.User, text)
	if b.Channel != "" {
		i := slices.IndexFunc(s.cfg.Channels, func(c Channel) bool { return c.ID == b.Channel })
		if i < 0 {
			s.fail(w, r, &apiError{status: http.StatusBadRequest, msg: "no channel " + b.Channel + " on this page"})
			return
		}
		p.ChannelID, p.ChannelName = b.Channel, s.cfg.Channels[i].Name
	}
	env := s.cfg.Fake.SendSlashCommand(p)
	ack, err := s.awaitAck(r.Context(), env)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"envelope_id": env, "ack": ack})
}

// userBody is a body naming only the user.
type userBody struct {
	User string `json:"user"`
}

func (s *Server) handleHome(w http.ResponseWriter, r *http.Request) {
	var b userBody
	if err := s.decodeFrom(r, &b, &b.User); err != nil {
		s.fail(w, r, err)
		return
	}
	before, _ := s.cfg.Fake.HomeView(b.User)
	env := s.cfg.Fake.SendEvent(s.cfg.Fake.AppHomeOpened(s.cfg.TeamID, b.User))
	if _, err := s.awaitAck(r.Context(), env); err != nil {
		s.fail(w, r, err)
		return
	}
	// The bot publishes after the ack; wait for a new hash.
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.AckTimeout)
	defer cancel()
	var home slackfake.View
	err := s.cfg.Fake.WaitFor(ctx, func() bool {
		v, ok := s.cfg.Fake.HomeView(b.User)
		home = v
		return ok && v.Hash != before.Hash
	})
	if err != nil {
		s.fail(w, r, &apiError{status: http.StatusGatewayTimeout, msg: "the bot did not publish a Home view"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"home": home.JSON})
}

// Values are view.state.values: block_id → action_id → value.
type Values = map[string]map[string]slackfake.StateValue

// actionBody is POST /api/action: a click in a message (channel, ts) or in
// a view (view_id, with the form's values).
type actionBody struct {
	User    string              `json:"user"`
	Channel string              `json:"channel"`
	TS      string              `json:"ts"`
	ViewID  string              `json:"view_id"`
	Action  slackfake.RawAction `json:"action"`
	Values  Values              `json:"values"`
}

func (s *Server) handleAction(w http.ResponseWriter, r *http.Request) {
	var b actionBody
	if err := s.decodeFrom(r, &b, &b.User); err != nil {
		s.fail(w, r, err)
		return
	}
	if id, _ := b.Action["action_id"].(string); id == "" {
		s.fail(w, r, badRequest("action.action_id is required"))
		return
	}
	var p slackfake.InteractionPayload
	switch {
	case b.ViewID != "":
		if err := s.ownView(b.User, b.ViewID); err != nil {
			s.fail(w, r, err)
			return
		}
		p = s.cfg.Fake.ViewAction(s.cfg.TeamID, b.User, b.ViewID, b.Values, b.Action)
	case b.Channel != "" && b.TS != "":
		m, ok := s.cfg.Fake.Message(b.Channel, b.TS)
		if !ok || m.Deleted || !visibleTo(m, b.User) || !s.inView(b.Channel, b.User) {
			s.fail(w, r, badRequest("no message %s in your conversation", b.TS))
			return
		}
		p = s.cfg.Fake.MessageAction(s.cfg.TeamID, b.User, b.Channel, b.TS, b.Action)
	default:
		s.fail(w, r, badRequest("name the view (view_id) or the message (channel and ts)"))
		return
	}
	ack, err := s.awaitAck(r.Context(), s.cfg.Fake.SendInteractive(p))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ack": ack})
}

// inView reports whether the page shows channel to user: their DM with
// the bot, or one of the configured channels.
func (s *Server) inView(channel, user string) bool {
	if channel == slackfake.DMChannel(user) {
		return true
	}
	for _, c := range s.cfg.Channels {
		if c.ID == channel {
			return true
		}
	}
	return false
}

// ownView refuses views that are not the user's: one visitor tab can be
// anyone, but a payload never mixes a user with another user's view.
func (s *Server) ownView(user, viewID string) error {
	v, ok := s.cfg.Fake.ViewByID(viewID)
	if !ok || v.User != user || v.Closed {
		return badRequest("view %s is not open for %s", viewID, user)
	}
	return nil
}

// suggestBody is POST /api/suggest.
type suggestBody struct {
	User     string `json:"user"`
	ViewID   string `json:"view_id"`
	BlockID  string `json:"block_id"`
	ActionID string `json:"action_id"`
	Value    string `json:"value"`
}

func (s *Server) handleSuggest(w http.ResponseWriter, r *http.Request) {
	var b suggestBody
	if err := s.decodeFrom(r, &b, &b.User); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.ownView(b.User, b.ViewID); err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.AckTimeout)
	defer cancel()
	got, err := s.cfg.Fake.Suggest(ctx, s.cfg.Fake.BlockSuggestion(s.cfg.TeamID, b.User, b.ViewID, b.BlockID, b.ActionID, b.Value))
	if err != nil {
		s.fail(w, r, &apiError{status: http.StatusGatewayTimeout, msg: "the bot did not answer the type-ahead"})
		return
	}
	if got.Options == nil {
		got.Options = []json.RawMessage{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"options": got.Options, "option_groups": got.OptionGroups})
}

// submitBody is POST /api/submit.
type submitBody struct {
	User   string `json:"user"`
	ViewID string `json:"view_id"`
	Values Values `json:"values"`
}

func (s *Server) handleSubmit(w http.ResponseWriter, r *http.Request) {
	var b submitBody
	if err := s.decodeFrom(r, &b, &b.User); err != nil {
		s.fail(w, r, err)
		return
	}
	p, err := s.cfg.Fake.SubmitView(s.cfg.TeamID, b.User, b.ViewID, b.Values)
	if err != nil {
		s.fail(w, r, badRequest("view %s is not open any more", b.ViewID))
		return
	}
	ack, err := s.awaitAck(r.Context(), s.cfg.Fake.SendInteractive(p))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var ra struct {
		ResponseAction string            `json:"response_action"`
		Errors         map[string]string `json:"errors"`
	}
	if len(ack) > 0 {
		_ = json.Unmarshal(ack, &ra) // a non-object ack simply closes the view, as on Slack
	}
	writeJSON(w, http.StatusOK, map[string]any{"ack": ack, "response_action": ra.ResponseAction, "errors": ra.Errors})
}

// closeBody is POST /api/close.
type closeBody struct {
	User   string `json:"user"`
	ViewID string `json:"view_id"`
}

func (s *Server) handleClose(w http.ResponseWriter, r *http.Request) {
	var b closeBody
	if err := s.decodeFrom(r, &b, &b.User); err != nil {
		s.fail(w, r, err)
		return
	}
	notify := false
	if v, ok := s.cfg.Fake.ViewByID(b.ViewID); ok && v.User == b.User && !v.Closed {
		var obj struct {
			NotifyOnClose bool `json:"notify_on_close"`
		}
		_ = json.Unmarshal(v.JSON, &obj)
		notify = obj.NotifyOnClose
	}
	if notify { // Slack tells the app only when the view asked for it
		s.cfg.Fake.SendInteractive(s.cfg.Fake.ViewClosed(s.cfg.TeamID, b.User, b.ViewID))
	}
	s.cfg.Fake.CloseViews(b.User)
	writeJSON(w, http.StatusOK, map[string]any{"closed": true})
}
