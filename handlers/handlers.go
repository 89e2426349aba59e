// Package handlers turns routed Slack payloads into domain calls and
// answers. It fills the bot.Router dispatch table; views/ builds the blocks.
package handlers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/blockkit"
	"github.com/accessbot/accessbot/bot/identity"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/internal/metrics"
)

// Invalidator drops a cached Slack user → tenant user mapping, and on a
// user_change the stored Slack ids verified for another email than the
// profile's (bot.Resolver has both).
type Invalidator interface {
	Invalidate(ctx context.Context, teamID, slackUserID string) error
	ProfileChanged(ctx context.Context, teamID, slackUserID, email string) error
}

// Deps are what the handlers need.
type Deps struct {
	Identity Invalidator
	// Requests, when set, adds access requests and approvals (see NewRequests).
	Requests *Requests
	// Reviews, when set, adds access reviews (see NewReviews).
	Reviews *Reviews
	// Lifecycle, when set, handles app_uninstalled and tokens_revoked (see NewLifecycle).
	Lifecycle *Lifecycle
	// Steps, when set, handles the buttons of flow steps (see NewSteps).
	Steps *Steps
	// Flows, when set, adds the admins' buttons on failed provisioning
	// flows and their list on the Home tab (see NewFlows).
	Flows *Flows
	// Playbooks, when set, adds "/access playbooks" (see NewPlaybooks).
	Playbooks *Playbooks
	// PlaybookMenus, when set, runs the playbook chosen in a "Run
	// playbook" menu (see NewPlaybookMenus).
	PlaybookMenus *PlaybookMenus
	// Connectors, when set, shows admins the directory connectors' status
	// on the Home tab (see NewConnectors).
	Connectors *Connectors
	// Purposes, when set, adds "/access purposes", "/access start",
	// "/access sessions" and the Home tab's purposes (see NewPurposes).
	Purposes *Purposes
	// Reports, when set, adds "/access report": audit reports as a file
	// in a DM (see NewReports).
	Reports *Reports
	// HomeVersions, when set, lets an unchanged Home go without a render:
	// a published Home carries the viewer's Home version it was rendered
	// at, and an open whose shown view carries the current one (and is
	// younger than HomeMaxAge) costs one read of the version (see
	// homeStamp). Unset, every open renders.
	HomeVersions HomeVersions
	// Published, when set, remembers for a while that a render at the
	// current version gave the blocks Slack shows already, so a write that
	// did not change this user's Home costs one render, not one per open.
	// Shared across replicas when it is Redis-backed.
	Published Memo
	// Now is the clock for the Home's age; nil is time.Now.
	Now func() time.Time
}

// Handlers holds the dependencies of every handler.
type Handlers struct {
	deps Deps
	// helpList is rendered once: help is the same for everyone, and so
	// is its answer, guarded and encoded once.
	helpList, helpText string
	helpAnswer         *bot.Prepared
	homes              homeFlights
}

// Register fills r. It returns r.Err(), so a duplicate registration fails
// start-up.
func Register(r *bot.Router, deps Deps) error {
	if deps.Identity == nil {
		return errors.New("register handlers: no identity invalidator")
	}
	h := &Handlers{deps: deps}
	h.helpList = views.HelpList(views.Command, h.allHelpEntries())
	h.helpText = views.HelpText(h.helpList)
	help, err := bot.Prepare(func() bot.Message { return bot.Message{Text: h.helpText, Blocks: views.HelpBlocks(h.helpList)} })
	if err != nil {
		return fmt.Errorf("register handlers: help: %w", err)
	}
	h.helpAnswer = help
	// Help is the same for every linked, active user: its sender is
	// resolved from the copy kept in process, so it waits for no store read.
	r.InfoCommand(views.Command, "", h.help)
	r.InfoCommand(views.Command, views.SubHelp, h.help)
	r.Event("app_home_opened", bot.ActorOptional, h.appHomeOpened)
	r.Event("user_change", bot.NoActor, h.userChange)
	if deps.Requests != nil {
		deps.Requests.register(r)
	}
	if deps.Reviews != nil {
		deps.Reviews.register(r)
	}
	if deps.Lifecycle != nil {
		deps.Lifecycle.register(r)
	}
	if deps.Steps != nil {
		deps.Steps.register(r)
	}
	if deps.Flows != nil {
		deps.Flows.register(r)
	}
	if deps.Playbooks != nil {
		deps.Playbooks.register(r)
	}
	if deps.PlaybookMenus != nil {
		deps.PlaybookMenus.register(r)
	}
	if deps.Purposes != nil {
		deps.Purposes.register(r)
	}
	if deps.Reports != nil {
		deps.Reports.register(r)
	}
	return r.Err()
}

