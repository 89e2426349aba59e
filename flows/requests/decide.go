package requests

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// MaxReason bounds a decision's reason, in characters.
const MaxReason = 2000

// DecideInput is one approver's click. Only ids come from the outside; all
// else is re-read from the store.
type DecideInput struct {
	TenantID  string
	RequestID string
	ActorID   string
	// Level is the 0-based level the actor was shown (carried in the button).
	// It is an expectation, never an authority: if the request has moved on,
	// the answer is *AlreadyDecidedError, so a double click on a level-1
	// message can never count as a level-2 decision.
	Level    int
	Decision accessbot.DecisionKind
	// Reason is required to deny.
	Reason string
	// StepUp is the approver's re-authentication, required to approve at a
	// step-up level (a high-risk request); set only by the step-up server
	// once the OIDC provider's answer was checked.
	StepUp *StepUpProof
}

// StepUpProof is what the OIDC provider said when the approver
// re-authenticated.
type StepUpProof struct {
	StepUpID string
	Issuer   string
	Email    string
	AuthTime time.Time
}

// Outcome is what a recorded decision did.
type Outcome struct {
	// Request is the committed state after the decision.
	Request  *accessbot.AccessRequest
	Decision accessbot.Decision
	// Decisions are all decisions at Decision.Level, in order.
	Decisions []accessbot.Decision
	// LevelClosed: the level is decided (approved, or the request denied).
	LevelClosed bool
	// Finished: the request left pending (approved or denied).
	Finished bool
}

// errAlready signals from inside a transaction that the answer is an
// *AlreadyDecidedError, built after the rollback (a failed statement aborts
// a PostgreSQL transaction, so nothing more can be read inside it).
var errAlready = errors.New("already decided")

// Decide records one approve or deny. Only an approver of the request's
// current level may act (ErrNotApprover), never the requester
// (ErrSelfApproval); a deny needs a reason (*FieldErrors). A request that is
// no longer pending, has moved past in.Level, or that the actor already
// decided at this level answers *AlreadyDecidedError. Unknown ids, or ids of
// another tenant, answer accessbot.ErrNotFound.
//
// Rule "any": the first approval closes the level. Rule "all": the level
// closes when every approver of it has approved. Rule "quorum": it closes at
// exactly k approvals; a click after that finds the level moved on. Any deny
// denies the request.
// The decision row, the request's conditional transition and the audit entry
// commit in one transaction on a locked request row, so racing clicks and
// redelivered envelopes leave exactly one decision and one audit entry.
func (s *Service) Decide(ctx context.Context, in DecideInput) (*Outcome, error) {
	out, err := s.decide(ctx, in)
	countOp(string(in.Decision), err)
	return out, err
}

