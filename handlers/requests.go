package handlers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/blockkit"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers/views"
)

// RequestFlows is the part of *requests.Service the Slack handlers call.
type RequestFlows interface {
	Prepare(ctx context.Context, in requests.Input) (*requests.Draft, error)
	Create(ctx context.Context, in requests.Input) (*accessbot.AccessRequest, error)
	Decide(ctx context.Context, in requests.DecideInput) (*requests.Outcome, error)
	Cancel(ctx context.Context, tenantID, requestID, actorID string) (*accessbot.AccessRequest, error)
	MyRequests(ctx context.Context, tenantID, userID string) ([]accessbot.AccessRequest, error)
	PendingFor(ctx context.Context, tenantID, approverID string) ([]accessbot.AccessRequest, error)
	History(ctx context.Context, tenantID, actorID, requestID string) (*requests.History, error)
	ExplainRequest(ctx context.Context, tenantID, actorID, requestID string) (*requests.RequestExplanation, error)
}

var _ RequestFlows = (*requests.Service)(nil)

// RequestStore is what the request handlers read directly (every call
// scoped by the actor's tenant).
type RequestStore interface {
	cardStore
	ListReports(ctx context.Context, tenantID, managerID string) ([]accessbot.User, error)
	ListApplications(ctx context.Context, tenantID, query string, limit int) ([]accessbot.Application, error)
	ListConnections(ctx context.Context, tenantID, appID string) ([]accessbot.Connection, error)
	ListResources(ctx context.Context, tenantID, appID string) ([]accessbot.Resource, error)
	GetRequest(ctx context.Context, tenantID, id string) (*accessbot.AccessRequest, error)
	ListUsers(ctx context.Context, tenantID string) ([]accessbot.User, error)
	GetEntitlement(ctx context.Context, tenantID, id string) (*accessbot.Entitlement, error)
	ListEntitlements(ctx context.Context, tenantID, userID string) ([]accessbot.Entitlement, error)
	GetRequestPolicy(ctx context.Context, tenantID string) (*accessbot.RequestPolicy, error)
}

// viewAPI is the modal part of a workspace's Web API; *slackapi.Client has it.
type viewAPI interface {
	OpenView(ctx context.Context, triggerID string, v slack.ModalViewRequest) (*slack.ViewResponse, error)
	PushView(ctx context.Context, triggerID string, v slack.ModalViewRequest) (*slack.ViewResponse, error)
	UpdateView(ctx context.Context, v slack.ModalViewRequest, externalID, hash, viewID string) (*slack.ViewResponse, error)
}

// Requests handles access requests and approvals in Slack.
type Requests struct {
	flows   RequestFlows
	st      RequestStore
	cards   cardLoader
	clicked ClickedMessages
	stepUps StepUps // nil: high-risk approvals cannot be completed (stepup.go)
	clock   func() time.Time
	log     zerolog.Logger
}

// WithClock sets the clock the Extend choices count from (default time.Now).
func (h *Requests) WithClock(now func() time.Time) *Requests {
	h.clock = now
	return h
}

func (h *Requests) now() time.Time {
	if h.clock == nil {
		return time.Now().UTC()
	}
	return h.clock().UTC()
}

// NewRequests builds the request handlers; pass them in Deps.Requests.
func NewRequests(flows RequestFlows, st RequestStore, log zerolog.Logger) *Requests {
	return &Requests{flows: flows, st: st, cards: cardLoader{st: st}, log: log}
}

// ClickedMessages shows an approver's decision on the message they clicked
// at once; *Notifier is one.
type ClickedMessages interface {
	OnClicked(ctx context.Context, req *bot.Request, r *accessbot.AccessRequest, level int, decide func(context.Context) error) error
}

// WithClickedMessages has an Approve click on an approval DM replace that
// message at once through the click's response_url (c.OnClicked), instead
// of leaving it to the notifier's paced chat.update.
func (h *Requests) WithClickedMessages(c ClickedMessages) *Requests {
	h.clicked = c
	return h
}

