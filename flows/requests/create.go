package requests

import (
	"context"
	"errors"
	"fmt"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// Prepare validates in and resolves its approval chain without storing
// anything, for the preview step. Errors: *FieldErrors for bad fields,
// *DuplicateRequestError when an open request asks for the same thing,
// ErrForbidden when the requester is unknown or inactive, ErrNoChain or
// ErrNoApprovers when nobody could approve it.
func (s *Service) Prepare(ctx context.Context, in Input) (*Draft, error) {
	return s.prepare(ctx, s.st, in)
}

func (s *Service) prepare(ctx context.Context, q store.Queries, in Input) (*Draft, error) {
	tenantID, requesterID := in.scope()
	if tenantID == "" || requesterID == "" {
		return nil, fmt.Errorf("prepare request: tenant and requester are required: %w", accessbot.ErrInvalid)
	}
	requester, err := q.GetUser(ctx, tenantID, requesterID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return nil, fmt.Errorf("prepare request: requester %s is not a user of this tenant: %w", requesterID, ErrForbidden)
	}
	if err != nil {
		return nil, fmt.Errorf("prepare request: load requester %s: %w", requesterID, err)
	}
	if requester.Status != accessbot.UserActive {
		return nil, fmt.Errorf("prepare request: requester %s is not active: %w", requesterID, ErrForbidden)
	}
	policy, err := requestPolicy(ctx, q, tenantID)
	if err != nil {
		return nil, fmt.Errorf("prepare request: %w", err)
	}
	d := &Draft{Requester: requester, now: s.now(), policy: policy}
	d.Request.TenantID = tenantID
	d.Request.RequesterID = requesterID
	d.Request.Status = accessbot.StatusPending
	fe := &FieldErrors{}
	if err := in.validate(ctx, q, d, fe); err != nil {
		return nil, fmt.Errorf("prepare %s request: %w", d.Request.Kind, err)
	}
	if err := fe.err(); err != nil {
		return nil, err
	}
	if existing, err := q.GetOpenRequestByKey(ctx, tenantID, d.Request.OpenKey); err == nil {
		return nil, &DuplicateRequestError{ExistingID: existing.ID}
	} else if !errors.Is(err, accessbot.ErrNotFound) {
		return nil, fmt.Errorf("prepare %s request: look for an open duplicate: %w", d.Request.Kind, err)
	}
	chains, err := q.ListApprovalChains(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("prepare %s request: list approval chains: %w", d.Request.Kind, err)
	}
	var chain *accessbot.ApprovalChain
	why := ""
	if d.chain != "" {
		chain, err = chainNamed(chains, d.chain)
		why = fmt.Sprintf("the purpose names approval chain %q", d.chain)
	} else {
		chain, why, err = SelectRouted(chains, d.Request.AppID, d.Request.ConnectionID, RoutingFor(policy, d.channel))
	}
	if err != nil {
		return nil, fmt.Errorf("prepare %s request for application %s: %w", d.Request.Kind, d.App.Name, err)
	}
	d.Chain, d.ChainWhy = chain, why
	d.Request.Channel = d.channel
	// The manager approver is the target's manager for user access and the
	// requester's for connection requests.
	managerOf := requester
	if d.Target != nil {
		managerOf = d.Target
	}
	levels, err := resolveLevels(ctx, q, chain, resolveInput{
		tenantID: tenantID, requesterID: requesterID, targetID: d.Request.TargetUserID, managerOf: managerOf, app: d.App, now: s.now(),
	})
	if err != nil {
		return nil, fmt.Errorf("prepare %s request for application %s: %w", d.Request.Kind, d.App.Name, err)
	}
	if d.Risk == accessbot.RiskHigh {
		// Every approval of a high-risk request counts only after step-up.
		for i := range levels {
			levels[i].StepUp = true
		}
	}
	d.Request.Levels = levels
	return d, nil
}

// Create validates in again (the world may have changed since the preview),
// stores the request with its resolved levels and a "request.created" audit
// entry in one transaction, with the job that confirms it to the requester
// (which then asks the approvers of level 1). Errors are those of Prepare.
func (s *Service) Create(ctx context.Context, in Input) (*accessbot.AccessRequest, error) {
	r, err := s.create(ctx, in)
	countOp("create", err)
	return r, err
}

func (s *Service) create(ctx context.Context, in Input) (*accessbot.AccessRequest, error) {
	var req *accessbot.AccessRequest
	err := s.inTx(ctx, func(q store.Queries, add func(...Job)) error {
		d, err := s.prepare(ctx, q, in)
		if err != nil {
			return err
		}
		now := s.now()
		r := d.Request
		r.ID = newID()
		r.Level = 0
		r.CreatedAt, r.UpdatedAt = now, now
		if err := q.CreateRequest(ctx, &r); err != nil {
			return fmt.Errorf("store %s request: %w", r.Kind, err)
		}
		if err := appendAudit(ctx, q, &r, now, r.RequesterID, ActionCreated, nil, ptr(stateOf(&r, true))); err != nil {
			return err
		}
		req = &r
		// Only the confirmation: its job asks level 1 once the confirmation
		// exists (see RunJob), since level 1's news goes in its thread.
		add(Job{Kind: JobRequestCreated, TenantID: r.TenantID, RequestID: r.ID})
		return nil
	})
	if err != nil {
		var fe *FieldErrors
		var dup *DuplicateRequestError
		if errors.As(err, &fe) || errors.As(err, &dup) {
			return nil, err
		}
		if errors.Is(err, accessbot.ErrConflict) {
			// Lost a race with an identical request: point to the winner.
			if d, perr := s.Prepare(ctx, in); perr != nil {
				return nil, perr
			} else if existing, gerr := s.st.GetOpenRequestByKey(ctx, d.Request.TenantID, d.Request.OpenKey); gerr == nil {
				return nil, &DuplicateRequestError{ExistingID: existing.ID}
			}
		}
		return nil, fmt.Errorf("create request: %w", err)
	}
	s.log.Info().Str("tenant", req.TenantID).Str("request", req.ID).Str("kind", string(req.Kind)).
		Str("requester", req.RequesterID).Int("levels", len(req.Levels)).Msg("request created")
	return req, nil
}

func ptr[T any](v T) *T { return &v }

// requestPolicy reads the tenant's request policies; none is the zero policy.
func requestPolicy(ctx context.Context, q store.Queries, tenantID string) (*accessbot.RequestPolicy, error) {
	p, err := q.GetRequestPolicy(ctx, tenantID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return &accessbot.RequestPolicy{TenantID: tenantID}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read request policies: %w", err)
	}
	return p, nil
}
