package requests

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// TickResult counts the steps one Tick took.
type TickResult struct {
	Reminded  int
	Escalated int
	Expired   int
}

type tickStep int

const (
	stepNone tickStep = iota
	stepRemind
	stepEscalate
	stepExpire
)

// Tick takes the time-driven steps on every tenant's pending requests, each at most once:
//   - after Policy.ReminderAfter on the current level, approvers who have not
//     decided get one reminder (RemindedAt marks it);
//   - after Policy.EscalateAfter on the current level, the tenant admins join
//     the level's approvers and any one of them may decide (EscalatedAt marks it);
//   - after Policy.ExpireAfter since creation, the request expires.
//
// Each step re-reads the request under a row lock and transitions it
// conditionally, so replicas ticking at once take each step once. Tick goes
// on past a failing request and returns every error joined.
func (s *Service) Tick(ctx context.Context, now time.Time) (TickResult, error) {
	var res TickResult
	now = now.UTC()
	tenants, err := s.st.ListTenants(ctx)
	if err != nil {
		return res, fmt.Errorf("tick: list tenants: %w", err)
	}
	var errs []error
	for _, t := range tenants {
		pending, err := s.st.ListRequestsByStatus(ctx, t.ID, accessbot.StatusPending, 0)
		if err != nil {
			errs = append(errs, fmt.Errorf("tick tenant %s: list pending requests: %w", t.ID, err))
			continue
		}
		for i := range pending {
			step, err := s.tickOne(ctx, t.ID, pending[i].ID, now)
			if op := stepOps[step]; op != "" || err != nil {
				if op == "" {
					op = "tick"
				}
				countOp(op, err)
			}
			if err != nil {
				s.log.Error().Err(err).Str("tenant", t.ID).Str("request", pending[i].ID).Msg("tick failed")
				errs = append(errs, err)
			}
			switch step {
			case stepRemind:
				res.Reminded++
			case stepEscalate:
				res.Escalated++
			case stepExpire:
				res.Expired++
			}
		}
	}
	return res, errors.Join(errs...)
}

func (s *Service) dueStep(r *accessbot.AccessRequest, levelStart, now time.Time) tickStep {
	p := s.policy
	switch {
	case r.Status != accessbot.StatusPending:
		return stepNone
	case p.ExpireAfter > 0 && !now.Before(r.CreatedAt.Add(p.ExpireAfter)):
		return stepExpire
	case p.EscalateAfter > 0 && r.EscalatedAt == nil && !now.Before(levelStart.Add(p.EscalateAfter)):
		return stepEscalate
	case p.ReminderAfter > 0 && r.RemindedAt == nil && r.EscalatedAt == nil && !now.Before(levelStart.Add(p.ReminderAfter)):
		return stepRemind
	}
	return stepNone
}

// levelStart is when the current level became current: creation for the
// first level, else the last decision on the level before.
func levelStart(r *accessbot.AccessRequest, decisions []accessbot.Decision) time.Time {
	if r.Level == 0 {
		return r.CreatedAt
	}
	var start time.Time
	for _, d := range decisions {
		if d.Level == r.Level-1 && d.DecidedAt.After(start) {
			start = d.DecidedAt
		}
	}
	if start.IsZero() {
		return r.CreatedAt
	}
	return start
}

func (s *Service) tickOne(ctx context.Context, tenantID, id string, now time.Time) (tickStep, error) {
	var (
		step     tickStep
		req      *accessbot.AccessRequest
		notified []string
	)
	err := s.inTx(ctx, func(q store.Queries, add func(...Job)) error {
		r, err := lockRequest(ctx, q, tenantID, id)
		if err != nil {
			return err
		}
		decisions, err := q.ListDecisions(ctx, tenantID, id)
		if err != nil {
			return fmt.Errorf("list decisions: %w", err)
		}
		step = s.dueStep(r, levelStart(r, decisions), now)
		next := *r
		next.UpdatedAt = now
		var action string
		switch step {
		case stepNone:
			return nil
		case stepExpire:
			action = ActionExpired
			next.Status = accessbot.StatusExpired
			next.DecidedAt = &now
			next.OpenKey = ""
		case stepRemind:
			action = ActionReminded
			next.RemindedAt = &now
			decided := decisionsAt(decisions, r.Level)
			for _, a := range LevelApprovers(r, r.Level) {
				if !slices.ContainsFunc(decided, func(d accessbot.Decision) bool { return d.ApproverID == a }) {
					notified = append(notified, a)
				}
			}
		case stepEscalate:
			action = ActionEscalated
			next.EscalatedAt = &now
			admins, err := adminApprovers(ctx, q, resolveInput{tenantID: tenantID, requesterID: r.RequesterID, targetID: r.TargetUserID, now: now}, cachedUsers(ctx, q, tenantID))
			if err != nil {
				return err
			}
			current := LevelApprovers(r, r.Level)
			for _, a := range admins {
				if !slices.Contains(current, a) {
					notified = append(notified, a)
				}
			}
			levels := slices.Clone(r.Levels)
			lvl := levels[r.Level]
			lvl.Approvers = append(slices.Clone(lvl.Approvers), userApprovers(notified)...)
			// Escalation exists to unblock a stalled level: any one approver now decides it.
			lvl.Rule = accessbot.RuleAny
			levels[r.Level] = lvl
			next.Levels = levels
		}
		if err := q.TransitionRequest(ctx, tenantID, id, accessbot.StatusPending, r.Level, &next); err != nil {
			if errors.Is(err, accessbot.ErrStale) {
				step = stepNone // someone else moved it first
				return nil
			}
			return fmt.Errorf("transition: %w", err)
		}
		after := stateOf(&next, false)
		after.Notified = notified
		if err := appendAudit(ctx, q, &next, now, SystemActor, action, ptr(stateOf(r, false)), &after); err != nil {
			return err
		}
		req = &next
		job := Job{TenantID: tenantID, RequestID: id, Level: next.Level, ApproverIDs: notified}
		switch {
		case step == stepExpire:
			job.Kind, job.ApproverIDs = JobRequestFinished, nil
			add(job)
		case step == stepRemind && len(notified) > 0:
			job.Kind = JobRemind
			add(job)
		case step == stepEscalate && len(notified) > 0:
			job.Kind = JobApprovalNeeded
			add(job)
		}
		return nil
	})
	if err != nil {
		return stepNone, fmt.Errorf("tick request %s: %w", id, err)
	}
	if req == nil {
		return stepNone, nil
	}
	log := s.log.Info().Str("tenant", tenantID).Str("request", id).Int("level", req.Level+1).Strs("notified", notified)
	switch step {
	case stepExpire:
		log.Msg("request expired")
	case stepRemind:
		log.Msg("approvers reminded")
	case stepEscalate:
		log.Msg("level escalated to admins")
	}
	return step, nil
}

// cachedUsers is the user loader approver resolution needs.
func cachedUsers(ctx context.Context, q store.Queries, tenantID string) func(string) (*accessbot.User, error) {
	users := map[string]*accessbot.User{}
	return func(id string) (*accessbot.User, error) {
		if u, ok := users[id]; ok {
			return u, nil
		}
		u, err := q.GetUser(ctx, tenantID, id)
		if errors.Is(err, accessbot.ErrNotFound) {
			users[id] = nil
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("load user %s: %w", id, err)
		}
		users[id] = u
		return u, nil
	}
}
