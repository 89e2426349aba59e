package handlers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/flows/purposes"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/handlers/views"
	"github.com/accessbot/accessbot/store"
)

// Purposes is "/access purposes", "/access start" and "/access sessions",
// the Home tab's purposes and their buttons. Every action re-reads the
// purpose and session and re-checks who may act (flows/purposes).
type Purposes struct {
	svc   *purposes.Service
	reqs  *requests.Service // files assignment and start requests
	st    store.Store
	clock func() time.Time
	log   zerolog.Logger
}

// NewPurposes builds the handlers.
func NewPurposes(svc *purposes.Service, reqs *requests.Service, st store.Store, clock func() time.Time, log zerolog.Logger) *Purposes {
	if clock == nil {
		clock = time.Now
	}
	return &Purposes{svc: svc, reqs: reqs, st: st, clock: clock, log: log}
}

func (h *Purposes) register(r *bot.Router) {
	r.Command(views.Command, views.SubPurposes, h.list)
	r.Command(views.Command, views.SubStart, h.start)
	r.Command(views.Command, views.SubSessions, h.sessions)
	r.Action(views.ActionPurposeAssign, h.openAssign)
	r.Action(views.ActionPurposeStart, h.openStart)
	r.Action(views.ActionSessionStop, h.stop)
	r.Action(views.ActionSessionExtend, h.openExtend)
	r.View(views.CallbackPurposeAsk, h.submitAssign)
	r.View(views.CallbackPurposeStart, h.submitStart)
	r.View(views.CallbackSessionExt, h.submitExtend)
	r.View(views.CallbackSessionStop, h.submitStop)
}

func (h *Purposes) helpEntries() []views.HelpEntry {
	return []views.HelpEntry{
		{Usage: views.SubPurposes, Description: "List purposes: bundles of access you start when you need them."},
		{Usage: views.SubStart + " PURPOSE [length] [reason]", Description: "Start a purpose you are assigned to, e.g. `start oncall-db 2h incident 4711`."},
		{Usage: views.SubSessions, Description: "List active purpose sessions and stop one (admins)."},
	}
}

// lines are the tenant's purposes as userID sees them; with onlyAssigned,
// only those userID is assigned to (all the Home shows), and none are read
// further when there are none.
func (h *Purposes) lines(ctx context.Context, tenantID, userID string, onlyAssigned bool) ([]views.PurposeLine, error) {
	as, err := h.st.ListPurposeAssignments(ctx, tenantID, userID)
	if err != nil || (onlyAssigned && len(as) == 0) {
		return nil, err
	}
	ps, err := h.st.ListPurposes(ctx, tenantID)
	if err != nil || len(ps) == 0 {
		return nil, err
	}
	open, err := h.st.ListPurposeSessions(ctx, tenantID, userID, []accessbot.SessionStatus{accessbot.SessionActive, accessbot.SessionEnding})
	if err != nil {
		return nil, err
	}
	out := make([]views.PurposeLine, 0, len(ps))
	for i := range ps {
		assigned := false
		for _, a := range as {
			assigned = assigned || a.PurposeID == ps[i].ID
		}
		if onlyAssigned && !assigned {
			continue // its entitlements' names are not read
		}
		l := h.line(ctx, &ps[i])
		l.Assigned = assigned
		for _, s := range open {
			if s.PurposeID == ps[i].ID {
				l.Session = &views.SessionLine{ID: s.ID, Purpose: ps[i].Name, Until: s.EndsAt, Ending: s.Status != accessbot.SessionActive}
			}
		}
		out = append(out, l)
	}
	return out, nil
}

func (h *Purposes) line(ctx context.Context, p *accessbot.Purpose) views.PurposeLine {
	return views.PurposeLine{ID: p.ID, Name: p.Name, Description: p.Description, Max: p.MaxSession, StartApproved: p.StartChain != "",
		Entitlements: entitlementNames(ctx, h.st, p)}
}

