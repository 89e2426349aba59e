package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store"
)

// purposeFlow is the MessageRef purpose of a flow's one message (ObjectID: the flow id).
const purposeFlow = "flow"

// FlowNotifier shows provisioning flows in Slack: one message per flow in
// the requester's request thread (or, for a flow no request started, a DM
// to the person whose access it is), posted once and then updated as each
// step runs; and a failed step's error, with Retry, Mark done and Cancel
// flow, to every tenant admin.
type FlowNotifier struct{ n *Notifier }

var _ provision.Notifier = (*FlowNotifier)(nil)

// Flows returns the provisioning notifier sending through n.
func (n *Notifier) Flows() *FlowNotifier { return &FlowNotifier{n: n} }

// flowWhat names what a flow is about, for people: "GitLab / developers".
func flowWhat(f *accessbot.ActionFlow) string {
	var fl provision.Fields
	_ = json.Unmarshal(f.Fields, &fl)
	what := fl.Application.Name
	if fl.Connection.Name != "" {
		what += " / " + fl.Connection.Name
	}
	if what == "" {
		what = "access"
	}
	return what
}

// FlowChanged posts or updates the flow's message and, when its current
// step failed, tells the admins (once per failure).
func (fn *FlowNotifier) FlowChanged(ctx context.Context, f *accessbot.ActionFlow) error {
	n := fn.n
	cl, team, err := n.tenantClient(ctx, f.TenantID)
	if err != nil {
		return err
	}
	text, blocks := views.FlowMessage(f, flowWhat(f))
	msg := slackapi.Message{Text: text, Blocks: blocks}
	all, err := n.st.ListMessageRefs(ctx, f.TenantID, f.ID)
	if err != nil {
		return fmt.Errorf("list messages of flow %s: %w", f.ID, err)
	}
	// The flow's steps remember their own messages under its id too (a
	// manual step's DMs to the owners): only a purposeFlow ref is this one.
	var refs []accessbot.MessageRef
	for _, r := range all {
		if r.Purpose == purposeFlow {
			refs = append(refs, r)
		}
	}
	var errs []error
	if len(refs) == 0 {
		posted := false
		ch, ts, err := fn.post(ctx, cl, team, f, msg, &posted)
		if err != nil {
			return err
		}
		if err := n.st.SaveMessageRef(ctx, &accessbot.MessageRef{TenantID: f.TenantID, ObjectID: f.ID, Purpose: purposeFlow,
			UserID: f.UserID, ChannelID: ch, TS: ts}); err != nil {
			return fmt.Errorf("remember the message of flow %s: %w", f.ID, err)
		}
		// A post made by an earlier run may show an older state than f:
		// update it to f. One made now shows f (and costs no update, which
		// Slack paces at one a second for the whole workspace).
		refs = []accessbot.MessageRef{{ChannelID: ch, TS: ts, Purpose: purposeFlow}}
		if posted {
			refs = nil
			jobs.NoteWrite(ctx, messageTarget(ch, ts), messageDigest(msg))
		}
	}
	for _, r := range refs {
		if err := updateMessage(ctx, cl, r.ChannelID, r.TS, msg); err != nil {
			errs = append(errs, fmt.Errorf("update the message of flow %s: %w", f.ID, err))
		}
	}
	if f.Status == accessbot.FlowFailed {
		errs = append(errs, fn.tellAdmins(ctx, cl, team, f))
	}
	return errors.Join(errs...)
}

// post makes the flow's one message: in the requester's request thread
// when there is one, else a DM to the person whose access it is.
func (fn *FlowNotifier) post(ctx context.Context, cl ChatAPI, team string, f *accessbot.ActionFlow, msg slackapi.Message, posted *bool) (string, string, error) {
	n := fn.n
	key := "flow:" + f.ID + ":message"
	if f.RequestID != "" {
		req, err := n.st.GetRequest(ctx, f.TenantID, f.RequestID)
		if err != nil && !errors.Is(err, accessbot.ErrNotFound) {
			return "", "", fmt.Errorf("load request %s: %w", f.RequestID, err)
		}
		if err == nil {
			refs, err := n.refs(ctx, req, purposeRequester)
			if err != nil {
				return "", "", err
			}
			if len(refs) > 0 {
				r := refs[0]
				key = deliveryKey(req.ID, "flow:"+f.Direction, r.UserID+"@"+r.ChannelID)
				return n.out.once(ctx, cl, f.TenantID, delivery{key: key, to: fixed(r.ChannelID), thread: r.TS, msg: msg, posted: posted})
			}
		}
	}
	if f.UserID == "" {
		return "", "", fmt.Errorf("flow %s has no request thread and no user to tell: %w", f.ID, accessbot.ErrNotFound)
	}
	to, after := n.dmDelivery(cl, team, f.TenantID, f.UserID)
	return n.out.once(ctx, cl, f.TenantID, delivery{key: key, msg: msg, posted: posted, to: to, after: after})
}

