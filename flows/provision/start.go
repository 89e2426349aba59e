package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// DefaultChain is the chain of a relationship type an application declares
// none for: one manual step, today's hand-over to its owners.
var DefaultChain = []accessbot.ActionScript{{Type: "manual"}}

// FlowKey names what a flow acts on, unique per tenant: a request's
// provisioning, or the end of one grant.
func FlowKey(d Direction, id string) string { return string(d) + ":" + id }

// Provision creates the ActionFlow that carries out an approved request and
// queues its first step, in one store transaction; a second call (a
// retried provision job) finds the flow and does nothing. It is the
// requests.Provisioner.
func (e *Engine) Provision(ctx context.Context, req *accessbot.AccessRequest) error {
	if req.Status != accessbot.StatusApproved {
		return nil
	}
	err := e.st.InTx(ctx, func(q store.Queries) error { return e.provisionIn(ctx, q, req) })
	if err != nil {
		return fmt.Errorf("start provisioning of request %s: %w", req.ID, err)
	}
	return nil
}

// ProvisionTx does what Provision does inside the caller's transaction q:
// the one that records the request's final approval (the
// requests.TxProvisioner), so the flow and its first step's job commit
// with the approval. Without a job queue it leaves the request to Provision.
func (e *Engine) ProvisionTx(ctx context.Context, q store.Queries, req *accessbot.AccessRequest) (bool, error) {
	if req.Status != accessbot.StatusApproved || e.q == nil {
		return false, nil
	}
	if err := e.provisionIn(ctx, q, req); err != nil {
		return false, fmt.Errorf("start provisioning of request %s: %w", req.ID, err)
	}
	return true, nil
}

func (e *Engine) provisionIn(ctx context.Context, q store.Queries, req *accessbot.AccessRequest) error {
	if _, err := q.GetActionFlowByKey(ctx, req.TenantID, FlowKey(Provision, req.ID)); err == nil {
		return nil
	} else if !errors.Is(err, accessbot.ErrNotFound) {
		return err
	}
	f, err := e.newProvisionFlow(ctx, q, req)
	if err != nil {
		return err
	}
	return e.start(ctx, q, f, req.RequesterID)
}

// Deprovision starts the flow that ends one grant; a second call returns
// the first flow's id.
func (e *Engine) Deprovision(ctx context.Context, tenantID, entitlementID, actorID, reason string) (string, error) {
	var id string
	err := e.st.InTx(ctx, func(q store.Queries) error {
		var err error
		id, err = e.DeprovisionTx(ctx, q, tenantID, entitlementID, actorID, reason)
		return err
	})
	return id, err
}

// DeprovisionTx is Deprovision inside the caller's transaction q.
func (e *Engine) DeprovisionTx(ctx context.Context, q store.Queries, tenantID, entitlementID, actorID, reason string) (string, error) {
	id, err := e.deprovision(ctx, q, tenantID, entitlementID, actorID, reason)
	if err != nil {
		return "", fmt.Errorf("start deprovisioning of grant %s: %w", entitlementID, err)
	}
	return id, nil
}

func (e *Engine) deprovision(ctx context.Context, q store.Queries, tenantID, entitlementID, actorID, reason string) (string, error) {
	if f, err := q.GetActionFlowByKey(ctx, tenantID, FlowKey(Deprovision, entitlementID)); err == nil {
		return f.ID, nil
	} else if !errors.Is(err, accessbot.ErrNotFound) {
		return "", err
	}
	ent, err := q.GetEntitlement(ctx, tenantID, entitlementID)
	if err != nil {
		return "", err
	}
	conn, err := q.GetConnection(ctx, tenantID, ent.ConnectionID)
	if err != nil {
		return "", fmt.Errorf("load connection %s: %w", ent.ConnectionID, err)
	}
	app, err := q.GetApplication(ctx, tenantID, conn.AppID)
	if err != nil {
		return "", fmt.Errorf("load application %s: %w", conn.AppID, err)
	}
	fl := Fields{Outputs: map[string]string{}}
	fl.Requester = e.person(ctx, q, tenantID, actorID)
	fl.Target = e.person(ctx, q, tenantID, ent.UserID)
	setApp(&fl, app)
	setConn(&fl, conn)
	fl.Request.ID, fl.Request.Reason = ent.RequestID, reason
	fl.Expiry = ent.ExpiresAt
	rel := relOfConnection(conn.Type)
	f := &accessbot.ActionFlow{TenantID: tenantID, Key: FlowKey(Deprovision, entitlementID), RequestID: ent.RequestID,
		EntitlementID: ent.ID, AppID: app.ID, ConnectionID: conn.ID, UserID: ent.UserID, Relationship: string(rel),
		Direction: string(Deprovision), ActorID: actorID, Reason: reason}
	if err := fillFlow(f, fl, chainOf(app, rel).Deprovision); err != nil {
		return "", err
	}
	if err := e.start(ctx, q, f, actorID); err != nil {
		return "", err
	}
	return f.ID, nil
}

// start stores a new flow and queues its first step, in q.
func (e *Engine) start(ctx context.Context, q store.Queries, f *accessbot.ActionFlow, actor string) error {
	f.Status = accessbot.FlowPending
	f.CreatedAt = e.now()
	if err := q.CreateActionFlow(ctx, f); err != nil {
		return fmt.Errorf("create flow: %w", err)
	}
	types := make([]string, len(f.Steps))
	for i, s := range f.Steps {
		types[i] = s.Type
	}
	if err := e.audit(ctx, q, f, actor, ActionFlowStarted, map[string]any{"key": f.Key, "relationship": f.Relationship,
		"direction": f.Direction, "steps": types}); err != nil {
		return err
	}
	if err := e.enqueue(ctx, q, StepArgs{TenantID: f.TenantID, FlowID: f.ID, Index: 0}, time.Time{}); err != nil {
		return err
	}
	return e.queueChanged(ctx, q, f)
}

