package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/flows/playbooks"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers/views"
)

// PlaybookRunner is what the "Run playbook" menus need of the playbook
// service; *playbooks.Service is one.
type PlaybookRunner interface {
	Offers(ctx context.Context, tenantID string, t accessbot.PlaybookType, appID string) ([]accessbot.Playbook, error)
	RunManual(ctx context.Context, tenantID, playbookID, actorID string, ev playbooks.Event, replyTo string) (*accessbot.PlaybookRun, error)
}

var _ PlaybookRunner = (*playbooks.Service)(nil)

// PlaybookStore is what the menus read to re-check a click.
type PlaybookStore interface {
	GetPlaybook(ctx context.Context, tenantID, id string) (*accessbot.Playbook, error)
	GetFinding(ctx context.Context, tenantID, id string) (*accessbot.Finding, error)
	GetIdentity(ctx context.Context, tenantID, id string) (*accessbot.Identity, error)
	GetApplication(ctx context.Context, tenantID, id string) (*accessbot.Application, error)
	GetRequest(ctx context.Context, tenantID, id string) (*accessbot.AccessRequest, error)
	GetReviewItem(ctx context.Context, tenantID, id string) (*accessbot.ReviewItem, error)
}

// PlaybookMenus offers the active playbooks of an object's type on
// findings (digest and critical alert), requests (approval and requester
// messages) and review items (the review modal), and runs the one chosen.
// A click is re-checked on the server: the object and the playbook are
// re-read, and only someone who may see or act on the object may run it
// (admins always). The person sees at once that it runs and, when the
// delivery ended, how it went (PlaybookReporter).
type PlaybookMenus struct {
	run PlaybookRunner
	st  PlaybookStore
	log zerolog.Logger
}

// NewPlaybookMenus builds the menus; give them to NewDigest (DigestConfig),
// Notifier.WithPlaybooks, Reviews.WithPlaybooks and Deps.PlaybookMenus.
func NewPlaybookMenus(run PlaybookRunner, st PlaybookStore, log zerolog.Logger) *PlaybookMenus {
	return &PlaybookMenus{run: run, st: st, log: log.With().Str("component", "playbook_menus").Logger()}
}

func (m *PlaybookMenus) register(r *bot.Router) {
	r.Action(views.ActionPlaybookRun, func(ctx context.Context, req *bot.Request) error {
		t, objectID, playbookID, ok := views.ParsePlaybookRunValue(req.Action.SelectedOption.Value)
		if !ok {
			return req.Respond(ctx, bot.Message{Text: "That menu is out of date: nothing was run."})
		}
		return m.runOn(ctx, req, t, objectID, playbookID)
	})
}

// choices are the menu's entries for an object of type t about appID. A
// failure is logged and offers nothing: the message goes out without the
// menu rather than not at all. A nil m offers nothing.
func (m *PlaybookMenus) choices(ctx context.Context, tenantID string, t accessbot.PlaybookType, appID string) []views.PlaybookChoice {
	if m == nil {
		return nil
	}
	ps, err := m.run.Offers(ctx, tenantID, t, appID)
	if err != nil {
		m.log.Warn().Err(err).Str("tenant", tenantID).Str("type", string(t)).Msg("playbooks to offer; no menu")
		return nil
	}
	out := make([]views.PlaybookChoice, len(ps))
	for i, p := range ps {
		out[i] = views.PlaybookChoice{ID: p.ID, Name: p.Name}
	}
	return out
}

// findingChoices offers the finding playbooks of each finding's application.
func (m *PlaybookMenus) findingChoices(ctx context.Context, tenantID string, fs []accessbot.Finding) map[string][]views.PlaybookChoice {
	if m == nil || len(fs) == 0 {
		return nil
	}
	byApp := map[string][]views.PlaybookChoice{}
	out := make(map[string][]views.PlaybookChoice, len(fs))
	for i := range fs {
		app, err := playbooks.FindingAppID(ctx, m.st, &fs[i])
		if err != nil {
			m.log.Warn().Err(err).Str("finding", fs[i].ID).Msg("application of a finding; offering the global playbooks")
		}
		cs, ok := byApp[app]
		if !ok {
			cs = m.choices(ctx, tenantID, accessbot.PlaybookFinding, app)
			byApp[app] = cs
		}
		if len(cs) > 0 {
			out[fs[i].ID] = cs
		}
	}
	return out
}

// PlaybookReply is where a manual run's outcome is shown (the run's
// ReplyTo): to User, in Channel (in the thread ThreadTS); for a click in a
// modal, in that modal (ViewID, drawn as View, last hash ViewHash, the
// note under Object's menu), else by DM.
type PlaybookReply struct {
	Team     string                  `json:"team"`
	User     string                  `json:"user"`
	Channel  string                  `json:"channel,omitempty"`
	ThreadTS string                  `json:"thread_ts,omitempty"`
	ViewID   string                  `json:"view_id,omitempty"`
	ViewHash string                  `json:"view_hash,omitempty"`
	Object   string                  `json:"object,omitempty"`
	View     *slack.ModalViewRequest `json:"view,omitempty"`
}

func (r PlaybookReply) encode() string {
	b, _ := json.Marshal(r)
	return string(b)
}

func replyOf(req *bot.Request) PlaybookReply {
	r := PlaybookReply{Team: req.TeamID, User: req.UserID, Channel: req.ChannelID}
	if req.Interaction != nil {
		if r.Channel == "" {
			r.Channel = req.Interaction.Channel.ID
		}
		// A reply in a thread answers in that thread; a thread's parent
		// (whose thread_ts is its own ts) answers in the channel.
		if m := req.Interaction.Message; m.ThreadTimestamp != m.Timestamp {
			r.ThreadTS = m.ThreadTimestamp
		}
	}
	return r
}