// register adds the request routes.
func (h *Requests) register(r *bot.Router) {
	r.Command(views.Command, views.SubRequest, h.openRequestForm)
	r.Command(views.Command, views.SubConnection, h.openConnectionForm)
	r.Command(views.Command, views.SubMine, h.mine)
	r.Command(views.Command, views.SubApprovals, h.approvals)
	r.Command(views.Command, views.SubAudit, h.audit)

	r.Suggestion(views.ActionReqApp, h.suggestApps)
	r.Suggestion(views.ActionConnApp, h.suggestApps)
	r.Suggestion(views.ActionReqTarget, h.suggestTargets) // requests_target.go
	r.Action(views.ActionReqApp, h.requestAppChosen)
	r.Action(views.ActionConnKind, h.connectionFormChanged)
	r.Action(views.ActionConnApp, h.connectionFormChanged)
	r.View(views.CallbackRequestForm, h.submitRequestForm)
	r.View(views.CallbackRequestPreview, h.submitRequestPreview)
	r.View(views.CallbackConnectionForm, h.submitConnectionForm)
	r.View(views.CallbackConnectionPreview, h.submitConnectionPreview)

	r.Action(views.ActionApprove, h.approve)
	r.Action(views.ActionDeny, h.deny)
	r.Action(views.ActionDetails, h.details)
	r.Action(views.ActionWhyApprovers, h.whyApprovers) // requests_why.go
	r.Action(views.ActionCancel, h.cancel)
	r.Action(views.ActionStepUp, h.stepUpLinkClicked) // stepup.go
	r.View(views.CallbackDenyReason, h.submitDeny)

	r.Action(views.ActionGrantExtend, h.openExtend) // grants.go
	r.View(views.CallbackGrantExtend, h.submitExtend)

	r.Suggestion(views.ActionAuditPerson, h.suggestAuditPeople)
	r.Action(views.ActionAuditPerson, h.auditPersonChosen)
	r.Action(views.ActionAuditRequest, h.auditRequestChosen)
}

func (h *Requests) helpEntries() []views.HelpEntry {
	return []views.HelpEntry{
		{Usage: views.SubRequest, Description: "Ask for access to an application."},
		{Usage: views.SubConnection, Description: "Ask to create, assign or delete a connection (group, role, policy)."},
		{Usage: views.SubMine, Description: "List your requests and their status."},
		{Usage: views.SubApprovals, Description: "List the requests waiting for your approval."},
		{Usage: views.SubAudit + " [REQUEST_ID]", Description: "Show a request's history (admins); without an id, pick the person and the request."},
	}
}

// Plain words for what a user may see.
const (
	msgNotFound     = "I can't find that request."
	msgNotApprover  = "You are not an approver of this request at its current level, so I can't take your decision."
	msgSelf         = "You can't approve or deny your own request. Someone else on its approval chain will decide."
	msgNoViewAPI    = "Sorry, I can't open forms in this workspace right now. Please try again later."
	msgNotRequester = "Only the person who asked, or the person it is for, can cancel this request."
	msgTargetSelf   = "You can't approve or deny a request made for you. Someone else on its approval chain will decide."
	msgAdminsOnly   = "Sorry, only accessbot admins can read a request's audit history."
)

// alreadyWords says who closed a request, and when.
func (h *Requests) alreadyWords(ctx context.Context, tenantID string, e *requests.AlreadyDecidedError) string {
	who := blockkit.Escape(h.cards.name(ctx, tenantID, e.ByUserID))
	when := views.SlackDate(e.At)
	switch {
	case e.Decision == accessbot.DecisionApprove:
		return fmt.Sprintf("This request was already approved by %s at %s.", who, when)
	case e.Decision == accessbot.DecisionDeny:
		return fmt.Sprintf("This request was already denied by %s at %s.", who, when)
	case e.Status == accessbot.StatusCancelled:
		return fmt.Sprintf("This request was cancelled by %s at %s.", who, when)
	case e.Status == accessbot.StatusExpired:
		return fmt.Sprintf("This request expired at %s.", when)
	}
	return "This request has already moved on; nothing to do."
}

