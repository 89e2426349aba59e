package grants

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/requests"
	"github.com/accessbot/accessbot/store"
)

// Extender is the requests.Provisioner that carries out approved
// extensions itself, by moving the grant's end (the access exists already:
// nothing is provisioned again), starts the deprovisioning of every grant
// of a connection whose deletion was approved, and hands every request
// (but extensions) to next.
type Extender struct {
	s    *Service
	next requests.Provisioner
}

var (
	_ requests.Provisioner   = (*Extender)(nil)
	_ requests.TxProvisioner = (*Extender)(nil)
)

// Extender wraps next (the engine, or manual fulfilment).
func (s *Service) Extender(next requests.Provisioner) *Extender {
	if next == nil {
		next = requests.RecordOnly{}
	}
	return &Extender{s: s, next: next}
}

// ProvisionTx starts, in the transaction of the final approval, what next
// starts there (the engine's flow) — but for an extension (moved by
// Provision, nothing to run) and a connection deletion (whose grants end
// first, from the job): those it leaves to Provision.
func (e *Extender) ProvisionTx(ctx context.Context, q store.Queries, req *accessbot.AccessRequest) (bool, error) {
	if _, ext := requests.ExtensionOf(req); ext || req.Kind == accessbot.RequestConnectionDelete {
		return false, nil
	}
	tp, ok := e.next.(requests.TxProvisioner)
	if !ok {
		return false, nil
	}
	return tp.ProvisionTx(ctx, q, req)
}

// Provision moves an extended grant's end from the end it was asked from
// by the request's duration. A retry finds it moved and does nothing; a
// grant that ended or changed meanwhile is left alone (logged).
func (e *Extender) Provision(ctx context.Context, req *accessbot.AccessRequest) error {
	p, ok := requests.ExtensionOf(req)
	if !ok {
		if req.Kind == accessbot.RequestConnectionDelete && req.ConnectionID != "" {
			// The grants of a connection being deleted end first, through
			// their own deprovisioning chains (deleting the row drops them).
			if _, err := e.s.EndConnection(ctx, req.TenantID, req.ConnectionID, requests.SystemActor, "connection deleted by request "+req.ID); err != nil {
				return fmt.Errorf("end grants of connection %s: %w", req.ConnectionID, err)
			}
		}
		return e.next.Provision(ctx, req)
	}
	s := e.s
	to := p.From.Add(req.Duration).UTC()
	now := s.clock().UTC()
	err := s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.ExtendEntitlement(ctx, req.TenantID, p.Extends, p.From, to); err != nil {
			return err
		}
		after, _ := json.Marshal(map[string]any{"request_id": req.ID, "from": p.From, "to": to})
		return q.AppendAudit(ctx, &accessbot.AuditEntry{ID: uuid.Must(uuid.NewV7()).String(), TenantID: req.TenantID, At: now,
			ActorID: requests.SystemActor, Action: ActionExtended, ObjectType: AuditObject, ObjectID: p.Extends, After: after})
	})
	switch {
	case err == nil:
		s.log.Info().Str("tenant", req.TenantID).Str("grant", p.Extends).Str("request", req.ID).Time("until", to).Msg("grant extended")
		return nil
	case errors.Is(err, accessbot.ErrNotFound):
		s.log.Warn().Str("tenant", req.TenantID).Str("grant", p.Extends).Str("request", req.ID).Msg("extension approved for a grant that no longer exists")
		return nil
	case errors.Is(err, accessbot.ErrStale):
		g, gerr := s.st.GetEntitlement(ctx, req.TenantID, p.Extends)
		if gerr != nil {
			return fmt.Errorf("extend grant %s: re-read: %w", p.Extends, gerr)
		}
		if g.ExpiresAt != nil && g.ExpiresAt.Equal(to) && !g.Ending() {
			return nil // an earlier attempt moved it
		}
		s.log.Warn().Str("tenant", req.TenantID).Str("grant", p.Extends).Str("request", req.ID).Bool("ending", g.Ending()).
			Msg("extension approved for a grant that ended or changed since; left alone")
		return nil
	default:
		return fmt.Errorf("extend grant %s for request %s: %w", p.Extends, req.ID, err)
	}
}
