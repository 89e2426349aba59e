package requests

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/accessbot/accessbot"
)

// MyRequestsLimit caps MyRequests, newest first.
const MyRequestsLimit = 50

// MyRequests lists the requests userID made, newest first (at most MyRequestsLimit).
func (s *Service) MyRequests(ctx context.Context, tenantID, userID string) ([]accessbot.AccessRequest, error) {
	rs, err := s.st.ListRequestsByRequester(ctx, tenantID, userID, MyRequestsLimit)
	if err != nil {
		return nil, fmt.Errorf("list requests of %s: %w", userID, err)
	}
	return rs, nil
}

// PendingFor lists pending requests whose current level includes approverID
// and that approverID has not decided yet.
func (s *Service) PendingFor(ctx context.Context, tenantID, approverID string) ([]accessbot.AccessRequest, error) {
	rs, err := s.st.ListRequestsByStatus(ctx, tenantID, accessbot.StatusPending, 0)
	if err != nil {
		return nil, fmt.Errorf("list pending requests: %w", err)
	}
	var out []accessbot.AccessRequest
	for _, r := range rs {
		if r.RequesterID == approverID || !slices.Contains(LevelApprovers(&r, r.Level), approverID) {
			continue
		}
		// Only a level needing several approvals stays current after someone decided it.
		if r.Level < len(r.Levels) && r.Levels[r.Level].Needed() > 1 {
			ds, err := s.st.ListDecisions(ctx, tenantID, r.ID)
			if err != nil {
				return nil, fmt.Errorf("list decisions of %s: %w", r.ID, err)
			}
			if slices.ContainsFunc(decisionsAt(ds, r.Level), func(d accessbot.Decision) bool { return d.ApproverID == approverID }) {
				continue
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// History is a request with everything that happened to it, for `/access audit`.
type History struct {
	Request   *accessbot.AccessRequest
	Decisions []accessbot.Decision
	Audit     []accessbot.AuditEntry
}

// History returns a request's decisions and audit trail. Only the tenant's
// active admins may read it (ErrForbidden); an unknown id, or one of another
// tenant, is accessbot.ErrNotFound.
func (s *Service) History(ctx context.Context, tenantID, actorID, requestID string) (*History, error) {
	if err := s.activeAdmin(ctx, tenantID, actorID); err != nil {
		return nil, fmt.Errorf("audit of request %s: %w", requestID, err)
	}
	r, err := s.st.GetRequest(ctx, tenantID, requestID)
	if err != nil {
		return nil, fmt.Errorf("audit of request %s: %w", requestID, err)
	}
	ds, err := s.st.ListDecisions(ctx, tenantID, requestID)
	if err != nil {
		return nil, fmt.Errorf("audit of request %s: list decisions: %w", requestID, err)
	}
	audit, err := s.st.ListAudit(ctx, tenantID, requestID)
	if err != nil {
		return nil, fmt.Errorf("audit of request %s: list audit: %w", requestID, err)
	}
	return &History{Request: r, Decisions: ds, Audit: audit}, nil
}

// Get returns one request of the tenant, for views and the Details button.
func (s *Service) Get(ctx context.Context, tenantID, requestID string) (*accessbot.AccessRequest, error) {
	r, err := s.st.GetRequest(ctx, tenantID, requestID)
	if err != nil {
		return nil, fmt.Errorf("get request %s: %w", requestID, err)
	}
	return r, nil
}

// activeAdmin is nil when actorID is an active admin of the tenant, and
// wraps ErrForbidden when not.
func (s *Service) activeAdmin(ctx context.Context, tenantID, actorID string) error {
	actor, err := s.st.GetUser(ctx, tenantID, actorID)
	if errors.Is(err, accessbot.ErrNotFound) || (err == nil && (actor.Role != accessbot.RoleAdmin || actor.Status != accessbot.UserActive)) {
		return fmt.Errorf("only admins may read it: %w", ErrForbidden)
	}
	if err != nil {
		return fmt.Errorf("load actor: %w", err)
	}
	return nil
}
