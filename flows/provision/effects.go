package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

var timeZero time.Time

// ActionFlowEffect is the audit entry of what a finished connection flow
// changed in accessbot (object action_flow): a connection created,
// assignments recorded, a connection deleted with its holders' flows, or a
// grant not recorded because its connection was deleted meanwhile.
const ActionFlowEffect = "flow.effect"

// finish makes a finished flow's effect real in accessbot, in the
// transaction that marks it done: a provisioned user_access request becomes
// a grant (with its end, when time-bound); a connection request creates the
// connection, records its assignments, or deletes it after starting its
// holders' deprovisioning; a deprovisioning removes the grant.
func (e *Engine) finish(ctx context.Context, q store.Queries, f *accessbot.ActionFlow) error {
	if f.Direction == string(Deprovision) {
		if f.EntitlementID == "" {
			return nil
		}
		err := q.DeleteEntitlement(ctx, f.TenantID, f.EntitlementID)
		if err != nil && !errors.Is(err, accessbot.ErrNotFound) {
			return fmt.Errorf("remove grant %s: %w", f.EntitlementID, err)
		}
		return nil
	}
	if f.RequestID == "" {
		return nil
	}
	req, err := q.GetRequest(ctx, f.TenantID, f.RequestID)
	if err != nil {
		return fmt.Errorf("load request %s: %w", f.RequestID, err)
	}
	if err := e.record(ctx, q, f, req); err != nil {
		return err
	}
	if e.cfg.OnProvisioned != nil {
		if err := e.cfg.OnProvisioned(ctx, q, req); err != nil {
			return fmt.Errorf("request %s provisioned: %w", req.ID, err)
		}
	}
	return nil
}

// record makes request req's effect real: a grant, or a connection created or deleted.
func (e *Engine) record(ctx context.Context, q store.Queries, f *accessbot.ActionFlow, req *accessbot.AccessRequest) error {
	switch req.Kind {
	case accessbot.RequestUserAccess:
		return e.recordGrant(ctx, q, f, req)
	case accessbot.RequestConnectionCreate:
		return e.createConnection(ctx, q, f, req)
	case accessbot.RequestConnectionAssign:
		return e.assign(ctx, q, f, req)
	case accessbot.RequestConnectionDelete:
		return e.deleteConnection(ctx, q, f, req)
	}
	return nil
}

// gone reports (and audits) a connection deleted while f ran: its effect
// has nothing left to apply to.
func (e *Engine) gone(ctx context.Context, q store.Queries, f *accessbot.ActionFlow, connID, effect string) (bool, error) {
	_, err := q.GetConnection(ctx, f.TenantID, connID)
	if err == nil {
		return false, nil
	}
	if !errors.Is(err, accessbot.ErrNotFound) {
		return false, fmt.Errorf("load connection %s: %w", connID, err)
	}
	return true, e.audit(ctx, q, f, SystemActor, ActionFlowEffect, map[string]any{"effect": effect, "connection_id": connID,
		"why": "the connection was deleted while this flow ran"})
}

func (e *Engine) recordGrant(ctx context.Context, q store.Queries, f *accessbot.ActionFlow, req *accessbot.AccessRequest) error {
	// A connection deleted while this flow ran (its deletion's chain removed
	// it, and ended the grants it had then): there is nothing to hold.
	if gone, err := e.gone(ctx, q, f, req.ConnectionID, "grant_skipped"); gone || err != nil {
		return err
	}
	var fl Fields
	_ = json.Unmarshal(f.Fields, &fl)
	target := req.TargetUserID
	if target == "" {
		target = req.RequesterID
	}
	// A time-bound grant's end counts from now, when the access exists,
	// not from the approval: a flow that waited on a manual step for a
	// day still gives the whole duration.
	now := e.now()
	var ends *time.Time
	if fl.Expiry != nil && req.Duration > 0 {
		end := now.Add(req.Duration)
		ends = &end
	}
	ent := &accessbot.Entitlement{TenantID: f.TenantID, UserID: target, ConnectionID: req.ConnectionID, RequestID: req.ID,
		GrantedAt: now, ExpiresAt: ends}
	err := q.CreateEntitlement(ctx, ent)
	if errors.Is(err, accessbot.ErrConflict) {
		return nil // already held (imported, or granted before): nothing to add
	}
	if err != nil {
		return fmt.Errorf("record grant: %w", err)
	}
	f.EntitlementID = ent.ID
	return nil
}