// tellAdmins DMs every active tenant admin the failed step, once per failure.
func (fn *FlowNotifier) tellAdmins(ctx context.Context, cl ChatAPI, team string, f *accessbot.ActionFlow) error {
	n := fn.n
	s := f.Steps[min(f.Current, len(f.Steps)-1)]
	var at int64
	if s.FinishedAt != nil {
		at = s.FinishedAt.UnixNano()
	}
	users, err := n.st.ListUsers(ctx, f.TenantID)
	if err != nil {
		return fmt.Errorf("list tenant admins: %w", err)
	}
	text, blocks := views.FlowFailedMessage(f, flowWhat(f))
	var errs []error
	for _, u := range users {
		if u.Role != accessbot.RoleAdmin || u.Status != accessbot.UserActive {
			continue
		}
		key := "flow:" + f.ID + ":failed:" + strconv.Itoa(f.Current) + ":" + strconv.FormatInt(at, 10) + ":" + u.ID
		if _, _, err := n.dmOnce(ctx, cl, team, f.TenantID, key, u.ID, slackapi.Message{Text: text, Blocks: blocks}); err != nil {
			errs = append(errs, fmt.Errorf("tell admin %s that flow %s failed: %w", u.ID, f.ID, err))
		}
	}
	return errors.Join(errs...)
}

