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
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers/views"
)

// clickTarget re-reads the request a button names (its value is only the
// request id) and the level the clicker was shown. Unknown ids, and ids of
// another tenant, answer "I can't find that request".
func (h *Requests) clickTarget(ctx context.Context, req *bot.Request) (*accessbot.AccessRequest, int, bool, error) {
	id := strings.TrimSpace(req.Action.Value)
	if id == "" {
		return nil, 0, false, req.Respond(ctx, bot.Message{Text: msgNotFound})
	}
	r, err := h.st.GetRequest(ctx, req.Actor.Tenant.ID, id)
	if errors.Is(err, accessbot.ErrNotFound) {
		req.Log.Info().Str("request", id).Msg("click on an unknown request (or another tenant's)")
		return nil, 0, false, req.Respond(ctx, bot.Message{Text: msgNotFound})
	}
	if err != nil {
		return nil, 0, false, fmt.Errorf("load request %s: %w", id, err)
	}
	level, ok := views.LevelFromBlockID(req.Action.BlockID)
	if !ok {
		level = r.Level
	}
	// The line that ties the envelope (and the replica that took it) to
	// the request: its other lines carry the request id.
	req.Log.Info().Str("request", r.ID).Str("action", req.Action.ActionID).Int("level", level).Msg("click on a request")
	return r, level, true, nil
}

// fromTrackedDM reports whether the click came from a regular message (an
// approval DM, which the notifier updates) rather than an ephemeral list.
func fromTrackedDM(req *bot.Request) bool {
	c := req.Interaction.Container
	return c.Type == "message" && !c.IsEphemeral && c.MessageTs != ""
}

func (h *Requests) approve(ctx context.Context, req *bot.Request) error {
	r, level, ok, err := h.clickTarget(ctx, req)
	if !ok {
		return err
	}
	decide := func(ctx context.Context) error {
		_, err := h.flows.Decide(ctx, requests.DecideInput{TenantID: req.Actor.Tenant.ID, RequestID: r.ID, ActorID: req.Actor.User.ID,
			Level: level, Decision: accessbot.DecisionApprove})
		return err
	}
	if fromTrackedDM(req) && h.clicked != nil {
		// The clicked copy shows the decision at once (response_url); the
		// notifier updates the other copies.
		err = h.clicked.OnClicked(ctx, req, r, level, decide)
	} else {
		err = decide(ctx)
	}
	if errors.Is(err, requests.ErrStepUpRequired) {
		return h.offerStepUp(ctx, req, r, level) // stepup.go
	}
	if err != nil {
		words, ok := h.decisionWords(ctx, req.Actor.Tenant.ID, err)
		if !ok {
			return err
		}
		return req.Respond(ctx, bot.Message{Text: words})
	}
	if fromTrackedDM(req) {
		return nil // the notifier updates every copy (OnClicked: the others)
	}
	return req.Respond(ctx, bot.Message{Text: "You approved request " + r.ID + ".", ReplaceOriginal: req.Interaction.Container.IsEphemeral})
}

// denyMeta is the deny modal's private_metadata.
type denyMeta struct {
	ID    string `json:"id"`
	Level int    `json:"l"`
}

// deny opens the modal asking for a reason. Whether the clicker may deny is
// checked again when it is submitted.
func (h *Requests) deny(ctx context.Context, req *bot.Request) error {
	r, level, ok, err := h.clickTarget(ctx, req)
	if !ok {
		return err
	}
	switch {
	case r.RequesterID == req.Actor.User.ID:
		return req.Respond(ctx, bot.Message{Text: msgSelf})
	case r.TargetUserID == req.Actor.User.ID:
		return req.Respond(ctx, bot.Message{Text: msgTargetSelf})
	case r.Status == accessbot.StatusPending && r.Level == level && !slices.Contains(requests.LevelApprovers(r, level), req.Actor.User.ID):
		return req.Respond(ctx, bot.Message{Text: msgNotApprover})
	}
	card, err := h.cards.card(ctx, r, false)
	if err != nil {
		return err
	}
	meta, err := json.Marshal(denyMeta{ID: r.ID, Level: level})
	if err != nil {
		return fmt.Errorf("encode deny state: %w", err)
	}
	return openModal(ctx, req, views.DenyModal(card, string(meta)))
}