// errSay is an answer to the clicker instead of a run.
type errSay string

func (e errSay) Error() string { return string(e) }

// runOn re-reads the object, checks the actor and queues the run.
func (m *PlaybookMenus) runOn(ctx context.Context, req *bot.Request, t accessbot.PlaybookType, objectID, playbookID string) error {
	actor := req.Actor
	if actor == nil {
		return fmt.Errorf("run playbook on %s %s: no actor", t, objectID)
	}
	tid := actor.Tenant.ID
	log := req.Log.With().Str("tenant", tid).Str("playbook", playbookID).Str("object", objectID).Str("type", string(t)).Logger()
	ev, what, err := m.event(ctx, actor, t, objectID)
	if say, ok := errors.AsType[errSay](err); ok {
		log.Info().Str("answer", string(say)).Msg("playbook run refused")
		return req.Respond(ctx, bot.Message{Text: string(say)})
	}
	if err != nil {
		return err
	}
	p, err := m.st.GetPlaybook(ctx, tid, playbookID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return req.Respond(ctx, bot.Message{Text: "That playbook no longer exists: nothing was run."})
	}
	if err != nil {
		return err
	}
	// In a modal, "running…" is drawn before the run is queued: the
	// outcome's redraw needs the hash this draw answers.
	to := replyOf(req)
	shown := showRunning(ctx, req, log, &to, objectID, p.Name)
	run, err := m.run.RunManual(ctx, tid, p.ID, actor.User.ID, ev, to.encode())
	switch {
	case errors.Is(err, playbooks.ErrNotRunnable), errors.Is(err, accessbot.ErrNotFound):
		log.Info().Err(err).Msg("playbook no longer runnable")
		if shown && refuseInModal(ctx, req, to, p.Name, "It was disabled or changed since the menu was drawn.") {
			return nil
		}
		return req.Respond(ctx, bot.Message{Text: fmt.Sprintf("Playbook %s can no longer run on %s (it was disabled or changed): nothing was run.", p.Name, what)})
	case err != nil:
		if shown {
			refuseInModal(ctx, req, to, p.Name, "Something went wrong while queueing it; try again.")
		}
		return err
	}
	log.Info().Str("webhook_id", run.EventID).Str("actor", actor.User.ID).Bool("in_modal", shown).Msg("playbook run by hand")
	if shown {
		return nil
	}
	return req.Respond(ctx, bot.Message{Text: views.PlaybookQueuedText(p.Name, what)})
}

// event re-reads the object and checks that actor may run playbooks on it:
// admins; a finding's application owners; a request's requester, target
// and approvers (any level); a review item's reviewer.
func (m *PlaybookMenus) event(ctx context.Context, actor *bot.Actor, t accessbot.PlaybookType, id string) (playbooks.Event, string, error) {
	tid, uid := actor.Tenant.ID, actor.User.ID
	gone := func(err error, what string) error {
		if errors.Is(err, accessbot.ErrNotFound) {
			return errSay("That " + what + " no longer exists: nothing was run.")
		}
		return err
	}
	switch t {
	case accessbot.PlaybookFinding:
		f, err := m.st.GetFinding(ctx, tid, id)
		if err != nil {
			return playbooks.Event{}, "", gone(err, "finding")
		}
		appID, err := playbooks.FindingAppID(ctx, m.st, f)
		if err != nil {
			return playbooks.Event{}, "", err
		}
		if !actor.IsAdmin() {
			ok, err := m.owns(ctx, tid, uid, appID)
			if err != nil {
				return playbooks.Event{}, "", err
			}
			if !ok {
				return playbooks.Event{}, "", errSay("Only tenant admins (or the owners of the application concerned) can run playbooks on findings.")
			}
		}
		return playbooks.ManualFinding(f, appID), "this finding", nil
	case accessbot.PlaybookRequest:
		r, err := m.st.GetRequest(ctx, tid, id)
		if err != nil {
			return playbooks.Event{}, "", gone(err, "request")
		}
		ok := actor.IsAdmin() || uid == r.RequesterID || uid == r.TargetUserID
		for l := range r.Levels {
			ok = ok || slices.Contains(requests.LevelApprovers(r, l), uid)
		}
		if !ok {
			return playbooks.Event{}, "", errSay("Only the requester, the approvers and tenant admins can run playbooks on this request.")
		}
		return playbooks.ManualRequest(r), "this request", nil
	case accessbot.PlaybookReview:
		it, err := m.st.GetReviewItem(ctx, tid, id)
		if err != nil {
			return playbooks.Event{}, "", gone(err, "review item")
		}
		if !actor.IsAdmin() && uid != it.ReviewerID {
			return playbooks.Event{}, "", errSay("Only the item's reviewer and tenant admins can run playbooks on this review item.")
		}
		return playbooks.ManualReview(it), "this review item", nil
	}
	return playbooks.Event{}, "", fmt.Errorf("run playbook: unknown type %q", t)
}

// owns reports whether userID owns application appID ("" owns nothing).
func (m *PlaybookMenus) owns(ctx context.Context, tenantID, userID, appID string) (bool, error) {
	if appID == "" {
		return false, nil
	}
	app, err := m.st.GetApplication(ctx, tenantID, appID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return app.OwnedBy(userID), nil
}

// ephemeralPoster is the part of a workspace client that shows a message
// to one user; *slackapi.Client is one.
type ephemeralPoster interface {
	PostEphemeral(ctx context.Context, channelID, userID string, m slackapi.Message) (string, error)
}

var _ ephemeralPoster = (*slackapi.Client)(nil)
