package purposes

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/provision"
	"github.com/accessbot/accessbot/store"
)

// Tick ends every session past its end or stopped, and re-checks active
// sessions' provisioning and announcement, in every tenant. It returns
// every error joined; what failed is retried on a later tick.
func (s *Service) Tick(ctx context.Context, now time.Time) error {
	tenants, err := s.st.ListTenants(ctx)
	if err != nil {
		return fmt.Errorf("purposes tick: list tenants: %w", err)
	}
	var errs []error
	for _, t := range tenants {
		if err := s.endDue(ctx, t.ID, now); err != nil {
			errs = append(errs, err)
		}
		if err := s.ensureActive(ctx, t.ID, now); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Service) purposeOf(ctx context.Context, ses *accessbot.PurposeSession) (*accessbot.Purpose, error) {
	p, err := s.st.GetPurpose(ctx, ses.TenantID, ses.PurposeID)
	if errors.Is(err, accessbot.ErrNotFound) {
		// Removed from the tenant file: its sessions still end.
		return &accessbot.Purpose{ID: ses.PurposeID, TenantID: ses.TenantID, Name: "(removed purpose)"}, nil
	}
	return p, err
}

func (s *Service) endDue(ctx context.Context, tenantID string, now time.Time) error {
	due, err := s.st.ListDuePurposeSessions(ctx, tenantID, now)
	if err != nil {
		return fmt.Errorf("tenant %s: %w", tenantID, err)
	}
	var errs []error
	for i := range due {
		ses := &due[i]
		won, err := s.st.ClaimPurposeSession(ctx, tenantID, ses.ID, now, s.lease)
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", tenantID, err))
			continue
		}
		if !won {
			continue // another replica ends it, or an extension moved the end
		}
		if ses.Status == accessbot.SessionActive { // the claim marked it ending
			if err := s.audit(ctx, s.st, tenantID, SystemActor, ActionExpired, AuditObject, ses.ID, map[string]any{"ends_at": ses.EndsAt}); err != nil {
				errs = append(errs, err)
			}
		}
		cur, err := s.st.GetPurposeSession(ctx, tenantID, ses.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p, err := s.purposeOf(ctx, cur)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := s.end(ctx, p, cur); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// end starts the deprovisioning of every grant the session's requests
// made, announces the end, and marks the session ended once no request's
// provisioning is still running (one that finishes later is revoked by a
// later tick: the session stays ending until then). The caller holds the
// session's claim.
func (s *Service) end(ctx context.Context, p *accessbot.Purpose, ses *accessbot.PurposeSession) error {
	var errs []error
	waiting := 0
	held, err := s.st.ListEntitlements(ctx, ses.TenantID, ses.UserID)
	if err != nil {
		return fmt.Errorf("end session %s: %w", ses.ID, err)
	}
	reason := "purpose " + p.Name + " " + ses.EndReason
	for _, reqID := range ses.RequestIDs {
		f, err := s.st.GetActionFlowByKey(ctx, ses.TenantID, provision.FlowKey(provision.Provision, reqID))
		switch {
		case errors.Is(err, accessbot.ErrNotFound):
			// Never handed to the engine: nothing was granted, unless a
			// replica's ensure is handing it over right now; within a
			// lease of the stop, look again on a later tick.
			if ses.EndingAt != nil && s.now().Sub(*ses.EndingAt) < s.lease {
				waiting++
			}
			continue
		case err != nil:
			errs = append(errs, err)
			continue
		case !f.Status.Finished():
			waiting++
			continue
		}
		for _, g := range held {
			if g.RequestID != reqID || g.Ending() {
				continue
			}
			if _, err := s.rev.Revoke(ctx, ses.TenantID, g.ID, ses.EndedBy, reason); err != nil {
				errs = append(errs, fmt.Errorf("end session %s: %w", ses.ID, err))
			}
		}
	}
	if s.note != nil {
		if err := s.note.SessionEnded(ctx, p, ses); err != nil {
			errs = append(errs, fmt.Errorf("announce the end of session %s: %w", ses.ID, err))
		}
	}
	if len(errs) > 0 || waiting > 0 {
		if waiting > 0 {
			s.log.Info().Str("session", ses.ID).Int("waiting", waiting).Msg("purpose session ending: provisioning still running; revoked when it finishes")
		}
		return errors.Join(errs...)
	}
	now := s.now()
	err = s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.FinishPurposeSession(ctx, ses.TenantID, ses.ID, now); err != nil {
			return err
		}
		return s.audit(ctx, q, ses.TenantID, SystemActor, ActionEnded, AuditObject, ses.ID, map[string]any{"purpose": p.Name,
			"ended_by": ses.EndedBy, "reason": ses.EndReason})
	})
	if errors.Is(err, accessbot.ErrStale) {
		return nil // finished by an earlier claimant
	}
	if err != nil {
		return fmt.Errorf("finish session %s: %w", ses.ID, err)
	}
	s.log.Info().Str("tenant", ses.TenantID).Str("purpose", p.Name).Str("session", ses.ID).Str("reason", ses.EndReason).Msg("purpose session ended")
	return nil
}

// ensureActive re-hands active sessions' requests to the engine and
// re-announces their start: both are no-ops when done, and catch up after
// a crash between a start's commit and them.
func (s *Service) ensureActive(ctx context.Context, tenantID string, now time.Time) error {
	act, err := s.st.ListPurposeSessions(ctx, tenantID, "", []accessbot.SessionStatus{accessbot.SessionActive})
	if err != nil {
		return fmt.Errorf("tenant %s: %w", tenantID, err)
	}
	var errs []error
	for i := range act {
		ses := &act[i]
		if !ses.EndsAt.After(now) {
			continue
		}
		if cur, err := s.st.GetPurposeSession(ctx, tenantID, ses.ID); err != nil || cur.Status != accessbot.SessionActive {
			continue // stopped meanwhile: its end sweeps it
		}
		p, err := s.purposeOf(ctx, ses)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := s.ensure(ctx, p, ses, nil); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