// submitDeny records the deny with its reason; refusals show on the reason.
func (h *Requests) submitDeny(ctx context.Context, req *bot.Request) error {
	var m denyMeta
	if err := json.Unmarshal([]byte(req.Interaction.View.PrivateMetadata), &m); err != nil || m.ID == "" {
		return viewErrors(req, map[string]string{views.BlockDenyReason: msgNotFound})
	}
	_, err := h.flows.Decide(ctx, requests.DecideInput{TenantID: req.Actor.Tenant.ID, RequestID: m.ID, ActorID: req.Actor.User.ID,
		Level: m.Level, Decision: accessbot.DecisionDeny, Reason: textValue(req, views.BlockDenyReason, views.ActionDenyReason)})
	if err != nil {
		words, ok := h.decisionWords(ctx, req.Actor.Tenant.ID, err)
		if !ok {
			return err
		}
		return viewErrors(req, map[string]string{views.BlockDenyReason: words})
	}
	return nil // an empty ack closes the modal; the notifier updates the messages
}

// mayView: the requester, the target, any approver of the request, or an admin.
func mayView(r *accessbot.AccessRequest, actor *bot.Actor) bool {
	u := actor.User.ID
	if actor.IsAdmin() || r.RequesterID == u || r.TargetUserID == u {
		return true
	}
	for i := range r.Levels {
		if slices.Contains(requests.LevelApprovers(r, i), u) {
			return true
		}
	}
	return false
}

// details opens the full request with its chain and history.
func (h *Requests) details(ctx context.Context, req *bot.Request) error {
	r, _, ok, err := h.clickTarget(ctx, req)
	if !ok {
		return err
	}
	if !mayView(r, req.Actor) {
		return req.Respond(ctx, bot.Message{Text: msgNotFound})
	}
	card, err := h.cards.card(ctx, r, true)
	if err != nil {
		return err
	}
	return openModal(ctx, req, views.DetailsModal(card, h.cards.chain(ctx, r)))
}

func (h *Requests) cancel(ctx context.Context, req *bot.Request) error {
	r, _, ok, err := h.clickTarget(ctx, req)
	if !ok {
		return err
	}
	if _, err := h.flows.Cancel(ctx, req.Actor.Tenant.ID, r.ID, req.Actor.User.ID); err != nil {
		words, ok := h.decisionWords(ctx, req.Actor.Tenant.ID, err)
		if !ok {
			return err
		}
		return req.Respond(ctx, bot.Message{Text: words})
	}
	return req.Respond(ctx, bot.Message{Text: "Cancelled request " + r.ID + "."})
}