func (s *Service) decide(ctx context.Context, in DecideInput) (*Outcome, error) {
	reason := strings.TrimSpace(in.Reason)
	fe := &FieldErrors{}
	switch in.Decision {
	case accessbot.DecisionApprove:
	case accessbot.DecisionDeny:
		if reason == "" {
			fe.add(FieldReason, "Say why you deny this request.")
		}
	default:
		fe.add(FieldDecision, "Choose approve or deny.")
	}
	// Characters, as Slack's max_length counts them, not bytes.
	if n := len([]rune(reason)); n > MaxReason {
		fe.add(FieldReason, fmt.Sprintf("Keep the reason to %d characters at most (it has %d).", MaxReason, n))
	}
	if err := fe.err(); err != nil {
		return nil, err
	}
	if in.TenantID == "" || in.RequestID == "" || in.ActorID == "" {
		return nil, fmt.Errorf("decide request: tenant, request and actor are required: %w", accessbot.ErrInvalid)
	}
	var out Outcome
	err := s.inTx(ctx, func(q store.Queries, add func(...Job)) error {
		r, err := lockRequest(ctx, q, in.TenantID, in.RequestID)
		if err != nil {
			return err
		}
		if r.Status != accessbot.StatusPending || in.Level < r.Level {
			return errAlready
		}
		if in.ActorID == r.RequesterID {
			return ErrSelfApproval
		}
		if in.ActorID == r.TargetUserID {
			return ErrTargetApproval
		}
		if in.Level != r.Level || !slices.Contains(LevelApprovers(r, r.Level), in.ActorID) {
			return ErrNotApprover
		}
		if in.Decision == accessbot.DecisionApprove && r.Levels[r.Level].StepUp && in.StepUp == nil {
			return ErrStepUpRequired
		}
		actor, err := q.GetUser(ctx, in.TenantID, in.ActorID)
		if errors.Is(err, accessbot.ErrNotFound) || (err == nil && actor.Status != accessbot.UserActive) {
			return ErrNotApprover
		}
		if err != nil {
			return fmt.Errorf("load actor %s: %w", in.ActorID, err)
		}
		prior, err := q.ListDecisions(ctx, in.TenantID, r.ID)
		if err != nil {
			return fmt.Errorf("list decisions: %w", err)
		}
		atLevel := decisionsAt(prior, r.Level)
		if slices.ContainsFunc(atLevel, func(d accessbot.Decision) bool { return d.ApproverID == in.ActorID }) {
			return errAlready
		}
		now := s.now()
		d := accessbot.Decision{
			ID: newID(), TenantID: r.TenantID, RequestID: r.ID, Level: r.Level,
			ApproverID: in.ActorID, Decision: in.Decision, Reason: reason, DecidedAt: now,
		}
		if err := q.AddDecision(ctx, &d); err != nil {
			if errors.Is(err, accessbot.ErrConflict) {
				return errAlready
			}
			return fmt.Errorf("add decision: %w", err)
		}
		atLevel = append(atLevel, d)
		next := *r
		next.UpdatedAt = now
		closed := false
		switch {
		case in.Decision == accessbot.DecisionDeny:
			closed = true
			next.Status = accessbot.StatusDenied
			next.DecidedAt = &now
		case approvals(atLevel) >= r.Levels[r.Level].Needed():
			closed = true
			if r.Level+1 < len(r.Levels) {
				next.Level = r.Level + 1
				next.RemindedAt, next.EscalatedAt = nil, nil
			} else {
				next.Status = accessbot.StatusApproved
				next.DecidedAt = &now
			}
		}
		if next.Status != accessbot.StatusPending {
			next.OpenKey = ""
		}
		// Transition even when only one of several "all" approvals landed: the
		// row lock plus the condition on status and level keep racers honest.
		if err := q.TransitionRequest(ctx, r.TenantID, r.ID, accessbot.StatusPending, r.Level, &next); err != nil {
			if errors.Is(err, accessbot.ErrStale) {
				return errAlready
			}
			return fmt.Errorf("transition: %w", err)
		}
		action := ActionApproved
		if in.Decision == accessbot.DecisionDeny {
			action = ActionDenied
		}
		if in.StepUp != nil {
			// Who re-authenticated, when, and the provider's auth_time.
			e := &accessbot.AuditEntry{ID: newID(), TenantID: r.TenantID, At: now, ActorID: in.ActorID, Action: ActionSteppedUp,
				ObjectType: AuditObject, ObjectID: r.ID, After: mustJSON(map[string]any{
					"approver_id": in.ActorID, "level": d.Level + 1, "step_up_id": in.StepUp.StepUpID, "issuer": in.StepUp.Issuer,
					"email": in.StepUp.Email, "auth_time": in.StepUp.AuthTime.UTC(), "at": now.UTC()})}
			if err := q.AppendAudit(ctx, e); err != nil {
				return fmt.Errorf("audit step-up of request %s: %w", r.ID, err)
			}
		}
		after := stateOf(&next, false)
		after.Decision = &auditDecision{Level: d.Level + 1, ApproverID: d.ApproverID, Decision: d.Decision, Reason: d.Reason}
		if err := appendAudit(ctx, q, &next, now, in.ActorID, action, ptr(stateOf(r, false)), &after); err != nil {
			return err
		}
		out = Outcome{Request: &next, Decision: d, Decisions: atLevel, LevelClosed: closed, Finished: next.Status != accessbot.StatusPending}
		job := Job{TenantID: next.TenantID, RequestID: next.ID}
		decided := job
		decided.Kind, decided.Level, decided.DecisionID = JobLevelDecided, d.Level, d.ID
		add(decided)
		switch {
		case next.Status == accessbot.StatusApproved:
			if tp, ok := s.prov.(TxProvisioner); ok {
				if _, err := tp.ProvisionTx(ctx, q, &next); err != nil {
					return fmt.Errorf("start provisioning: %w", err)
				}
			}
			provision, finished := job, job
			provision.Kind, finished.Kind = JobProvision, JobRequestFinished
			add(provision, finished)
		case next.Status == accessbot.StatusDenied:
			job.Kind = JobRequestFinished
			add(job)
		case next.Level != d.Level:
			job.Kind, job.Level, job.ApproverIDs = JobApprovalNeeded, next.Level, LevelApprovers(&next, next.Level)
			add(job)
		}
		return nil
	})
	if errors.Is(err, errAlready) {
		return nil, s.alreadyDecided(ctx, in.TenantID, in.RequestID, in.Level, in.ActorID)
	}
	if err != nil {
		return nil, fmt.Errorf("%s request %s: %w", in.Decision, in.RequestID, err)
	}
	req := out.Request
	s.log.Info().Str("tenant", req.TenantID).Str("request", req.ID).Str("actor", in.ActorID).
		Str("decision", string(in.Decision)).Int("level", out.Decision.Level+1).Str("status", string(req.Status)).Msg("decision recorded")
	return &out, nil
}

// Cancel withdraws a pending request. Only its requester may (ErrForbidden);
// a request no longer pending answers *AlreadyDecidedError.
func (s *Service) Cancel(ctx context.Context, tenantID, requestID, actorID string) (*accessbot.AccessRequest, error) {
	r, err := s.cancel(ctx, tenantID, requestID, actorID)
	countOp("cancel", err)
	return r, err
}

