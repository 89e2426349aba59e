// Package store persists accessbot's domain. Every method takes a tenant id
// and never reads or writes another tenant's rows. Backends live in
// store/sqlite and store/postgres and pass the store/conformance suite.
package store

import (
	"context"
	"time"

	"github.com/accessbot/accessbot"
)

// Store is the whole persistence API. Errors wrap accessbot.ErrNotFound,
// accessbot.ErrConflict (uniqueness) or accessbot.ErrStale (lost conditional update).
type Store interface {
	Queries
	// InTx runs fn in one transaction: fn's error, or a panic, rolls back everything.
	InTx(ctx context.Context, fn func(q Queries) error) error
	Ping(ctx context.Context) error
	Close() error
}

// Queries is what can run inside or outside a transaction.
type Queries interface {
	ScheduleQueries // schedule.go: schedules, slot claims, alert settings, delivery outbox
	// Tenants are the one thing not scoped by tenant.
	CreateTenant(ctx context.Context, t *accessbot.Tenant) error
	UpdateTenant(ctx context.Context, t *accessbot.Tenant) error
	GetTenant(ctx context.Context, id string) (*accessbot.Tenant, error)
	GetTenantBySlug(ctx context.Context, slug string) (*accessbot.Tenant, error)
	ListTenants(ctx context.Context) ([]accessbot.Tenant, error)

	// BindWorkspace creates or updates the tenant's binding; ErrConflict when
	// the tenant has another workspace or the workspace has another tenant.
	BindWorkspace(ctx context.Context, w *accessbot.Workspace) error
	// WorkspaceByTeam is the entry point from a Slack payload: team id → tenant.
	WorkspaceByTeam(ctx context.Context, teamID string) (*accessbot.Workspace, error)
	WorkspaceByTenant(ctx context.Context, tenantID string) (*accessbot.Workspace, error)
	UnbindWorkspace(ctx context.Context, tenantID string) error

	CreateUser(ctx context.Context, u *accessbot.User) error
	UpdateUser(ctx context.Context, u *accessbot.User) error
	GetUser(ctx context.Context, tenantID, id string) (*accessbot.User, error)
	// GetUserByEmail matches case-insensitively.
	GetUserByEmail(ctx context.Context, tenantID, email string) (*accessbot.User, error)
	ListUsers(ctx context.Context, tenantID string) ([]accessbot.User, error)
	ListReports(ctx context.Context, tenantID, managerID string) ([]accessbot.User, error)
	DeleteUser(ctx context.Context, tenantID, id string) error

	CreateApplication(ctx context.Context, a *accessbot.Application) error
	UpdateApplication(ctx context.Context, a *accessbot.Application) error
	GetApplication(ctx context.Context, tenantID, id string) (*accessbot.Application, error)
	GetApplicationByName(ctx context.Context, tenantID, name string) (*accessbot.Application, error)
	// ListApplications returns applications whose name contains query (case-insensitive), up to limit (0 = all).
	ListApplications(ctx context.Context, tenantID, query string, limit int) ([]accessbot.Application, error)
	DeleteApplication(ctx context.Context, tenantID, id string) error

	CreateConnection(ctx context.Context, c *accessbot.Connection) error
	UpdateConnection(ctx context.Context, c *accessbot.Connection) error
	GetConnection(ctx context.Context, tenantID, id string) (*accessbot.Connection, error)
	GetConnectionByName(ctx context.Context, tenantID, appID, name string) (*accessbot.Connection, error)
	ListConnections(ctx context.Context, tenantID, appID string) ([]accessbot.Connection, error)
	DeleteConnection(ctx context.Context, tenantID, id string) error

	CreateResource(ctx context.Context, r *accessbot.Resource) error
	ListResources(ctx context.Context, tenantID, appID string) ([]accessbot.Resource, error)
	DeleteResource(ctx context.Context, tenantID, id string) error

	CreateEntitlement(ctx context.Context, e *accessbot.Entitlement) error
	ListEntitlements(ctx context.Context, tenantID, userID string) ([]accessbot.Entitlement, error)
	// ListExpiringEntitlements returns entitlements with ExpiresAt <= before, across one tenant.
	ListExpiringEntitlements(ctx context.Context, tenantID string, before time.Time) ([]accessbot.Entitlement, error)
	DeleteEntitlement(ctx context.Context, tenantID, id string) error

	// UpsertApprovalChain creates or replaces the chain with the same name.
	UpsertApprovalChain(ctx context.Context, c *accessbot.ApprovalChain) error
	GetApprovalChain(ctx context.Context, tenantID, id string) (*accessbot.ApprovalChain, error)
	ListApprovalChains(ctx context.Context, tenantID string) ([]accessbot.ApprovalChain, error)
	DeleteApprovalChain(ctx context.Context, tenantID, id string) error

	// CreateRequest fails with ErrConflict when an open request has the same OpenKey.
	CreateRequest(ctx context.Context, r *accessbot.AccessRequest) error
	GetRequest(ctx context.Context, tenantID, id string) (*accessbot.AccessRequest, error)
	GetOpenRequestByKey(ctx context.Context, tenantID, openKey string) (*accessbot.AccessRequest, error)
	ListRequestsByRequester(ctx context.Context, tenantID, requesterID string, limit int) ([]accessbot.AccessRequest, error)
	ListRequestsByStatus(ctx context.Context, tenantID string, status accessbot.RequestStatus, limit int) ([]accessbot.AccessRequest, error)
	// TransitionRequest writes next only if the stored request still has
	// fromStatus and fromLevel; otherwise it returns ErrStale. Exactly one of
	// several racing callers wins. OpenKey is cleared when next.Status is not pending.
	TransitionRequest(ctx context.Context, tenantID, id string, fromStatus accessbot.RequestStatus, fromLevel int, next *accessbot.AccessRequest) error
	// GetRequestForUpdate is GetRequest that, inside InTx, also locks the row
	// until the transaction ends, so read-modify-write cycles on one request
	// (a decision under rule "all", a reminder, an escalation) run one after
	// another instead of losing each other's updates.
	GetRequestForUpdate(ctx context.Context, tenantID, id string) (*accessbot.AccessRequest, error)

	// AddDecision fails with ErrConflict if this approver already decided this level.
	AddDecision(ctx context.Context, d *accessbot.Decision) error
	ListDecisions(ctx context.Context, tenantID, requestID string) ([]accessbot.Decision, error)

	AppendAudit(ctx context.Context, e *accessbot.AuditEntry) error
	ListAudit(ctx context.Context, tenantID, objectID string) ([]accessbot.AuditEntry, error)

	PutSecret(ctx context.Context, s *accessbot.Secret) error
	GetSecret(ctx context.Context, tenantID, name string) (*accessbot.Secret, error)
	ListSecrets(ctx context.Context, tenantID string) ([]accessbot.Secret, error)
	DeleteSecret(ctx context.Context, tenantID, name string) error

	SaveMessageRef(ctx context.Context, m *accessbot.MessageRef) error
	ListMessageRefs(ctx context.Context, tenantID, objectID string) ([]accessbot.MessageRef, error)

	Inventory // store/inventory.go
	Findings  // store/inventory.go
	Reviews   // store/review.go
}