func (h *Requests) cardsOf(ctx context.Context, rs []accessbot.AccessRequest) ([]views.RequestCard, error) {
	out := make([]views.RequestCard, 0, len(rs))
	cards := h.cards.memo()
	for i := range rs {
		c, err := cards.card(ctx, &rs[i], false)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// mine answers "/access mine".
func (h *Requests) mine(ctx context.Context, req *bot.Request) error {
	rs, err := h.flows.MyRequests(ctx, req.Actor.Tenant.ID, req.Actor.User.ID)
	if err != nil {
		return err
	}
	cards, err := h.cardsOf(ctx, rs)
	if err != nil {
		return err
	}
	held, err := h.myGrants(ctx, req.Actor)
	if err != nil {
		return err
	}
	text, blocks := views.MineList(cards, held)
	return req.Respond(ctx, bot.Message{Text: text, Blocks: blocks})
}

// approvals answers "/access approvals".
func (h *Requests) approvals(ctx context.Context, req *bot.Request) error {
	rs, err := h.flows.PendingFor(ctx, req.Actor.Tenant.ID, req.Actor.User.ID)
	if err != nil {
		return err
	}
	cards, err := h.cardsOf(ctx, rs)
	if err != nil {
		return err
	}
	text, blocks := views.ApprovalsList(cards)
	return req.Respond(ctx, bot.Message{Text: text, Blocks: blocks})
}

// audit answers "/access audit REQUEST_ID", for admins only; without an
// id it offers a picker (audit_picker.go).
func (h *Requests) audit(ctx context.Context, req *bot.Request) error {
	id, _, _ := strings.Cut(strings.TrimSpace(req.Args), " ")
	if !req.Actor.IsAdmin() {
		return req.Respond(ctx, bot.Message{Text: msgAdminsOnly})
	}
	if id == "" {
		text, blocks := views.AuditPicker()
		return req.Respond(ctx, bot.Message{Text: text, Blocks: blocks})
	}
	return h.showAudit(ctx, req, id, false)
}

// showAudit answers with request id's history; replace swaps it in for the
// picker message.
func (h *Requests) showAudit(ctx context.Context, req *bot.Request, id string, replace bool) error {
	hist, err := h.flows.History(ctx, req.Actor.Tenant.ID, req.Actor.User.ID, id)
	switch {
	case errors.Is(err, requests.ErrForbidden):
		return req.Respond(ctx, bot.Message{Text: msgAdminsOnly, ReplaceOriginal: replace})
	case errors.Is(err, accessbot.ErrNotFound):
		return req.Respond(ctx, bot.Message{Text: msgNotFound, ReplaceOriginal: replace})
	case err != nil:
		return err
	}
	card, err := h.cards.card(ctx, hist.Request, true)
	if err != nil {
		return err
	}
	card.Why = requests.Explainable(hist.Request.Kind) // History let only admins through
	lines := make([]views.AuditLine, 0, len(hist.Audit))
	for _, e := range hist.Audit {
		lines = append(lines, views.AuditLine{At: e.At, Actor: h.cards.name(ctx, e.TenantID, e.ActorID), Action: e.Action, Detail: auditDetail(e.After)})
	}
	text, blocks := views.AuditMessage(card, lines)
	return req.Respond(ctx, bot.Message{Text: text, Blocks: blocks, ReplaceOriginal: replace})
}

// auditDetail summarises an audit entry's after-state: status, level, reason.
func auditDetail(after json.RawMessage) string {
	var st struct {
		Status   string `json:"status"`
		Level    int    `json:"level"`
		Decision *struct {
			Reason string `json:"reason"`
		} `json:"decision"`
		Notified []string `json:"notified"`
	}
	if len(after) == 0 || json.Unmarshal(after, &st) != nil {
		return ""
	}
	s := fmt.Sprintf("%s, level %d", st.Status, st.Level)
	if st.Decision != nil && st.Decision.Reason != "" {
		s += ", reason: " + st.Decision.Reason
	}
	if len(st.Notified) > 0 {
		s += fmt.Sprintf(", notified %d", len(st.Notified))
	}
	return s
}

// homeSections are the App Home's "Waiting for me" and "My requests".
func (h *Requests) homeSections(ctx context.Context, actor *bot.Actor) (views.HomeRequests, error) {
	var out views.HomeRequests
	mine, err := h.flows.MyRequests(ctx, actor.Tenant.ID, actor.User.ID)
	if err != nil {
		return out, err
	}
	waiting, err := h.flows.PendingFor(ctx, actor.Tenant.ID, actor.User.ID)
	if err != nil {
		return out, err
	}
	if out.Mine, err = h.cardsOf(ctx, mine); err != nil {
		return out, err
	}
	if out.Waiting, err = h.cardsOf(ctx, waiting); err != nil {
		return out, err
	}
	if out.Grants, err = h.myGrants(ctx, actor); err != nil {
		return out, err
	}
	return out, nil
}

// HomeView is the App Home of a linked user with the request sections.
func (h *Requests) HomeView(ctx context.Context, actor *bot.Actor, info views.HomeInfo) (slack.HomeTabViewRequest, error) {
	sections, err := h.homeSections(ctx, actor)
	if err != nil {
		return slack.HomeTabViewRequest{}, fmt.Errorf("home sections of %s: %w", actor.User.ID, err)
	}
	return views.HomeWithRequests(info, sections), nil
}
