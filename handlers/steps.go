package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/handlers/views"
)

// StepStore is what the Slack flow steps read and write; store.Store has it.
type StepStore interface {
	GetUser(ctx context.Context, tenantID, id string) (*accessbot.User, error)
	GetUserByEmail(ctx context.Context, tenantID, email string) (*accessbot.User, error)
	GetApplication(ctx context.Context, tenantID, id string) (*accessbot.Application, error)
	ListUsers(ctx context.Context, tenantID string) ([]accessbot.User, error)
	GetActionFlow(ctx context.Context, tenantID, id string) (*accessbot.ActionFlow, error)
	SaveMessageRef(ctx context.Context, m *accessbot.MessageRef) error
	ListMessageRefs(ctx context.Context, tenantID, objectID string) ([]accessbot.MessageRef, error)
}

// Steps carries out slack_notification and slack_approval, and handles the
// buttons of those and of the manual step (the owners' Done / Can't do it,
// posted by Fulfilment). Messages go out through the notifier's delivery
// outbox, so a retried step posts nothing twice; an answer goes through
// the Resolver, which checks again who may give it and takes it once.
type Steps struct {
	n        *Notifier
	st       StepStore
	resolver provision.Resolver
	log      zerolog.Logger
}

// NewSteps builds the Slack steps; register them with the engine for
// provision.KindSlack, and pass them in Deps.Steps.
func NewSteps(n *Notifier, st StepStore, resolver provision.Resolver, log zerolog.Logger) *Steps {
	return &Steps{n: n, st: st, resolver: resolver, log: log.With().Str("component", "flow_steps").Logger()}
}

var _ provision.Runner = (*Steps)(nil)

func stepPurpose(index int) string { return "step:" + strconv.Itoa(index) }

// Run posts the step's message(s). slack_approval waits for an answer.
func (s *Steps) Run(ctx context.Context, st provision.Step) (provision.Result, error) {
	cl, team, err := s.n.tenantClient(ctx, st.TenantID)
	if err != nil {
		return provision.Result{}, err
	}
	p := stepPrompt(st.Kind, st.Op, st.Params, st.Fields)
	p.FlowID, p.Index = st.FlowID, st.Index
	text, blocks := views.StepMessage(p)
	msg := slackapi.Message{Text: text, Blocks: blocks}

	var users []string
	var channels []string
	switch {
	case st.Kind == provision.KindSlack && st.Op == "approval":
		u, err := s.person(ctx, st, st.Params["approver"], "approver")
		if err != nil {
			return provision.Result{}, err
		}
		users = []string{u.ID}
	case st.Kind == provision.KindSlack && st.Op == "notification":
		for _, to := range splitComma(st.Params["to"]) {
			if isChannelID(to) {
				channels = append(channels, to)
				continue
			}
			u, err := s.person(ctx, st, to, "to")
			if err != nil {
				return provision.Result{}, err
			}
			users = append(users, u.ID)
		}
		if len(users)+len(channels) == 0 {
			if st.Fields.Target.ID == "" {
				return provision.Result{}, provision.Permanent(fmt.Errorf("step %d (%s): parameter to is required", st.Index+1, st.Type))
			}
			users = []string{st.Fields.Target.ID}
		}
	default:
		return provision.Result{}, provision.Permanent(fmt.Errorf("%s: %w", st.Type, provision.ErrUnknownScript))
	}

	var errs []error
	var names []string
	for _, id := range users {
		names = append(names, s.n.cards.name(ctx, st.TenantID, id))
		ch, ts, err := s.n.dmOnce(ctx, cl, team, st.TenantID, stepKey(st, id), id, msg)
		if err == nil {
			err = s.st.SaveMessageRef(ctx, &accessbot.MessageRef{TenantID: st.TenantID, ObjectID: st.FlowID, Purpose: stepPurpose(st.Index), UserID: id, ChannelID: ch, TS: ts})
		}
		errs = append(errs, err)
	}
	for _, ch := range channels {
		names = append(names, "<#"+ch+">")
		_, _, err := s.n.out.once(ctx, cl, st.TenantID, delivery{key: stepKey(st, ch), to: fixed(ch), msg: msg})
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return provision.Result{}, fmt.Errorf("post step %d of flow %s: %w", st.Index+1, st.FlowID, err)
	}
	if st.Op == "approval" {
		return provision.Result{Wait: true, Note: "waiting for " + strings.Join(names, ", ") + " to approve"}, nil
	}
	return provision.Result{Note: "told " + strings.Join(names, ", ")}, nil
}

// stepKey is the delivery key of one step message to one recipient.
func stepKey(st provision.Step, recipient string) string {
	return "flow:" + st.FlowID + ":" + strconv.Itoa(st.Index) + ":" + recipient
}