func entitlementNames(ctx context.Context, st store.Queries, p *accessbot.Purpose) []string {
	out := make([]string, 0, len(p.Connections))
	for _, c := range p.Connections {
		app, conn := "(deleted application)", "(deleted connection)"
		if a, err := st.GetApplication(ctx, p.TenantID, c.AppID); err == nil {
			app = a.Name
		}
		if cn, err := st.GetConnection(ctx, p.TenantID, c.ConnectionID); err == nil {
			conn = cn.Name
		}
		out = append(out, app+" / "+conn)
	}
	return out
}

// HomeBlocks are the Home tab's purposes of the viewer.
func (h *Purposes) HomeBlocks(ctx context.Context, actor *bot.Actor) ([]slack.Block, error) {
	ls, err := h.lines(ctx, actor.Tenant.ID, actor.User.ID, true)
	if err != nil {
		return nil, err
	}
	return views.HomePurposes(ls), nil
}

func (h *Purposes) list(ctx context.Context, req *bot.Request) error {
	ls, err := h.lines(ctx, req.Actor.Tenant.ID, req.Actor.User.ID, false)
	if err != nil {
		return err
	}
	text, blocks := views.PurposesList(ls)
	return req.Respond(ctx, bot.Message{Text: text, Blocks: blocks})
}

// parseStart splits "NAME [length] [reason]".
func parseStart(args string) (name string, d time.Duration, reason string) {
	fields := strings.Fields(args)
	if len(fields) == 0 {
		return "", 0, ""
	}
	name, rest := strings.ToLower(fields[0]), fields[1:]
	if len(rest) > 0 {
		if v, err := parseLength(rest[0]); err == nil {
			d, rest = v, rest[1:]
		}
	}
	return name, d, strings.Join(rest, " ")
}

