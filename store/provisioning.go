package store

import (
	"context"
	"time"

	"github.com/accessbot/accessbot"
)

// Provisioning persists ActionFlows (flows/provision) and their steps.
type Provisioning interface {
	// CreateActionFlow inserts f with its steps; ErrConflict when the tenant
	// already has a flow with f.Key (the flow was started before).
	CreateActionFlow(ctx context.Context, f *accessbot.ActionFlow) error
	GetActionFlow(ctx context.Context, tenantID, id string) (*accessbot.ActionFlow, error)
	// GetActionFlowForUpdate is GetActionFlow that, inside InTx, also locks
	// the flow's row until the transaction ends (PostgreSQL; SQLite's
	// writers already run one at a time).
	GetActionFlowForUpdate(ctx context.Context, tenantID, id string) (*accessbot.ActionFlow, error)
	GetActionFlowByKey(ctx context.Context, tenantID, key string) (*accessbot.ActionFlow, error)
	// SaveActionFlow writes f's state and its steps' only if the stored
	// flow still has f.Version, which it then increments; ErrStale otherwise.
	SaveActionFlow(ctx context.Context, f *accessbot.ActionFlow) error
	// ListActionFlowsByRequest lists a request's flows, oldest first.
	ListActionFlowsByRequest(ctx context.Context, tenantID, requestID string) ([]accessbot.ActionFlow, error)
	// ListActionFlowsByStatus lists flows in any of statuses, most recently
	// updated first, up to limit (0 = all).
	ListActionFlowsByStatus(ctx context.Context, tenantID string, statuses []accessbot.FlowStatus, limit int) ([]accessbot.ActionFlow, error)
	// ListRevokedAccess lists the application's done deprovisioning flows
	// of a user and a connection that finished before before, oldest
	// first, without their steps (the reconcile after a connector sync).
	ListRevokedAccess(ctx context.Context, tenantID, appID string, before time.Time) ([]accessbot.RevokedAccess, error)
}