// decisionWords turns a Decide/Cancel error into plain words; ok is false
// for an unexpected failure, which the caller returns as an error.
func (h *Requests) decisionWords(ctx context.Context, tenantID string, err error) (string, bool) {
	var already *requests.AlreadyDecidedError
	var fe *requests.FieldErrors
	switch {
	case errors.As(err, &already):
		return h.alreadyWords(ctx, tenantID, already), true
	case errors.Is(err, accessbot.ErrNotFound):
		return msgNotFound, true
	case errors.Is(err, requests.ErrTargetApproval):
		return msgTargetSelf, true
	case errors.Is(err, requests.ErrSelfApproval):
		return msgSelf, true
	case errors.Is(err, requests.ErrNotApprover):
		return msgNotApprover, true
	case errors.Is(err, requests.ErrForbidden):
		return msgNotRequester, true
	case errors.As(err, &fe):
		return firstFieldError(fe), true
	}
	return "", false
}

func firstFieldError(fe *requests.FieldErrors) string {
	msgs := make([]string, 0, len(fe.Fields))
	for _, k := range sortedKeys(fe.Fields) {
		msgs = append(msgs, fe.Fields[k])
	}
	return strings.Join(msgs, " ")
}

// prepareErrors maps a Prepare/Create error to view errors keyed by block id.
// blockFor maps a requests field to a block of the submitted form; fallback
// takes anything unmapped, so no message is lost. ok is false for an
// unexpected failure.
func prepareErrors(err error, blockFor func(field string) string, fallback, dupBlock string) (map[string]string, bool) {
	var fe *requests.FieldErrors
	var dup *requests.DuplicateRequestError
	out := map[string]string{}
	switch {
	case errors.As(err, &fe):
		for _, k := range sortedKeys(fe.Fields) {
			b := blockFor(k)
			if b == "" {
				b = fallback
			}
			if prev, ok := out[b]; ok {
				out[b] = prev + " " + fe.Fields[k]
			} else {
				out[b] = fe.Fields[k]
			}
		}
	case errors.As(err, &dup):
		out[dupBlock] = fmt.Sprintf("You already have an open request for this: %s. See `%s %s`.", dup.ExistingID, views.Command, views.SubMine)
	case errors.Is(err, requests.ErrNoChain), errors.Is(err, requests.ErrNoApprovers):
		out[fallback] = "No one is set up to approve this yet. Ask your accessbot admin to add an approval chain."
	case errors.Is(err, requests.ErrForbidden):
		out[fallback] = "Your accessbot account can't make requests (it is not active)."
	default:
		return nil, false
	}
	return out, true
}

// viewErrors acks a view submission with inline errors.
func viewErrors(req *bot.Request, errs map[string]string) error {
	for k, v := range errs {
		errs[k] = blockkit.Truncate(v, 2000)
	}
	return req.SetAck(slack.NewErrorsViewSubmissionResponse(errs))
}

// viewUpdate acks a view submission by replacing the view.
func viewUpdate(req *bot.Request, v slack.ModalViewRequest) error {
	if err := blockkit.ValidateView(v); err != nil {
		return fmt.Errorf("view %s: %w", v.CallbackID, err)
	}
	return req.SetAck(slack.NewUpdateViewSubmissionResponse(&v))
}

