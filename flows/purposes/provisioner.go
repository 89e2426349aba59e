package purposes

import (
	"context"
	"errors"
	"fmt"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/store"
)

// Approvals is the requests.Provisioner that carries out approved purpose
// requests itself: an assignment is recorded, a start (of a purpose with a
// start chain) begins the session. Every other request goes to next.
type Approvals struct {
	s    *Service
	next requests.Provisioner
}

var _ requests.Provisioner = (*Approvals)(nil)

// Approvals wraps next (the grants' Extender around the engine).
func (s *Service) Approvals(next requests.Provisioner) *Approvals {
	if next == nil {
		next = requests.RecordOnly{}
	}
	return &Approvals{s: s, next: next}
}

// Provision records an approved assignment or begins an approved start; a
// retry finds it done and does nothing.
func (a *Approvals) Provision(ctx context.Context, req *accessbot.AccessRequest) error {
	pl, ok := requests.PurposeOf(req)
	if !ok {
		return a.next.Provision(ctx, req)
	}
	if req.Status != accessbot.StatusApproved {
		return nil
	}
	s := a.s
	p, err := s.st.GetPurpose(ctx, req.TenantID, pl.PurposeID)
	if errors.Is(err, accessbot.ErrNotFound) {
		s.log.Warn().Str("request", req.ID).Str("purpose", pl.Purpose).Msg("approved request for a purpose that no longer exists; left alone")
		return nil
	}
	if err != nil {
		return fmt.Errorf("purpose of request %s: %w", req.ID, err)
	}
	switch req.Kind {
	case accessbot.RequestPurposeAssign:
		err := s.st.InTx(ctx, func(q store.Queries) error {
			if _, err := q.GetPurposeAssignment(ctx, req.TenantID, p.ID, req.RequesterID); err == nil {
				return nil // a retry
			}
			if err := q.AssignPurpose(ctx, &accessbot.PurposeAssignment{TenantID: req.TenantID, PurposeID: p.ID, UserID: req.RequesterID,
				RequestID: req.ID, AssignedAt: s.now()}); err != nil {
				return err
			}
			return s.audit(ctx, q, req.TenantID, SystemActor, ActionAssigned, AuditPurpose, p.ID, map[string]any{"purpose": p.Name,
				"user_id": req.RequesterID, "request_id": req.ID})
		})
		if err != nil {
			return fmt.Errorf("assign purpose %s to %s: %w", p.Name, req.RequesterID, err)
		}
		s.log.Info().Str("tenant", req.TenantID).Str("purpose", p.Name).Str("user", req.RequesterID).Msg("purpose assigned")
		return nil
	case accessbot.RequestPurposeStart:
		// Once per request: a retry finds the session the first call began.
		ss, err := s.st.ListPurposeSessions(ctx, req.TenantID, req.RequesterID, nil)
		if err != nil {
			return err
		}
		for _, x := range ss {
			if x.PurposeID == p.ID && x.StartedAt.After(req.CreatedAt) && x.Status != accessbot.SessionEnded {
				return nil
			}
		}
		if err := s.CheckStart(ctx, p, req.RequesterID, req.Duration, req.Justification); err != nil {
			s.log.Warn().Err(err).Str("request", req.ID).Msg("approved start cannot begin; left alone")
			return nil
		}
		_, err = s.begin(ctx, p, req.RequesterID, req.Duration, req.Justification, req.ID)
		if errors.Is(err, ErrAlreadyActive) {
			return nil
		}
		return err
	}
	return nil
}