func (e *Engine) createConnection(ctx context.Context, q store.Queries, f *accessbot.ActionFlow, req *accessbot.AccessRequest) error {
	var p struct {
		Name        string            `json:"name"`
		Type        string            `json:"type"`
		Description string            `json:"description"`
		Fields      map[string]string `json:"fields"`
	}
	if err := json.Unmarshal(req.Payload, &p); err != nil {
		return fmt.Errorf("decode request %s: %w", req.ID, err)
	}
	c := &accessbot.Connection{TenantID: f.TenantID, AppID: req.AppID, Name: p.Name, Type: p.Type, Description: p.Description, Attributes: p.Fields}
	err := q.CreateConnection(ctx, c)
	detail := map[string]any{"effect": "connection_created", "name": p.Name, "type": p.Type}
	switch {
	case errors.Is(err, accessbot.ErrConflict):
		detail["effect"], detail["why"] = "connection_exists", "a connection of that name was made meanwhile"
	case err != nil:
		return fmt.Errorf("create connection %s: %w", p.Name, err)
	default:
		f.ConnectionID = c.ID
		detail["connection_id"] = c.ID
	}
	return e.audit(ctx, q, f, SystemActor, ActionFlowEffect, detail)
}

// assignment is a connection_assign request's payload (requests.AssignmentPayload).
type assignment struct {
	Grants  []member `json:"grants"`
	Revokes []member `json:"revokes"`
}

type member struct {
	Type       string `json:"type"`
	SourceName string `json:"source_name"`
}

// assign records what a connection_assign request grants to the connection
// and removes what it revokes.
func (e *Engine) assign(ctx context.Context, q store.Queries, f *accessbot.ActionFlow, req *accessbot.AccessRequest) error {
	if gone, err := e.gone(ctx, q, f, req.ConnectionID, "assignment_skipped"); gone || err != nil {
		return err
	}
	var p assignment
	if err := json.Unmarshal(req.Payload, &p); err != nil {
		return fmt.Errorf("decode request %s: %w", req.ID, err)
	}
	now := e.now()
	var granted, revoked []string
	for _, g := range p.Grants {
		if err := q.AssignToConnection(ctx, &accessbot.ConnectionAssignment{TenantID: f.TenantID, ConnectionID: req.ConnectionID,
			MemberType: g.Type, MemberName: g.SourceName, RequestID: req.ID, GrantedAt: now}); err != nil {
			return err
		}
		granted = append(granted, g.Type+" "+g.SourceName)
	}
	for _, r := range p.Revokes {
		err := q.UnassignFromConnection(ctx, f.TenantID, req.ConnectionID, r.Type, r.SourceName)
		if err != nil && !errors.Is(err, accessbot.ErrNotFound) {
			return err
		}
		revoked = append(revoked, r.Type+" "+r.SourceName)
	}
	return e.audit(ctx, q, f, SystemActor, ActionFlowEffect, map[string]any{"effect": "assigned", "connection_id": req.ConnectionID,
		"granted": granted, "revoked": revoked})
}

// deleteConnection starts the deprovisioning chain of every grant of the
// connection that is not ending yet (those recorded after the approval
// too: a user_access flow that finished meanwhile), then deletes it, all
// in this transaction. The holders' flows run on after the row is gone
// (they carry what they need) and find their grants removed with it.
func (e *Engine) deleteConnection(ctx context.Context, q store.Queries, f *accessbot.ActionFlow, req *accessbot.AccessRequest) error {
	gs, err := q.ListConnectionEntitlements(ctx, f.TenantID, req.ConnectionID)
	if err != nil {
		return err
	}
	var flows []string
	for _, g := range gs {
		if g.Ending() {
			flows = append(flows, g.EndingFlowID)
			continue
		}
		id, err := e.deprovision(ctx, q, f.TenantID, g.ID, f.ActorID, "connection deleted by request "+req.ID)
		if err != nil {
			return fmt.Errorf("end grant %s of connection %s: %w", g.ID, req.ConnectionID, err)
		}
		flows = append(flows, id)
	}
	err = q.DeleteConnection(ctx, f.TenantID, req.ConnectionID)
	if err != nil && !errors.Is(err, accessbot.ErrNotFound) {
		return fmt.Errorf("delete connection %s: %w", req.ConnectionID, err)
	}
	return e.audit(ctx, q, f, SystemActor, ActionFlowEffect, map[string]any{"effect": "connection_deleted",
		"connection_id": req.ConnectionID, "holders_flows": flows, "found": err == nil})
}