func (e *Engine) newProvisionFlow(ctx context.Context, q store.Queries, req *accessbot.AccessRequest) (*accessbot.ActionFlow, error) {
	app, err := q.GetApplication(ctx, req.TenantID, req.AppID)
	if err != nil {
		return nil, fmt.Errorf("load application %s: %w", req.AppID, err)
	}
	fl := Fields{Outputs: map[string]string{}}
	fl.Requester = e.person(ctx, q, req.TenantID, req.RequesterID)
	fl.Target = fl.Requester
	if req.TargetUserID != "" {
		fl.Target = e.person(ctx, q, req.TenantID, req.TargetUserID)
	}
	setApp(&fl, app)
	fl.Request.ID, fl.Request.Kind, fl.Request.Reason, fl.Request.Duration = req.ID, string(req.Kind), req.Justification, req.Duration
	if req.Kind == accessbot.RequestUserAccess && req.Duration > 0 {
		at := e.now()
		if req.DecidedAt != nil {
			at = *req.DecidedAt
		}
		end := at.Add(req.Duration).UTC()
		fl.Expiry = &end
	}
	decisions, err := q.ListDecisions(ctx, req.TenantID, req.ID)
	if err != nil {
		return nil, fmt.Errorf("list decisions: %w", err)
	}
	var seen []string
	for _, d := range decisions {
		if d.Decision == accessbot.DecisionApprove && !slices.Contains(seen, d.ApproverID) {
			seen = append(seen, d.ApproverID)
			fl.Approvers = append(fl.Approvers, e.person(ctx, q, req.TenantID, d.ApproverID))
		}
	}
	var rel Relationship
	switch req.Kind {
	case accessbot.RequestUserAccess:
		conn, err := q.GetConnection(ctx, req.TenantID, req.ConnectionID)
		if err != nil {
			return nil, fmt.Errorf("load connection %s: %w", req.ConnectionID, err)
		}
		setConn(&fl, conn)
		rel = relOfConnection(conn.Type)
	case accessbot.RequestConnectionCreate:
		rel = RelConnectionCreate
		var p struct{ Name, Type string }
		_ = json.Unmarshal(req.Payload, &p)
		fl.Connection.Name, fl.Connection.Type = p.Name, p.Type
	case accessbot.RequestConnectionAssign, accessbot.RequestConnectionDelete:
		rel = RelConnectionAssign
		if req.Kind == accessbot.RequestConnectionDelete {
			rel = RelConnectionDelete
		}
		if conn, err := q.GetConnection(ctx, req.TenantID, req.ConnectionID); err == nil {
			setConn(&fl, conn)
		} else if !errors.Is(err, accessbot.ErrNotFound) {
			return nil, fmt.Errorf("load connection %s: %w", req.ConnectionID, err)
		} else {
			var p struct{ Name, Type string }
			_ = json.Unmarshal(req.Payload, &p)
			fl.Connection.ID, fl.Connection.Name, fl.Connection.Type = req.ConnectionID, p.Name, p.Type
		}
	default:
		return nil, fmt.Errorf("request kind %q: %w", req.Kind, accessbot.ErrInvalid)
	}
	f := &accessbot.ActionFlow{TenantID: req.TenantID, Key: FlowKey(Provision, req.ID), RequestID: req.ID, AppID: app.ID,
		ConnectionID: req.ConnectionID, UserID: fl.Target.ID, Relationship: string(rel), Direction: string(Provision),
		ActorID: SystemActor}
	if err := fillFlow(f, fl, chainOf(app, rel).Provision); err != nil {
		return nil, err
	}
	return f, nil
}

// fillFlow fixes the flow's fields and makes its steps from scripts.
func fillFlow(f *accessbot.ActionFlow, fl Fields, scripts []accessbot.ActionScript) error {
	b, err := json.Marshal(fl)
	if err != nil {
		return fmt.Errorf("encode flow fields: %w", err)
	}
	f.Fields = b
	for _, s := range scripts {
		f.Steps = append(f.Steps, accessbot.ActionFlowStep{Type: s.Type, Params: s.Params, Timeout: s.Timeout, Status: accessbot.FlowPending})
	}
	return nil
}

// chainOf is the application's chain of rel, each direction defaulting to DefaultChain.
func chainOf(app *accessbot.Application, rel Relationship) accessbot.ActionChain {
	c := app.Provisioning[string(rel)]
	if len(c.Provision) == 0 {
		c.Provision = DefaultChain
	}
	if len(c.Deprovision) == 0 {
		c.Deprovision = DefaultChain
	}
	return c
}

func relOfConnection(typ string) Relationship {
	switch Relationship(typ) {
	case RelAccount, RelGroup, RelRole, RelPolicy:
		return Relationship(typ)
	}
	return RelGroup
}

func setApp(f *Fields, a *accessbot.Application) {
	f.Application.ID, f.Application.Name, f.Application.Connector = a.ID, a.Name, a.Connector
}

func setConn(f *Fields, c *accessbot.Connection) {
	f.Connection.ID, f.Connection.Name, f.Connection.Type = c.ID, c.Name, c.Type
}

// person is a tenant user as templates see them; one gone is its id alone.
func (e *Engine) person(ctx context.Context, q store.Queries, tenantID, id string) Person {
	if id == "" || id == SystemActor {
		return Person{ID: id}
	}
	u, err := q.GetUser(ctx, tenantID, id)
	if err != nil {
		return Person{ID: id}
	}
	return Person{ID: u.ID, Name: u.Name, Email: u.Email}
}