// Run is the manual step: the application's owners (the tenant admins when
// it has none) are DMed what to do, once each however often the step is
// retried, and the flow waits for their answer.
func (f *Fulfilment) Run(ctx context.Context, s provision.Step) (provision.Result, error) {
	n := f.n
	req, err := f.manualRequest(ctx, s) // nil: no request card, a deprovisioning says what to remove
	if err != nil {
		return provision.Result{}, err
	}
	cl, team, err := n.tenantClient(ctx, s.TenantID)
	if err != nil {
		return provision.Result{}, err
	}
	probe := &accessbot.AccessRequest{TenantID: s.TenantID, AppID: s.Fields.Application.ID}
	owners, err := f.owners(ctx, probe)
	if err != nil {
		return provision.Result{}, err
	}
	if len(owners) == 0 {
		return provision.Result{}, provision.Permanent(fmt.Errorf("the application has no active owner and the tenant no active admin: %w", accessbot.ErrNotFound))
	}
	msg, err := f.manualMessage(ctx, s, req, nil)
	if err != nil {
		return provision.Result{}, err
	}
	// A request's first manual step keeps the delivery key of the
	// hand-over it replaces, so a step retried across an upgrade asks no one twice.
	what := "fulfilment"
	if s.Index > 0 {
		what += ":" + strconv.Itoa(s.Index)
	}
	var errs []error
	for _, id := range owners {
		key := "flow:" + s.Key + ":manual:" + id
		if req != nil {
			key = deliveryKey(req.ID, what, id)
		}
		ch, ts, err := n.dmOnce(ctx, cl, team, s.TenantID, key, id, msg)
		if err == nil {
			// Remembered so the answer updates every owner's copy (Steps.converge).
			err = n.st.SaveMessageRef(ctx, &accessbot.MessageRef{TenantID: s.TenantID, ObjectID: s.FlowID, Purpose: stepPurpose(s.Index), UserID: id, ChannelID: ch, TS: ts})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("ask owner %s: %w", id, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return provision.Result{}, err
	}
	return provision.Result{Wait: true, Note: fmt.Sprintf("asked %d owner(s) to do it by hand", len(owners))}, nil
}

// manualMessage is the owners' message of manual step s: the request's
// card when the step has no text of its own and a request applies, else
// the step's text (or manualText). answered, once the step is answered,
// replaces the buttons with who answered, so the update keeps the words
// the owners were first shown.
func (f *Fulfilment) manualMessage(ctx context.Context, s provision.Step, req *accessbot.AccessRequest, answered *views.StepAnswer) (slackapi.Message, error) {
	var msg slackapi.Message
	p := views.StepPrompt{Kind: "manual", FlowID: s.FlowID, Index: s.Index, Answered: answered}
	if req != nil && s.Params["text"] == "" {
		card, err := f.n.cards.card(ctx, req, true)
		if err != nil {
			return msg, err
		}
		ask := views.Fulfilment{Until: derefTime(s.Fields.Expiry)}
		for _, a := range s.Fields.Approvers {
			ask.ApprovedBy = append(ask.ApprovedBy, a.Name)
		}
		msg.Text, msg.Blocks = views.FulfilmentMessage(card, ask)
		// Done / Can't do it: answered through the Resolver by Steps.
		if answered != nil {
			msg.Blocks = append(msg.Blocks, views.StepStatus(p))
			msg.Text += " — " + views.StepStatusText(p)
		} else {
			msg.Blocks = append(msg.Blocks, views.StepActions(p))
		}
		return msg, nil
	}
	p.Title, p.Text = "Access to carry out", slackEscape(manualText(s))
	if t := strings.TrimSpace(s.Params["title"]); t != "" {
		p.Title = t
	}
	msg.Text, msg.Blocks = views.StepMessage(p)
	return msg, nil
}

// manualRequest is the request whose card a manual step shows, nil when
// none applies (a deprovisioning, or a request gone).
func (f *Fulfilment) manualRequest(ctx context.Context, s provision.Step) (*accessbot.AccessRequest, error) {
	if s.Fields.Request.ID == "" || deprovisioning(s) {
		return nil, nil
	}
	req, err := f.n.st.GetRequest(ctx, s.TenantID, s.Fields.Request.ID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load request %s: %w", s.Fields.Request.ID, err)
	}
	return req, nil
}

func deprovisioning(s provision.Step) bool { return s.Fields.Request.Kind == "" }

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// manualText is what a manual step asks when no request card applies (a deprovisioning, a later step).
func manualText(s provision.Step) string {
	what := s.Fields.Application.Name
	if s.Fields.Connection.Name != "" {
		what += " / " + s.Fields.Connection.Name
	}
	if t := s.Params["text"]; t != "" {
		return t
	}
	if deprovisioning(s) {
		return fmt.Sprintf("Please remove %s's access to %s by hand (%s).", s.Fields.Target.Name, what, s.Fields.Request.Reason)
	}
	return fmt.Sprintf("Please grant %s access to %s by hand.", s.Fields.Target.Name, what)
}

// Flows handles the tenant admins' buttons on a failed flow and lists
// failed and waiting flows on their Home tab.
type Flows struct {
	eng *provision.Engine
	st  store.Store
}

// NewFlows returns the flow handlers; register them with Deps.Flows.
func NewFlows(eng *provision.Engine, st store.Store) *Flows { return &Flows{eng: eng, st: st} }

func (h *Flows) register(r *bot.Router) {
	r.Action(views.ActionFlowRetry, h.admin(provision.AdminRetry))
	r.Action(views.ActionFlowMarkDone, h.admin(provision.AdminMarkDone))
	r.Action(views.ActionFlowCancel, h.admin(provision.AdminCancel))
}

// admin carries out one button; the engine checks again that the clicker is an admin.
func (h *Flows) admin(act provision.AdminAction) func(ctx context.Context, req *bot.Request) error {
	return func(ctx context.Context, req *bot.Request) error {
		id := req.Action.Value
		err := h.eng.Admin(ctx, req.Actor.Tenant.ID, id, req.Actor.User.ID, act)
		var say string
		switch {
		case err == nil:
			say = map[provision.AdminAction]string{provision.AdminRetry: "Retrying the failed step.",
				provision.AdminMarkDone: "Marked the step done; the flow goes on.", provision.AdminCancel: "Flow cancelled."}[act]
		case errors.Is(err, provision.ErrOwnApproval):
			say = "You can't mark done an approval of your own access: its named approver answers it. Retry asks them again."
		case errors.Is(err, provision.ErrForbidden):
			say = "Sorry, only accessbot admins can retry, mark done or cancel a flow."
		case errors.Is(err, provision.ErrNotFailed):
			say = "This flow is no longer stopped on a failed step; nothing was changed."
		case errors.Is(err, accessbot.ErrNotFound):
			say = "I can't find that flow."
		default:
			return err
		}
		return req.Respond(ctx, bot.Message{Text: say})
	}
}

// HomeBlocks lists failed and waiting flows for an admin; nothing for others.
func (h *Flows) HomeBlocks(ctx context.Context, actor *bot.Actor) ([]slack.Block, error) {
	if actor == nil || !actor.IsAdmin() || actor.User.Status != accessbot.UserActive {
		return nil, nil
	}
	fl, err := h.st.ListActionFlowsByStatus(ctx, actor.Tenant.ID, []accessbot.FlowStatus{accessbot.FlowFailed, accessbot.FlowWaiting}, 10)
	if err != nil {
		return nil, fmt.Errorf("list failed and waiting flows: %w", err)
	}
	return views.HomeFlows(fl, flowWhat), nil
}