func (s *Service) cancel(ctx context.Context, tenantID, requestID, actorID string) (*accessbot.AccessRequest, error) {
	var req *accessbot.AccessRequest
	err := s.inTx(ctx, func(q store.Queries, add func(...Job)) error {
		r, err := lockRequest(ctx, q, tenantID, requestID)
		if err != nil {
			return err
		}
		// The requester, or the person a request made for someone else is
		// for, may cancel it: checked here, on the locked row.
		if r.RequesterID != actorID && (r.TargetUserID == "" || r.TargetUserID != actorID) {
			return fmt.Errorf("only the requester or the person it is for can cancel: %w", ErrForbidden)
		}
		if r.Status != accessbot.StatusPending {
			return errAlready
		}
		now := s.now()
		next := *r
		next.Status = accessbot.StatusCancelled
		next.DecidedAt = &now
		next.UpdatedAt = now
		next.OpenKey = ""
		if err := q.TransitionRequest(ctx, tenantID, r.ID, accessbot.StatusPending, r.Level, &next); err != nil {
			if errors.Is(err, accessbot.ErrStale) {
				return errAlready
			}
			return fmt.Errorf("transition: %w", err)
		}
		if err := appendAudit(ctx, q, &next, now, actorID, ActionCancelled, ptr(stateOf(r, false)), ptr(stateOf(&next, false))); err != nil {
			return err
		}
		req = &next
		add(Job{Kind: JobRequestFinished, TenantID: tenantID, RequestID: r.ID})
		return nil
	})
	if errors.Is(err, errAlready) {
		r, gerr := s.st.GetRequest(ctx, tenantID, requestID)
		if gerr != nil {
			return nil, fmt.Errorf("cancel request %s: %w", requestID, gerr)
		}
		return nil, s.alreadyDecided(ctx, tenantID, requestID, r.Level, actorID)
	}
	if err != nil {
		return nil, fmt.Errorf("cancel request %s: %w", requestID, err)
	}
	s.log.Info().Str("tenant", tenantID).Str("request", requestID).Msg("request cancelled")
	return req, nil
}

// alreadyDecided explains, from committed state, who closed level of the request.
func (s *Service) alreadyDecided(ctx context.Context, tenantID, requestID string, level int, actorID string) error {
	r, err := s.st.GetRequest(ctx, tenantID, requestID)
	if err != nil {
		return fmt.Errorf("re-read request %s: %w", requestID, err)
	}
	all, err := s.st.ListDecisions(ctx, tenantID, requestID)
	if err != nil {
		return fmt.Errorf("re-read decisions of request %s: %w", requestID, err)
	}
	e := &AlreadyDecidedError{RequestID: r.ID, Status: r.Status, Level: level}
	at := decisionsAt(all, level)
	var closer *accessbot.Decision
	closedByDecision := r.Level > level ||
		(r.Level == level && (r.Status == accessbot.StatusApproved || r.Status == accessbot.StatusDenied))
	for i := range at {
		d := &at[i]
		switch {
		case closedByDecision:
			// A deny closes a level; otherwise its last approval did.
			if closer == nil || (closer.Decision != accessbot.DecisionDeny &&
				(d.Decision == accessbot.DecisionDeny || !d.DecidedAt.Before(closer.DecidedAt))) {
				closer = d
			}
		case d.ApproverID == actorID && r.Status == accessbot.StatusPending:
			// Still open for others, but this actor already decided it.
			closer = d
		}
	}
	switch {
	case closer != nil:
		e.Decision, e.ByUserID, e.At = closer.Decision, closer.ApproverID, closer.DecidedAt
	case r.Status == accessbot.StatusCancelled:
		e.ByUserID, e.At = r.RequesterID, derefTime(r.DecidedAt, r.UpdatedAt)
	case r.Status == accessbot.StatusExpired:
		e.ByUserID, e.At = SystemActor, derefTime(r.DecidedAt, r.UpdatedAt)
	default:
		e.At = r.UpdatedAt
	}
	return e
}

func derefTime(t *time.Time, dflt time.Time) time.Time {
	if t != nil {
		return *t
	}
	return dflt
}

func decisionsAt(all []accessbot.Decision, level int) []accessbot.Decision {
	var out []accessbot.Decision
	for _, d := range all {
		if d.Level == level {
			out = append(out, d)
		}
	}
	return out
}

// approvals counts the approvals among decisions (of one level, where each
// approver decides at most once).
func approvals(decisions []accessbot.Decision) int {
	n := 0
	for _, d := range decisions {
		if d.Decision == accessbot.DecisionApprove {
			n++
		}
	}
	return n
}

// lockRequest reads a request inside a transaction, locking its row so that
// read-modify-write cycles on it run one after another.
func lockRequest(ctx context.Context, q store.Queries, tenantID, id string) (*accessbot.AccessRequest, error) {
	r, err := q.GetRequestForUpdate(ctx, tenantID, id)
	if err != nil {
		return nil, fmt.Errorf("load request %s: %w", id, err)
	}
	return r, nil
}