// openModal opens v with the request's trigger, or pushes it when the click
// came from inside a modal.
func openModal(ctx context.Context, req *bot.Request, v slack.ModalViewRequest) error {
	api, ok := req.API.(viewAPI)
	if !ok || req.TriggerID == "" {
		return req.Respond(ctx, bot.Message{Text: msgNoViewAPI})
	}
	if err := blockkit.ValidateView(v); err != nil {
		return fmt.Errorf("modal %s: %w", v.CallbackID, err)
	}
	var err error
	if req.Interaction != nil && req.Interaction.View.ID != "" && req.Interaction.View.Type == slack.VTModal {
		_, err = api.PushView(ctx, req.TriggerID, v)
	} else {
		_, err = api.OpenView(ctx, req.TriggerID, v)
	}
	if err != nil {
		return fmt.Errorf("open modal %s: %w", v.CallbackID, err)
	}
	return nil
}

// stateValue returns the state of action in block of a submitted or changed view.
func stateValue(req *bot.Request, block, action string) slack.BlockAction {
	if req.Interaction == nil || req.Interaction.View.State == nil {
		return slack.BlockAction{}
	}
	return req.Interaction.View.State.Values[block][action]
}

// viewHasBlock reports whether the submitted view has a block with id; view
// errors must name blocks the view shows.
func viewHasBlock(req *bot.Request, id string) bool {
	if req.Interaction == nil {
		return false
	}
	for _, b := range req.Interaction.View.Blocks.BlockSet {
		if b != nil && b.ID() == id {
			return true
		}
	}
	return false
}

func textValue(req *bot.Request, block, action string) string {
	return strings.TrimSpace(stateValue(req, block, action).Value)
}

func selectedValue(req *bot.Request, block, action string) string {
	return stateValue(req, block, action).SelectedOption.Value
}

// suggestApps answers the application type-ahead.
func (h *Requests) suggestApps(ctx context.Context, req *bot.Request) error {
	query := strings.TrimSpace(req.Interaction.Value)
	apps, err := h.st.ListApplications(ctx, req.Actor.Tenant.ID, query, 100)
	if err != nil {
		_ = req.SetAck(map[string]any{"options": []any{}})
		return fmt.Errorf("suggest applications: %w", err)
	}
	// A routed channel's applications come first.
	if route, err := h.channelRoute(ctx, req.Actor.Tenant.ID, formChannel(req)); err == nil && route != nil {
		rank := func(a accessbot.Application) int {
			if i := slices.Index(route.AppIDs, a.ID); i >= 0 {
				return i
			}
			return len(route.AppIDs)
		}
		slices.SortStableFunc(apps, func(a, b accessbot.Application) int { return rank(a) - rank(b) })
	}
	opts := make([]*slack.OptionBlockObject, 0, len(apps))
	for _, a := range apps {
		opts = append(opts, slack.NewOptionBlockObject(a.ID, slack.NewTextBlockObject(slack.PlainTextType, blockkit.Truncate(a.Name, 75), false, false), nil))
	}
	return req.SetAck(map[string]any{"options": opts})
}

// loadApp reads an application of the actor's tenant; nil when unknown.
func (h *Requests) loadApp(ctx context.Context, tenantID, appID string) (*accessbot.Application, error) {
	if appID == "" {
		return nil, nil
	}
	app, err := h.st.GetApplication(ctx, tenantID, appID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load application %s: %w", appID, err)
	}
	return app, nil
}

// updateOpenView replaces the view the action came from (hash-guarded).
func updateOpenView(ctx context.Context, req *bot.Request, v slack.ModalViewRequest) error {
	api, ok := req.API.(viewAPI)
	if !ok || req.Interaction == nil || req.Interaction.View.ID == "" {
		return fmt.Errorf("update view: no modal to update")
	}
	if err := blockkit.ValidateView(v); err != nil {
		return fmt.Errorf("view %s: %w", v.CallbackID, err)
	}
	if _, err := api.UpdateView(ctx, v, "", req.Interaction.View.Hash, req.Interaction.View.ID); err != nil {
		return fmt.Errorf("update view %s: %w", req.Interaction.View.ID, err)
	}
	return nil
}
