package purposes

import (
	"context"
	"encoding/json"
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
		if pl.Extends() {
			return a.extend(ctx, p, req, pl)
		}
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

// extend carries out an approved extension once: a retry finds the
// session's audit naming the request. The cap is applied again now (the
// session may have been extended meanwhile): what no longer fits is
// trimmed to it; a session that ended meanwhile is left alone.
func (a *Approvals) extend(ctx context.Context, p *accessbot.Purpose, req *accessbot.AccessRequest, pl requests.PurposePayload) error {
	s := a.s
	ses, err := s.st.GetPurposeSession(ctx, req.TenantID, pl.Session)
	if errors.Is(err, accessbot.ErrNotFound) {
		s.log.Warn().Str("request", req.ID).Msg("approved extension of a session that no longer exists; left alone")
		return nil
	}
	if err != nil {
		return fmt.Errorf("session of extension %s: %w", req.ID, err)
	}
	audit, err := s.st.ListAudit(ctx, req.TenantID, ses.ID)
	if err != nil {
		return fmt.Errorf("audit of session %s: %w", ses.ID, err)
	}
	for _, e := range audit {
		var d struct {
			Request string `json:"request"`
		}
		if e.Action == ActionExtended && json.Unmarshal(e.After, &d) == nil && d.Request == req.ID {
			return nil // a retry
		}
	}
	d := min(req.Duration, MaxExtension(p, ses, s.now()))
	if ses.Status != accessbot.SessionActive || ses.UserID != req.RequesterID || d <= 0 {
		s.log.Warn().Str("request", req.ID).Str("session", ses.ID).Str("status", string(ses.Status)).Dur("room", d).
			Msg("approved extension no longer applies; left alone")
		return nil
	}
	_, err = s.extend(ctx, p, ses, req.RequesterID, d, req.ID)
	if errors.Is(err, ErrNotActive) {
		return nil // stopped or ended meanwhile
	}
	return err
}