// helpEntries is the command list "/access help" shows.
func helpEntries() []views.HelpEntry {
	return []views.HelpEntry{
		{Usage: views.SubHelp, Description: "Show this list of commands."},
	}
}

func (h *Handlers) help(ctx context.Context, req *bot.Request) error {
	return req.RespondPrepared(ctx, h.helpAnswer)
}

// allHelpEntries lists the commands of the registered handlers.
func (h *Handlers) allHelpEntries() []views.HelpEntry {
	entries := helpEntries()
	if h.deps.Requests != nil {
		entries = append(entries, h.deps.Requests.helpEntries()...)
	}
	if h.deps.Reviews != nil {
		entries = append(entries, h.deps.Reviews.helpEntries()...)
	}
	if h.deps.Playbooks != nil {
		entries = append(entries, h.deps.Playbooks.helpEntries()...)
	}
	if h.deps.Purposes != nil {
		entries = append(entries, h.deps.Purposes.helpEntries()...)
	}
	if h.deps.Reports != nil {
		entries = append(entries, h.deps.Reports.helpEntries()...)
	}
	return entries
}

// appHomeOpened publishes the Home tab: who accessbot thinks you are, or
// why you are not linked.
func (h *Handlers) appHomeOpened(ctx context.Context, req *bot.Request) error {
	var ev struct {
		Tab  string     `json:"tab"`
		View *shownHome `json:"view"`
	}
	if err := req.Event.Decode(&ev); err != nil {
		return err
	}
	if ev.Tab != "" && ev.Tab != "home" {
		return nil // the Messages tab needs no view
	}
	if req.API == nil {
		req.Log.Info().AnErr("actor", req.ActorErr).Msg("app home opened in a workspace without a client; nothing published")
		return nil
	}
	var shown homeStamp
	hasShown := false
	if ev.View != nil && ev.View.Type == "home" {
		shown, hasShown = parseStamp(ev.View.PrivateMetadata)
	}
	// One open of a user at a time in this process: one that comes while
	// another renders is done after it, which usually finds it unchanged.
	key := homeMemoKey(req)
	if !h.homes.join(key, homeOpen{req, shown, hasShown}) {
		metrics.HomeOpens.WithLabelValues("coalesced").Inc()
		return nil
	}
	var errs []error
	for o, ok := (homeOpen{req, shown, hasShown}), true; ok; o, ok = h.homes.next(key) {
		if ctx.Err() != nil {
			errs = append(errs, fmt.Errorf("app home for %s: %w", o.req.UserID, ctx.Err()))
			continue // next() still drains the opens waiting
		}
		if err := h.openHome(ctx, o.req, o.shown, o.hasShown); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// openHome renders and publishes req's Home unless Slack shows it as it is.
func (h *Handlers) openHome(ctx context.Context, req *bot.Request, shown homeStamp, hasShown bool) error {
	now := h.now()
	st := homeStamp{Version: noVersion, At: now, Actor: "-"}
	var view slack.HomeTabViewRequest
	if req.Actor != nil {
		st.Actor = actorPrint(req.Actor)
		if h.deps.HomeVersions != nil {
			// Read before any of the Home's data: a write the render misses
			// moves the version past the one stamped.
			// An admin's Home has the admins' sections too.
			v, err := h.deps.HomeVersions.HomeVersion(ctx, req.Actor.Tenant.ID, req.Actor.User.ID, req.Actor.IsAdmin())
			if err != nil {
				req.Log.Debug().Err(err).Msg("home version unavailable; rendering")
			} else {
				st.Version = v
				if h.homeUnchanged(ctx, req, shown, hasShown, v, st.Actor, now) {
					metrics.HomeOpens.WithLabelValues("unchanged").Inc()
					return nil
				}
			}
		}
		view = views.Home(views.HomeInfo{Tenant: req.Actor.Tenant, User: req.Actor.User})
		if h.deps.Requests != nil {
			v, err := h.deps.Requests.HomeView(ctx, req.Actor, views.HomeInfo{Tenant: req.Actor.Tenant, User: req.Actor.User})
			if err != nil {
				return err
			}
			view = v
		}
		if h.deps.Reviews != nil {
			n, err := h.deps.Reviews.HomeCount(ctx, req.Actor)
			if err != nil {
				return err
			}
			view.Blocks.BlockSet = append(view.Blocks.BlockSet, views.HomeReviews(n))
			progress, err := h.deps.Reviews.HomeBlocks(ctx, req.Actor)
			if err != nil {
				return err
			}
			view.Blocks.BlockSet = append(view.Blocks.BlockSet, progress...)
		}
		if h.deps.Purposes != nil {
			blocks, err := h.deps.Purposes.HomeBlocks(ctx, req.Actor)
			if err != nil {
				return err
			}
			view.Blocks.BlockSet = append(view.Blocks.BlockSet, blocks...)
		}
		if h.deps.Flows != nil {
			blocks, err := h.deps.Flows.HomeBlocks(ctx, req.Actor)
			if err != nil {
				return err
			}
			view.Blocks.BlockSet = append(view.Blocks.BlockSet, blocks...)
		}
		if h.deps.Connectors != nil {
			blocks, err := h.deps.Connectors.HomeBlocks(ctx, req.Actor)
			if err != nil {
				return err
			}
			view.Blocks.BlockSet = append(view.Blocks.BlockSet, blocks...)
		}
	} else {
		view = views.UnlinkedHome(views.UnlinkedInfo{Reason: bot.PlainWords(req.ActorErr), Email: reportedEmail(req.ActorErr), Admins: admins(req.ActorErr)})
	}
	if err := blockkit.ValidateHome(view); err != nil {
		return fmt.Errorf("app home for %s: %w", req.UserID, err)
	}
	return h.publishHome(ctx, req, view, st, shown, hasShown)
}

func (h *Handlers) now() time.Time {
	if h.deps.Now != nil {
		return h.deps.Now()
	}
	return time.Now()
}

// reportedEmail is the email Slack reported for an unmatched user, if known.
func reportedEmail(err error) string {
	if e, ok := errors.AsType[*identity.NoMatchError](err); ok {
		return e.Email
	}
	if e, ok := errors.AsType[*identity.TerminatedError](err); ok {
		return e.Email
	}
	return ""
}

// admins names the tenant admins an unmatched user can ask, if known.
func admins(err error) string {
	if e, ok := errors.AsType[*identity.NoMatchError](err); ok {
		return identity.AdminsWords(e.Admins)
	}
	return ""
}

// userChange drops the cached mapping, so a changed email is looked up again,
// and the stored Slack ids that the profile's email no longer backs.
func (h *Handlers) userChange(ctx context.Context, req *bot.Request) error {
	var ev struct {
		User struct {
			ID      string `json:"id"`
			TeamID  string `json:"team_id"`
			Deleted bool   `json:"deleted"`
			Profile struct {
				Email string `json:"email"`
			} `json:"profile"`
		} `json:"user"`
	}
	if err := req.Event.Decode(&ev); err != nil {
		return err
	}
	team := req.TeamID
	if team == "" {
		team = ev.User.TeamID
	}
	if ev.User.ID == "" || team == "" {
		req.Log.Warn().Msg("user_change without user or team id")
		return nil
	}
	email := ev.User.Profile.Email
	if ev.User.Deleted {
		email = "" // a deactivated Slack user maps to no one
	}
	if err := h.deps.Identity.ProfileChanged(ctx, team, ev.User.ID, email); err != nil {
		return fmt.Errorf("invalidate identity %s/%s: %w", team, ev.User.ID, err)
	}
	req.Log.Debug().Str("changed_user", ev.User.ID).Msg("identity cache invalidated")
	return nil
}
