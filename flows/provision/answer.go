package provision

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

var (
	// ErrForbidden: the actor may not act on this flow or step.
	ErrForbidden = errors.New("you may not act on this step")
	// ErrNotWaiting: the step is not waiting for an answer (not yet, or no longer).
	ErrNotWaiting = errors.New("this step is not waiting for an answer")
	// ErrNotYetWaiting: the step is the flow's current one and still
	// running: its message can be out (and clicked) a moment before the
	// engine records that it waits. Asking again shortly succeeds.
	ErrNotYetWaiting = errors.New("this step is still starting; try again in a moment")
	// ErrNotFailed: the flow has no failed step to retry, mark done or cancel.
	ErrNotFailed = errors.New("this flow is not stopped on a failed step")
)

// Resolve answers a waiting step: Done moves the flow on, Failed fails the
// step (and the flow, for an admin to retry or cancel). Who may answer is
// checked again here: for manual steps, the application's owners and the
// tenant admins; for slack_approval and email_approval, the approver the
// step names (params.approver: a user id or email) and the tenant admins.
func (e *Engine) Resolve(ctx context.Context, tenantID, flowID string, index int, actorID string, o Outcome, reason string) error {
	if o != OutcomeDone && o != OutcomeFailed {
		return fmt.Errorf("answer %q: %w", o, accessbot.ErrInvalid)
	}
	reason = strings.TrimSpace(reason)
	if o == OutcomeFailed && reason == "" {
		return fmt.Errorf("say why it cannot be done: %w", accessbot.ErrInvalid)
	}
	err := e.st.InTx(ctx, func(q store.Queries) error {
		f, err := q.GetActionFlowForUpdate(ctx, tenantID, flowID)
		if err != nil {
			return err
		}
		if index < 0 || index >= len(f.Steps) {
			return fmt.Errorf("flow %s has no step %d: %w", flowID, index+1, accessbot.ErrNotFound)
		}
		s := &f.Steps[index]
		who, err := e.mayAnswer(ctx, q, f, s, actorID)
		if err != nil {
			return err
		}
		switch {
		case s.AnsweredBy != "" || s.Status == accessbot.FlowDone || s.Status == accessbot.FlowFailed || s.Status == accessbot.FlowCancelled:
			return ErrAlreadyAnswered
		case f.Current == index && !f.Status.Finished() && (s.Status == accessbot.FlowPending || s.Status == accessbot.FlowRunning):
			return ErrNotYetWaiting
		case s.Status != accessbot.FlowWaiting || f.Current != index || f.Status != accessbot.FlowWaiting:
			return ErrNotWaiting
		}
		if o == OutcomeDone {
			return e.advance(ctx, q, f, Result{Note: answerNote(s, who, o)}, actorID, reason, ActionStepAnswer)
		}
		now := e.now()
		s.Status, s.FinishedAt, s.AnsweredBy, s.LastError = accessbot.FlowFailed, &now, actorID, reason
		s.Note = answerNote(s, who, o)
		f.Status = accessbot.FlowFailed
		if err := e.audit(ctx, q, f, actorID, ActionStepAnswer, stepAudit{Index: index, Type: s.Type, Error: reason, Reason: "failed"}); err != nil {
			return err
		}
		return e.save(ctx, q, f)
	})
	if err != nil {
		return fmt.Errorf("answer step %d of flow %s: %w", index+1, flowID, err)
	}
	return nil
}

// mayAnswer checks who may answer step s of f.
func (e *Engine) mayAnswer(ctx context.Context, q store.Queries, f *accessbot.ActionFlow, s *accessbot.ActionFlowStep, actorID string) (*accessbot.User, error) {
	u, err := q.GetUser(ctx, f.TenantID, actorID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return nil, ErrForbidden
	}
	if err != nil {
		return nil, fmt.Errorf("load actor %s: %w", actorID, err)
	}
	if u.Status != accessbot.UserActive {
		return nil, ErrForbidden
	}
	if err := mayAnswer(ctx, q, f, s, u); err != nil {
		return nil, err
	}
	return u, nil
}

// answerNote is an answered step's line in the requester's thread: who
// answered, and how ("done by Omar Haddad", "denied by Lena Fischer").
func answerNote(s *accessbot.ActionFlowStep, u *accessbot.User, o Outcome) string {
	name := u.Name
	if name == "" {
		name = u.Email
	}
	_, _, op, _ := ParseType(s.Type)
	switch {
	case op == "approval" && o == OutcomeDone:
		return "approved by " + name
	case op == "approval":
		return "denied by " + name
	case o == OutcomeDone:
		return "done by " + name
	}
	return name + " can't do it"
}