// parseLength reads 90m, 2h, 1d, 1h30m.
func parseLength(s string) (time.Duration, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if n, ok := strings.CutSuffix(s, "d"); ok {
		v, err := strconv.Atoi(n)
		if err != nil || v <= 0 {
			return 0, fmt.Errorf("%q is not a length", s)
		}
		return time.Duration(v) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Minute {
		return 0, fmt.Errorf("%q is not a length", s)
	}
	return d, nil
}

// start answers "/access start PURPOSE [length] [reason]": with both, it
// starts (or files the start request); otherwise it opens the modal.
func (h *Purposes) start(ctx context.Context, req *bot.Request) error {
	name, d, reason := parseStart(req.Args)
	if name == "" {
		return h.list(ctx, req)
	}
	p, err := h.st.GetPurposeByName(ctx, req.Actor.Tenant.ID, name)
	if errors.Is(err, accessbot.ErrNotFound) {
		return req.Respond(ctx, bot.Message{Text: fmt.Sprintf("There is no purpose %q. `%s %s` lists them.", name, views.Command, views.SubPurposes)})
	}
	if err != nil {
		return err
	}
	if d == 0 || len([]rune(reason)) < accessbot.MinJustification {
		if msg, err := h.cannotStart(ctx, req.Actor, p); msg != "" || err != nil {
			return respondOr(ctx, req, msg, err)
		}
		return openModal(ctx, req, views.StartModal(h.line(ctx, p), d, reason))
	}
	msg, err := h.begin(ctx, req.Actor, p, d, reason)
	if err != nil {
		return err
	}
	return req.Respond(ctx, bot.Message{Text: msg})
}

// begin starts p (or files its start request) and says what happened, in
// words; a refusal is a message, not an error.
func (h *Purposes) begin(ctx context.Context, actor *bot.Actor, p *accessbot.Purpose, d time.Duration, reason string) (string, error) {
	if p.StartChain != "" {
		if err := h.svc.CheckStart(ctx, p, actor.User.ID, d, reason); err != nil {
			return startWords(p, err)
		}
		r, err := h.reqs.Create(ctx, requests.PurposeStart{TenantID: actor.Tenant.ID, RequesterID: actor.User.ID, PurposeID: p.ID, Duration: d, Reason: reason})
		if err != nil {
			var dup *requests.DuplicateRequestError
			if errors.As(err, &dup) {
				return "You already asked to start " + p.Name + "; it waits for approval.", nil
			}
			var fe *requests.FieldErrors
			if errors.As(err, &fe) || errors.Is(err, requests.ErrNoChain) || errors.Is(err, requests.ErrNoApprovers) {
				return "This start cannot be requested: " + err.Error(), nil
			}
			return "", err
		}
		return fmt.Sprintf("Your start of %s for %s was sent for approval (request `%s`). Your access begins once it is approved.", p.Name, views.DurationWords(d), r.ID), nil
	}
	s, err := h.svc.Start(ctx, actor.Tenant.ID, actor.User.ID, p.ID, d, reason)
	if err != nil {
		return startWords(p, err)
	}
	return fmt.Sprintf(":large_green_circle: %s started until %s. Your access is being provisioned; stop it from the Home tab when you are done.", p.Name, views.SlackDate(s.EndsAt)), nil
}

func startWords(p *accessbot.Purpose, err error) (string, error) {
	switch {
	case errors.Is(err, purposes.ErrNotAssigned):
		return fmt.Sprintf("You are not assigned to %s. Ask for it with `%s %s` (Request).", p.Name, views.Command, views.SubPurposes), nil
	case errors.Is(err, purposes.ErrAlreadyActive):
		return "You already have a session of " + p.Name + ": stop or extend it from the Home tab.", nil
	case errors.Is(err, purposes.ErrTooLong):
		return fmt.Sprintf("%s runs for at most %s.", p.Name, views.DurationWords(p.MaxSession)), nil
	case errors.Is(err, purposes.ErrReason):
		return fmt.Sprintf("Say why you start %s, in %d to %d characters.", p.Name, accessbot.MinJustification, accessbot.MaxJustification), nil
	}
	return "", err
}

func (h *Purposes) purpose(ctx context.Context, req *bot.Request, id string) (*accessbot.Purpose, error) {
	p, err := h.st.GetPurpose(ctx, req.Actor.Tenant.ID, id)
	if errors.Is(err, accessbot.ErrNotFound) {
		return nil, req.Respond(ctx, bot.Message{Text: "That purpose no longer exists."})
	}
	return p, err
}

// cannotStart says, before a modal asks for a length and a reason, why
// actor cannot start p at all: not assigned, or a session already open.
func (h *Purposes) cannotStart(ctx context.Context, actor *bot.Actor, p *accessbot.Purpose) (string, error) {
	if _, err := h.st.GetPurposeAssignment(ctx, p.TenantID, p.ID, actor.User.ID); errors.Is(err, accessbot.ErrNotFound) {
		return startWords(p, purposes.ErrNotAssigned)
	} else if err != nil {
		return "", err
	}
	open, err := h.st.ListPurposeSessions(ctx, p.TenantID, actor.User.ID, []accessbot.SessionStatus{accessbot.SessionActive, accessbot.SessionEnding})
	if err != nil {
		return "", err
	}
	for _, o := range open {
		if o.PurposeID == p.ID {
			return startWords(p, purposes.ErrAlreadyActive)
		}
	}
	return "", nil
}

func respondOr(ctx context.Context, req *bot.Request, msg string, err error) error {
	if err != nil {
		return err
	}
	return req.Respond(ctx, bot.Message{Text: msg})
}

func (h *Purposes) openStart(ctx context.Context, req *bot.Request) error {
	p, err := h.purpose(ctx, req, req.Action.Value)
	if p == nil {
		return err
	}
	if msg, err := h.cannotStart(ctx, req.Actor, p); msg != "" || err != nil {
		return respondOr(ctx, req, msg, err)
	}
	return openModal(ctx, req, views.StartModal(h.line(ctx, p), 0, ""))
}

func (h *Purposes) openAssign(ctx context.Context, req *bot.Request) error {
	p, err := h.purpose(ctx, req, req.Action.Value)
	if p == nil {
		return err
	}
	return openModal(ctx, req, views.AssignModal(h.line(ctx, p)))
}

func minutes(req *bot.Request) time.Duration {
	m, err := strconv.Atoi(selectedValue(req, views.BlockPurposeFor, views.ActionPurposeFor))
	if err != nil || m <= 0 {
		return 0
	}
	return time.Duration(m) * time.Minute
}

func (h *Purposes) submitStart(ctx context.Context, req *bot.Request) error {
	p, err := h.st.GetPurpose(ctx, req.Actor.Tenant.ID, req.Interaction.View.PrivateMetadata)
	if errors.Is(err, accessbot.ErrNotFound) {
		return viewErrors(req, map[string]string{views.BlockPurposeFor: "That purpose no longer exists."})
	}
	if err != nil {
		return err
	}
	d, reason := minutes(req), textValue(req, views.BlockPurposeWhy, views.ActionPurposeWhy)
	if d == 0 || d > p.MaxSession {
		return viewErrors(req, map[string]string{views.BlockPurposeFor: fmt.Sprintf("Choose a length of at most %s.", views.DurationWords(p.MaxSession))})
	}
	if len([]rune(reason)) < accessbot.MinJustification {
		return viewErrors(req, map[string]string{views.BlockPurposeWhy: fmt.Sprintf("Say why, in %d to %d characters.", accessbot.MinJustification, accessbot.MaxJustification)})
	}
	msg, err := h.begin(ctx, req.Actor, p, d, reason)
	if err != nil {
		return err
	}
	return viewUpdate(req, views.Notice("Start purpose", msg))
}

func (h *Purposes) submitAssign(ctx context.Context, req *bot.Request) error {
	in := requests.PurposeAssign{TenantID: req.Actor.Tenant.ID, RequesterID: req.Actor.User.ID, PurposeID: req.Interaction.View.PrivateMetadata,
		Justification: textValue(req, views.BlockPurposeWhy, views.ActionPurposeWhy)}
	r, err := h.reqs.Create(ctx, in)
	if err != nil {
		var fe *requests.FieldErrors
		var dup *requests.DuplicateRequestError
		switch {
		case errors.As(err, &fe):
			return viewErrors(req, map[string]string{views.BlockPurposeWhy: strings.TrimSpace(fe.Error())})
		case errors.As(err, &dup):
			return viewErrors(req, map[string]string{views.BlockPurposeWhy: "You already asked for this purpose; it waits for approval."})
		case errors.Is(err, requests.ErrNoChain), errors.Is(err, requests.ErrNoApprovers):
			return viewErrors(req, map[string]string{views.BlockPurposeWhy: "This purpose cannot be requested now: " + err.Error()})
		}
		return fmt.Errorf("create purpose assignment request: %w", err)
	}
	req.Log.Info().Str("request", r.ID).Str("purpose", in.PurposeID).Msg("purpose assignment requested from Slack")
	return viewUpdate(req, views.Notice("Request purpose", "Your request was sent to its approvers (request `"+r.ID+"`). You will hear here when it is decided."))
}

// session loads a session of the actor's tenant with its purpose's name.
func (h *Purposes) session(ctx context.Context, req *bot.Request, id string) (*accessbot.PurposeSession, views.SessionLine, error) {
	s, err := h.st.GetPurposeSession(ctx, req.Actor.Tenant.ID, id)
	if err != nil {
		return nil, views.SessionLine{}, err
	}
	l := views.SessionLine{ID: s.ID, Reason: s.Reason, Until: s.EndsAt, Ending: s.Status != accessbot.SessionActive, Purpose: "(removed purpose)"}
	if p, err := h.st.GetPurpose(ctx, s.TenantID, s.PurposeID); err == nil {
		l.Purpose = p.Name
	}
	l.Holder = nameOf(ctx, h.st, s.TenantID, s.UserID)
	return s, l, nil
}

func nameOf(ctx context.Context, st store.Queries, tenantID, id string) string {
	if u, err := st.GetUser(ctx, tenantID, id); err == nil {
		return u.Name
	}
	return id
}

// stop is Stop on the Home tab (the holder: stops at once) or in the
// admins' list (another's: asks why first).
func (h *Purposes) stop(ctx context.Context, req *bot.Request) error {
	s, line, err := h.session(ctx, req, req.Action.Value)
	if errors.Is(err, accessbot.ErrNotFound) {
		return req.Respond(ctx, bot.Message{Text: "That session no longer exists."})
	}
	if err != nil {
		return err
	}
	if s.UserID != req.Actor.User.ID {
		if !req.Actor.IsAdmin() {
			return req.Respond(ctx, bot.Message{Text: "Only the session's holder or an accessbot admin can stop it."})
		}
		return openModal(ctx, req, views.StopSessionModal(line))
	}
	if _, err := h.svc.Stop(ctx, req.Actor.Tenant.ID, s.ID, req.Actor.User.ID, ""); err != nil {
		return h.refuse(ctx, req, err)
	}
	return req.Respond(ctx, bot.Message{Text: fmt.Sprintf(":white_circle: %s stopped: your access is being removed.", line.Purpose)})
}

func (h *Purposes) refuse(ctx context.Context, req *bot.Request, err error) error {
	switch {
	case errors.Is(err, purposes.ErrNotActive):
		return req.Respond(ctx, bot.Message{Text: "This session is no longer active."})
	case errors.Is(err, purposes.ErrForbidden):
		return req.Respond(ctx, bot.Message{Text: "Only the session's holder or an accessbot admin can do this."})
	}
	return err
}

func (h *Purposes) submitStop(ctx context.Context, req *bot.Request) error {
	reason := textValue(req, views.BlockPurposeWhy, views.ActionPurposeWhy)
	if len([]rune(reason)) < 3 {
		return viewErrors(req, map[string]string{views.BlockPurposeWhy: "Say why: the holder is told."})
	}
	_, err := h.svc.Stop(ctx, req.Actor.Tenant.ID, req.Interaction.View.PrivateMetadata, req.Actor.User.ID, reason)
	switch {
	case errors.Is(err, purposes.ErrNotActive):
		return viewErrors(req, map[string]string{views.BlockPurposeWhy: "This session is no longer active."})
	case errors.Is(err, purposes.ErrForbidden):
		return viewErrors(req, map[string]string{views.BlockPurposeWhy: "Only accessbot admins can stop someone else's session."})
	case err != nil:
		return err
	}
	return viewUpdate(req, views.Notice("Stop session", "Stopped; the holder is told your reason."))
}

func (h *Purposes) openExtend(ctx context.Context, req *bot.Request) error {
	s, line, err := h.session(ctx, req, req.Action.Value)
	if errors.Is(err, accessbot.ErrNotFound) {
		return req.Respond(ctx, bot.Message{Text: "That session no longer exists."})
	}
	if err != nil {
		return err
	}
	if s.UserID != req.Actor.User.ID {
		return req.Respond(ctx, bot.Message{Text: "Only the session's holder can extend it."})
	}
	if s.Status != accessbot.SessionActive {
		return req.Respond(ctx, bot.Message{Text: "This session is no longer active."})
	}
	p, err := h.st.GetPurpose(ctx, s.TenantID, s.PurposeID)
	if err != nil {
		return err
	}
	max := purposes.MaxExtension(p, s, h.clock().UTC())
	choices := views.DurationChoices(max)
	if len(choices) == 0 {
		return req.Respond(ctx, bot.Message{Text: fmt.Sprintf("%s runs for at most %s from now, and yours already does: it cannot be extended now.", p.Name, views.DurationWords(p.MaxSession))})
	}
	return openModal(ctx, req, views.ExtendSessionModal(line, choices, p.StartChain != ""))
}

func (h *Purposes) submitExtend(ctx context.Context, req *bot.Request) error {
	id := req.Interaction.View.PrivateMetadata
	s, err := h.svc.Extend(ctx, req.Actor.Tenant.ID, id, req.Actor.User.ID, minutes(req))
	if errors.Is(err, purposes.ErrNeedsApproval) {
		return h.askExtension(ctx, req, id)
	}
	switch {
	case errors.Is(err, purposes.ErrTooLong):
		return viewErrors(req, map[string]string{views.BlockPurposeFor: "That is longer than the purpose allows from now."})
	case errors.Is(err, purposes.ErrNotActive), errors.Is(err, purposes.ErrForbidden):
		return viewErrors(req, map[string]string{views.BlockPurposeFor: "This session can no longer be extended by you."})
	case err != nil:
		return err
	}
	return viewUpdate(req, views.Notice("Extend session", "Extended until "+views.SlackDate(s.EndsAt)+"."))
}

// sessions answers "/access sessions" (admins): every active session.
func (h *Purposes) sessions(ctx context.Context, req *bot.Request) error {
	if !req.Actor.IsAdmin() {
		return req.Respond(ctx, bot.Message{Text: "Only accessbot admins can list everyone's sessions. Yours are on the Home tab."})
	}
	ss, err := h.st.ListPurposeSessions(ctx, req.Actor.Tenant.ID, "", []accessbot.SessionStatus{accessbot.SessionActive, accessbot.SessionEnding})
	if err != nil {
		return err
	}
	lines := make([]views.SessionLine, 0, len(ss))
	for _, s := range ss {
		_, l, err := h.session(ctx, req, s.ID)
		if err != nil {
			return err
		}
		lines = append(lines, l)
	}
	text, blocks := views.SessionsList(lines)
	return req.Respond(ctx, bot.Message{Text: text, Blocks: blocks})
}

// PurposeNotifier announces sessions in the purpose's channel and tells a
// holder whose session someone else stopped, each once (delivery outbox).
type PurposeNotifier struct {
	n  *Notifier
	st store.Queries
}

var _ purposes.Notifier = (*PurposeNotifier)(nil)

// Purposes is the notifier of flows/purposes; st reads names.
func (n *Notifier) Purposes(st store.Queries) *PurposeNotifier { return &PurposeNotifier{n: n, st: st} }

func (pn *PurposeNotifier) line(ctx context.Context, p *accessbot.Purpose, s *accessbot.PurposeSession) views.SessionLine {
	return views.SessionLine{ID: s.ID, Purpose: p.Name, Holder: nameOf(ctx, pn.st, s.TenantID, s.UserID), Reason: s.Reason, Until: s.EndsAt}
}

// SessionStarted posts the start in the purpose's channel.
func (pn *PurposeNotifier) SessionStarted(ctx context.Context, p *accessbot.Purpose, s *accessbot.PurposeSession) error {
	if p.Channel == "" {
		return nil
	}
	cl, _, err := pn.n.tenantClient(ctx, s.TenantID)
	if err != nil {
		return err
	}
	text := views.SessionStarted(pn.line(ctx, p, s), entitlementNames(ctx, pn.st, p))
	_, _, err = pn.n.out.once(ctx, cl, s.TenantID, delivery{key: "purpose_session:" + s.ID + ":started:" + p.Channel, to: fixed(p.Channel),
		msg: slackapi.Message{Text: text}})
	return err
}

// SessionExtended posts the new end in the channel, once per end.
func (pn *PurposeNotifier) SessionExtended(ctx context.Context, p *accessbot.Purpose, s *accessbot.PurposeSession, from time.Time) error {
	if p.Channel == "" {
		return nil
	}
	cl, _, err := pn.n.tenantClient(ctx, s.TenantID)
	if err != nil {
		return err
	}
	key := "purpose_session:" + s.ID + ":extended:" + s.EndsAt.UTC().Format(time.RFC3339) + ":" + p.Channel
	_, _, err = pn.n.out.once(ctx, cl, s.TenantID, delivery{key: key, to: fixed(p.Channel),
		msg: slackapi.Message{Text: views.SessionExtended(pn.line(ctx, p, s), from)}})
	return err
}

// SessionEnded posts the end in the channel and DMs the holder when an
// admin stopped it, with the reason.
func (pn *PurposeNotifier) SessionEnded(ctx context.Context, p *accessbot.Purpose, s *accessbot.PurposeSession) error {
	cl, team, err := pn.n.tenantClient(ctx, s.TenantID)
	if err != nil {
		return err
	}
	l := pn.line(ctx, p, s)
	by := nameOf(ctx, pn.st, s.TenantID, s.EndedBy)
	expired := s.EndedBy == purposes.SystemActor
	if s.EndedBy == s.UserID {
		by = l.Holder
	}
	var errs []error
	if p.Channel != "" {
		_, _, err := pn.n.out.once(ctx, cl, s.TenantID, delivery{key: "purpose_session:" + s.ID + ":ended:" + p.Channel, to: fixed(p.Channel),
			msg: slackapi.Message{Text: views.SessionEnded(l, by, s.EndReason, expired)}})
		errs = append(errs, err)
	}
	if !expired && s.EndedBy != s.UserID {
		text := fmt.Sprintf(":red_circle: %s stopped your *%s* session: %s. Your access is being removed.", by, p.Name, s.EndReason)
		_, _, err := pn.n.dmOnce(ctx, cl, team, s.TenantID, "purpose_session:"+s.ID+":stopped:holder", s.UserID, slackapi.Message{Text: text})
		errs = append(errs, err)
	} else if expired {
		text := fmt.Sprintf(":white_circle: Your *%s* session reached its end: your access is being removed.", p.Name)
		_, _, err := pn.n.dmOnce(ctx, cl, team, s.TenantID, "purpose_session:"+s.ID+":expired:holder", s.UserID, slackapi.Message{Text: text})
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// askExtension files the extension of a purpose whose starts are approved
// through the same chain; the session keeps its end until it is approved.
func (h *Purposes) askExtension(ctx context.Context, req *bot.Request, sessionID string) error {
	in := requests.PurposeExtend{TenantID: req.Actor.Tenant.ID, RequesterID: req.Actor.User.ID, SessionID: sessionID, Duration: minutes(req),
		Reason: textValue(req, views.BlockPurposeWhy, views.ActionPurposeWhy)}
	r, err := h.reqs.Create(ctx, in)
	if err != nil {
		var fe *requests.FieldErrors
		var dup *requests.DuplicateRequestError
		switch {
		case errors.As(err, &dup):
			return viewErrors(req, map[string]string{views.BlockPurposeFor: "You already asked for more time on this session; it waits for approval."})
		case errors.As(err, &fe):
			out := map[string]string{}
			for _, field := range slices.Sorted(maps.Keys(fe.Fields)) {
				block := views.BlockPurposeFor
				if field == requests.FieldJustification {
					block = views.BlockPurposeWhy
				}
				out[block] = strings.TrimSpace(out[block] + " " + fe.Fields[field])
			}
			return viewErrors(req, out)
		case errors.Is(err, requests.ErrNoChain), errors.Is(err, requests.ErrNoApprovers):
			return viewErrors(req, map[string]string{views.BlockPurposeFor: "This extension cannot be requested now: " + err.Error()})
		}
		return fmt.Errorf("create purpose extension request: %w", err)
	}
	req.Log.Info().Str("request", r.ID).Str("session", sessionID).Msg("purpose extension requested from Slack")
	return viewUpdate(req, views.Notice("Extend session", fmt.Sprintf("Your %s more was sent for approval (request `%s`). Your session keeps its end until it is approved.",
		views.DurationWords(r.Duration), r.ID)))
}
