package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/blockkit"
	"github.com/accessbot/accessbot/handlers/views"
)

// ItemAction is one pluggable action on a digest item. Run changes the
// finding (conditionally: a lost race returns accessbot.ErrStale) and
// returns it as it now is; the handler has already re-read the finding and
// checked that the user may act.
type ItemAction struct {
	views.ItemAction
	// AdminOnly refuses the click to anyone but a tenant admin (application
	// owners may otherwise act on their application's findings).
	AdminOnly bool
	Run       func(ctx context.Context, h *Digest, actor *bot.Actor, f *accessbot.Finding) (*accessbot.Finding, error)
}

// ItemActions is the registry of digest item actions, in button order.
// "Run playbook" or "Create issue" are added here without touching the digest.
type ItemActions struct {
	list []ItemAction
}

// NewItemActions builds a registry; an empty or repeated id fails.
func NewItemActions(actions ...ItemAction) (*ItemActions, error) {
	r := &ItemActions{}
	for _, a := range actions {
		if err := r.Add(a); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// Add appends an action; an empty or repeated id, or a nil Run, fails.
func (r *ItemActions) Add(a ItemAction) error {
	switch {
	case a.ID == "" || strings.Contains(a.ID, ":") || a.Run == nil:
		return fmt.Errorf("item action %q: needs an id without ':' and a Run", a.ID)
	case r.get(a.ID) != nil:
		return fmt.Errorf("item action %q: already registered", a.ID)
	}
	r.list = append(r.list, a)
	return nil
}

func (r *ItemActions) get(id string) *ItemAction {
	for i := range r.list {
		if r.list[i].ID == id {
			return &r.list[i]
		}
	}
	return nil
}

// Views lists the actions for the view builders.
func (r *ItemActions) Views() []views.ItemAction {
	out := make([]views.ItemAction, len(r.list))
	for i, a := range r.list {
		out[i] = a.ItemAction
	}
	return out
}

// DefaultItemActions are Acknowledge and Resolve.
func DefaultItemActions() *ItemActions {
	r, err := NewItemActions(
		ItemAction{ItemAction: views.ItemAction{ID: "ack", Label: "Acknowledge"}, Run: setStatus(accessbot.FindingAcknowledged, accessbot.FindingOpen)},
		ItemAction{ItemAction: views.ItemAction{ID: "resolve", Label: "Resolve", Style: slack.StylePrimary},
			Run: setStatus(accessbot.FindingResolved, accessbot.FindingOpen, accessbot.FindingAcknowledged)},
	)
	if err != nil {
		panic(err) // fixed, distinct ids
	}
	return r
}

// setStatus moves a finding to `to` if it is in one of from, and audits it.
func setStatus(to accessbot.FindingStatus, from ...accessbot.FindingStatus) func(context.Context, *Digest, *bot.Actor, *accessbot.Finding) (*accessbot.Finding, error) {
	return func(ctx context.Context, h *Digest, actor *bot.Actor, f *accessbot.Finding) (*accessbot.Finding, error) {
		st := h.cfg.Store
		tid := actor.Tenant.ID
		if !slices.Contains(from, f.Status) {
			return f, fmt.Errorf("finding %s is %s: %w", f.ID, f.Status, accessbot.ErrStale)
		}
		if err := st.SetFindingStatus(ctx, tid, f.ID, from, to, actor.User.ID, h.cfg.Now().UTC()); err != nil {
			return nil, err
		}
		nf, err := st.GetFinding(ctx, tid, f.ID)
		if err != nil {
			return nil, err
		}
		before, _ := json.Marshal(map[string]string{"status": string(f.Status)})
		after, _ := json.Marshal(map[string]string{"status": string(nf.Status)})
		if err := st.AppendAudit(ctx, &accessbot.AuditEntry{TenantID: tid, ActorID: actor.User.ID, Action: "finding." + string(to),
			ObjectType: "finding", ObjectID: f.ID, Before: before, After: after}); err != nil {
			return nil, err
		}
		return nf, nil
	}
}

// RegisterDigest routes the item buttons and the thread items' menu.
func RegisterDigest(r *bot.Router, h *Digest) error {
	for _, a := range h.cfg.Actions.list {
		id := a.ID
		r.Action(views.ActionFindingPrefix+id, func(ctx context.Context, req *bot.Request) error {
			return h.click(ctx, req, id, req.Action.Value)
		})
	}
	r.Action(views.ActionFindingMenu, func(ctx context.Context, req *bot.Request) error {
		id, findingID, ok := strings.Cut(req.Action.SelectedOption.Value, ":")
		if !ok {
			return fmt.Errorf("finding menu: bad value %q", req.Action.SelectedOption.Value)
		}
		if id == views.ItemPlaybook && h.cfg.Playbooks != nil { // "playbook:<finding id>:<playbook id>"
			findingID, playbookID, _ := strings.Cut(findingID, ":")
			return h.cfg.Playbooks.runOn(ctx, req, accessbot.PlaybookFinding, findingID, playbookID)
		}
		return h.click(ctx, req, id, findingID)
	})
	return r.Err()
}

// mayAct: tenant admins, and the owners of the application the finding is
// about: the application itself, or the application of an identity (an
// account in it). Both are re-read here, never taken from the click.
func (h *Digest) mayAct(ctx context.Context, actor *bot.Actor, f *accessbot.Finding) (bool, error) {
	if actor.IsAdmin() {
		return true, nil
	}
	tid := actor.Tenant.ID
	var appID string
	switch f.Subject.Kind {
	case accessbot.SubjectApplication:
		appID = f.Subject.ID
	case accessbot.SubjectIdentity:
		// An external tool's identity id need not be one of ours: then no owner.
		id, err := h.cfg.Store.GetIdentity(ctx, tid, f.Subject.ID)
		if errors.Is(err, accessbot.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		appID = id.AppID
	default:
		return false, nil
	}
	app, err := h.cfg.Store.GetApplication(ctx, tid, appID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return app.OwnedBy(actor.User.ID), nil
}

func (h *Digest) say(ctx context.Context, req *bot.Request, text string) error {
	return req.Respond(ctx, bot.Message{Text: text})
}

// click re-reads the finding, checks the user, runs the action and updates
// the message to show who did what and when. A stale click (someone else
// got there first) is answered politely and still refreshes the message.
func (h *Digest) click(ctx context.Context, req *bot.Request, actionID, findingID string) error {
	actor := req.Actor
	a := h.cfg.Actions.get(actionID)
	if actor == nil || a == nil || findingID == "" {
		return fmt.Errorf("finding action %q on %q: unknown action or no actor", actionID, findingID)
	}
	tid := actor.Tenant.ID
	log := req.Log.With().Str("tenant", tid).Str("finding", findingID).Str("item_action", actionID).Logger()
	f, err := h.cfg.Store.GetFinding(ctx, tid, findingID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return h.say(ctx, req, "That finding no longer exists.")
	}
	if err != nil {
		return err
	}
	ok, err := h.mayAct(ctx, actor, f)
	if err != nil {
		return err
	}
	if !ok {
		return h.say(ctx, req, "Only tenant admins (or the owners of the application concerned) can change findings.")
	}
	if a.AdminOnly && !actor.IsAdmin() {
		return h.say(ctx, req, "Only tenant admins can "+strings.ToLower(a.Label)+" from a finding.")
	}
	nf, err := a.Run(ctx, h, actor, f)
	if say, ok := errors.AsType[sayError](err); ok {
		log.Info().Str("answer", string(say)).Msg("finding action refused")
		return h.say(ctx, req, string(say))
	}
	if errors.Is(err, accessbot.ErrStale) {
		cur, gerr := h.cfg.Store.GetFinding(ctx, tid, findingID)
		if gerr != nil {
			return gerr
		}
		log.Info().Str("status", string(cur.Status)).Msg("stale finding click")
		if err := h.updateItem(ctx, req, cur); err != nil {
			log.Warn().Err(err).Msg("refresh message after stale click")
		}
		return h.say(ctx, req, fmt.Sprintf("No change needed: this finding is already %s%s.", cur.Status, h.byWhom(ctx, tid, cur)))
	}
	if err != nil {
		return err
	}
	log.Info().Str("status", string(nf.Status)).Msg("finding updated from slack")
	return h.updateItem(ctx, req, nf)
}

func (h *Digest) byWhom(ctx context.Context, tenantID string, f *accessbot.Finding) string {
	who := h.name(ctx, tenantID, f.StatusBy)
	if who == "" {
		return ""
	}
	s := " by " + blockkit.Escape(who)
	if f.StatusAt != nil {
		s += " at " + f.StatusAt.In(h.zone(ctx, tenantID)).Format("2006-01-02 15:04 MST")
	}
	return s
}

func (h *Digest) name(ctx context.Context, tenantID, userID string) string {
	switch userID {
	case "":
		return ""
	case accessbot.ActorSystem:
		return "accessbot"
	}
	if u, err := h.cfg.Store.GetUser(ctx, tenantID, userID); err == nil {
		return u.Name
	}
	return userID
}

// updateItem rewrites the clicked message: the item's buttons become its
// status line; on a thread item (a section with a menu) the menu goes and
// the status joins the text. A "Run playbook" menu stays: a finding someone
// acknowledged or resolved may still want one.
func (h *Digest) updateItem(ctx context.Context, req *bot.Request, f *accessbot.Finding) error {
	if req.Interaction == nil || len(req.Interaction.Message.Blocks.BlockSet) == 0 {
		return nil
	}
	who := h.name(ctx, f.TenantID, f.StatusBy)
	status := views.ItemStatus(*f, who, h.zone(ctx, f.TenantID))
	blocks := make([]slack.Block, 0, len(req.Interaction.Message.Blocks.BlockSet)+1)
	for _, b := range req.Interaction.Message.Blocks.BlockSet {
		switch bb := b.(type) {
		case *slack.ActionBlock:
			if bb.BlockID == views.BlockDigestActionsPrefix+f.ID {
				blocks = append(blocks, status)
				var menus []slack.BlockElement
				for _, el := range bb.Elements.ElementSet {
					if sel, ok := el.(*slack.SelectBlockElement); ok && sel.ActionID == views.ActionPlaybookRun {
						menus = append(menus, sel)
					}
				}
				if len(menus) > 0 {
					blocks = append(blocks, slack.NewActionBlock(views.BlockPlaybookRun+"."+f.ID, menus...))
				}
				continue
			}
		case *slack.SectionBlock:
			if bb.BlockID == views.BlockDigestItemPrefix+f.ID && bb.Accessory != nil && bb.Text != nil {
				line := status.(*slack.ContextBlock).ContextElements.Elements[0].(*slack.TextBlockObject).Text
				var acc *slack.Accessory
				if o := bb.Accessory.OverflowElement; o != nil {
					var runs []*slack.OptionBlockObject
					for _, opt := range o.Options {
						if strings.HasPrefix(opt.Value, views.ItemPlaybook+":") {
							runs = append(runs, opt)
						}
					}
					if len(runs) > 0 {
						acc = slack.NewAccessory(slack.NewOverflowBlockElement(o.ActionID, runs...))
					}
				}
				blocks = append(blocks, slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, blockkit.Truncate(bb.Text.Text+"\n"+line, blockkit.MaxSectionText), false, false), nil, acc,
					slack.SectionBlockOptionBlockID(bb.BlockID)))
				continue
			}
		}
		blocks = append(blocks, b)
	}
	return req.Respond(ctx, bot.Message{Text: req.Interaction.Message.Text, Blocks: blocks, InChannel: true, ReplaceOriginal: true})
}