func mayAnswer(ctx context.Context, q store.Queries, f *accessbot.ActionFlow, s *accessbot.ActionFlowStep, u *accessbot.User) error {
	actorID := u.ID
	kind, _, _, _ := ParseType(s.Type)
	refused := ErrForbidden
	if u.Role == accessbot.RoleAdmin {
		// An admin answers any step but an approval of their own access:
		// there, as with a request's approval, only the named approver may.
		own, err := ownApproval(f, s, actorID)
		if err != nil || !own {
			return err
		}
		refused = ErrOwnApproval
	}
	switch kind {
	case KindManual:
		app, err := q.GetApplication(ctx, f.TenantID, f.AppID)
		if err != nil {
			return fmt.Errorf("load application %s: %w", f.AppID, err)
		}
		if app.OwnedBy(actorID) {
			return nil
		}
	case KindSlack, KindEmail:
		var fl Fields
		if err := json.Unmarshal(f.Fields, &fl); err != nil {
			return fmt.Errorf("decode flow fields: %w", err)
		}
		fl.Outputs = f.Outputs
		named, err := Render(s.Params["approver"], fl)
		if err == nil && named != "" && (named == u.ID || strings.EqualFold(named, u.Email)) {
			return nil
		}
	}
	return refused
}

// ErrOwnApproval: an admin may not answer (or mark done) an approval step
// of a flow for their own access, as no one approves their own request.
var ErrOwnApproval = fmt.Errorf("%w: an approval step of your own access is answered by its named approver only", ErrForbidden)

// ownApproval reports whether s is an approval step (slack_approval,
// email_approval) of a flow for actorID's own access: actorID is whose
// access it is or who asked for it.
func ownApproval(f *accessbot.ActionFlow, s *accessbot.ActionFlowStep, actorID string) (bool, error) {
	kind, _, op, _ := ParseType(s.Type)
	if kind != KindSlack && kind != KindEmail || op != "approval" {
		return false, nil
	}
	if f.UserID == actorID {
		return true, nil
	}
	var fl Fields
	if err := json.Unmarshal(f.Fields, &fl); err != nil {
		return false, fmt.Errorf("decode flow fields: %w", err)
	}
	return fl.Requester.ID == actorID || fl.Target.ID == actorID, nil
}

// admin returns actorID when an active admin of the tenant, else nil.
func admin(ctx context.Context, q store.Queries, tenantID, actorID string) (*accessbot.User, error) {
	u, err := q.GetUser(ctx, tenantID, actorID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load actor %s: %w", actorID, err)
	}
	if u.Role != accessbot.RoleAdmin || u.Status != accessbot.UserActive {
		return nil, nil
	}
	return u, nil
}

// AdminAction is what a tenant admin does to a failed flow.
type AdminAction string

const (
	AdminRetry    AdminAction = "retry"     // run the failed step again
	AdminMarkDone AdminAction = "mark_done" // someone did it by hand: move on
	AdminCancel   AdminAction = "cancel"    // stop the flow
)

// Admin carries out an admin's Retry, Mark done or Cancel on a flow
// stopped on a failed step (Cancel also stops a waiting or running one).
// Only the tenant's active admins may (ErrForbidden), checked here.
func (e *Engine) Admin(ctx context.Context, tenantID, flowID, actorID string, act AdminAction) error {
	err := e.st.InTx(ctx, func(q store.Queries) error {
		who, err := admin(ctx, q, tenantID, actorID)
		if err != nil {
			return err
		}
		if who == nil {
			return ErrForbidden
		}
		f, err := q.GetActionFlowForUpdate(ctx, tenantID, flowID)
		if err != nil {
			return err
		}
		if f.Status.Finished() {
			return ErrNotFailed
		}
		i := f.Current
		s := &f.Steps[i]
		switch act {
		case AdminCancel:
			now := e.now()
			f.Status, f.FinishedAt = accessbot.FlowCancelled, &now
			if !slices.Contains([]accessbot.FlowStatus{accessbot.FlowDone, accessbot.FlowFailed}, s.Status) {
				s.Status = accessbot.FlowCancelled
			}
			if err := e.audit(ctx, q, f, actorID, ActionFlowCancel, stepAudit{Index: i, Type: s.Type}); err != nil {
				return err
			}
			return e.save(ctx, q, f)
		case AdminRetry, AdminMarkDone:
			if f.Status != accessbot.FlowFailed || s.Status != accessbot.FlowFailed {
				return ErrNotFailed
			}
		default:
			return fmt.Errorf("admin action %q: %w", act, accessbot.ErrInvalid)
		}
		if act == AdminMarkDone {
			// Marking a denied approval of one's own access done would approve it.
			if own, err := ownApproval(f, s, actorID); err != nil {
				return err
			} else if own {
				return ErrOwnApproval
			}
			s.Status = accessbot.FlowRunning // advance counts from a running step
			s.Attempts--
			return e.advance(ctx, q, f, Result{Note: "marked done by " + cmp.Or(who.Name, who.Email)}, actorID, "", ActionMarkedDone)
		}
		s.Status, s.FinishedAt, s.AnsweredBy = accessbot.FlowPending, nil, ""
		f.Status = accessbot.FlowRunning
		if err := e.audit(ctx, q, f, actorID, ActionAdminRetry, stepAudit{Index: i, Type: s.Type, Error: s.LastError}); err != nil {
			return err
		}
		if err := e.save(ctx, q, f); err != nil {
			return err
		}
		return e.enqueue(ctx, q, StepArgs{TenantID: tenantID, FlowID: f.ID, Index: i, Try: f.Version}, timeZero)
	})
	if err != nil {
		return fmt.Errorf("%s flow %s: %w", act, flowID, err)
	}
	return nil
}