// person reads a user param: a tenant user's id or email.
func (s *Steps) person(ctx context.Context, st provision.Step, v, param string) (*accessbot.User, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, provision.Permanent(fmt.Errorf("step %d (%s): parameter %s is required", st.Index+1, st.Type, param))
	}
	var u *accessbot.User
	var err error
	if strings.Contains(v, "@") {
		u, err = s.st.GetUserByEmail(ctx, st.TenantID, v)
	} else {
		u, err = s.st.GetUser(ctx, st.TenantID, v)
	}
	if errors.Is(err, accessbot.ErrNotFound) || (err == nil && u.Status != accessbot.UserActive) {
		return nil, provision.Permanent(fmt.Errorf("step %d (%s): %s %s is not an active user of this tenant", st.Index+1, st.Type, param, v))
	}
	if err != nil {
		return nil, fmt.Errorf("load %s %s: %w", param, v, err)
	}
	return u, nil
}

func isChannelID(s string) bool {
	return len(s) > 1 && (s[0] == 'C' || s[0] == 'G') && strings.ToUpper(s) == s && !strings.Contains(s, "@")
}

func splitComma(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// stepPrompt is a step message's words, from its rendered params: text
// when given, else what the fields say.
func stepPrompt(kind provision.Kind, op string, params map[string]string, f provision.Fields) views.StepPrompt {
	p := views.StepPrompt{Kind: "notification", Title: "Access update"}
	switch {
	case kind == provision.KindManual:
		p.Kind, p.Title = "manual", "Access to carry out"
	case op == "approval":
		p.Kind, p.Title = "approval", "Approval needed"
	}
	if t := strings.TrimSpace(params["title"]); t != "" {
		p.Title = t
	}
	if t := strings.TrimSpace(params["text"]); t != "" {
		p.Text = slackEscape(t)
		return p
	}
	target := f.Target.Name
	if target == "" {
		target = f.Target.Email
	}
	what := "*" + slackEscape(f.Connection.Name) + "* in *" + slackEscape(f.Application.Name) + "* for " + slackEscape(target)
	switch p.Kind {
	case "manual":
		p.Text = "Please carry out by hand: " + what
		if f.Request.ID != "" {
			p.Text += " (request `" + slackEscape(f.Request.ID) + "`)"
		}
		p.Text += ". Press *Done* once it is, or *Can't do it* with the reason."
		if f.Expiry != nil {
			p.Text += " The access ends " + views.SlackDate(*f.Expiry) + "."
		}
	case "approval":
		p.Text = "Please approve this step of the access flow: " + what + "."
	default:
		p.Text = "Access update: " + what + "."
	}
	return p
}

// slackEscape escapes &, < and > for mrkdwn.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// converge renders every copy of a step's message from the stored flow:
// once the step is answered, every copy shows who answered (and why not)
// and loses its buttons, whichever click or link answered it.
func (s *Steps) converge(ctx context.Context, tenantID, flowID string, index int) error {
	fl, err := s.st.GetActionFlow(ctx, tenantID, flowID)
	if err != nil {
		return fmt.Errorf("load flow %s: %w", flowID, err)
	}
	if index < 0 || index >= len(fl.Steps) {
		return fmt.Errorf("flow %s has no step %d: %w", flowID, index+1, accessbot.ErrNotFound)
	}
	step := fl.Steps[index]
	if step.AnsweredBy == "" {
		return nil
	}
	var f provision.Fields
	if err := json.Unmarshal(fl.Fields, &f); err != nil {
		return fmt.Errorf("decode fields of flow %s: %w", flowID, err)
	}
	f.Outputs = fl.Outputs
	params, _ := provision.RenderParams(step.Params, f) // rendered once already when it ran
	kind, _, op, _ := provision.ParseType(step.Type)
	answer := &views.StepAnswer{Done: step.Status != accessbot.FlowFailed, By: s.n.cards.name(ctx, tenantID, step.AnsweredBy), Reason: step.LastError}
	var msg slackapi.Message
	if kind == provision.KindManual {
		// The owners keep the words they were asked with (the request's
		// card, or the step's own text), now with who answered.
		fu := s.n.Fulfilment()
		ps := provision.Step{TenantID: tenantID, FlowID: flowID, Index: index, Type: step.Type, Kind: kind, Params: params, Fields: f}
		req, err := fu.manualRequest(ctx, ps)
		if err != nil {
			return err
		}
		if msg, err = fu.manualMessage(ctx, ps, req, answer); err != nil {
			return err
		}
	} else {
		p := stepPrompt(kind, op, params, f)
		p.FlowID, p.Index, p.Answered = flowID, index, answer
		msg.Text, msg.Blocks = views.StepMessage(p)
	}
	refs, err := s.st.ListMessageRefs(ctx, tenantID, flowID)
	if err != nil {
		return fmt.Errorf("list messages of flow %s: %w", flowID, err)
	}
	cl, _, err := s.n.tenantClient(ctx, tenantID)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range refs {
		if r.Purpose != stepPurpose(index) {
			continue
		}
		if err := updateMessage(ctx, cl, r.ChannelID, r.TS, msg); err != nil {
			errs = append(errs, fmt.Errorf("update step message %s/%s: %w", r.ChannelID, r.TS, err))
		}
	}
	return errors.Join(errs...)
}
