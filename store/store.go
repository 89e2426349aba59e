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
	// ListUsersOf returns the tenant's users whose id is one of ids or
	// whose email, lower-cased, is one of emails (give them normalized,
	// accessbot.NormalizeEmail), each once, in no set order: the employees
	// of a page of identities, without listing every user.
	ListUsersOf(ctx context.Context, tenantID string, ids, emails []string) ([]accessbot.User, error)
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
	GetEntitlement(ctx context.Context, tenantID, id string) (*accessbot.Entitlement, error)
	ListEntitlements(ctx context.Context, tenantID, userID string) ([]accessbot.Entitlement, error)
	// AssignToConnection records a connection assignment; one already
	// recorded is left as it is (no error).
	AssignToConnection(ctx context.Context, a *accessbot.ConnectionAssignment) error
	// UnassignFromConnection removes one; ErrNotFound when there is none.
	UnassignFromConnection(ctx context.Context, tenantID, connectionID, memberType, memberName string) error
	// ListConnectionAssignments lists what a connection was granted, by type and name.
	ListConnectionAssignments(ctx context.Context, tenantID, connectionID string) ([]accessbot.ConnectionAssignment, error)
	// ListConnectionEntitlements lists the grants of one connection.
	ListConnectionEntitlements(ctx context.Context, tenantID, connectionID string) ([]accessbot.Entitlement, error)
	// ListExpiringEntitlements returns the entitlements with ExpiresAt <=
	// before whose deprovisioning has not started, across one tenant, by end.
	ListExpiringEntitlements(ctx context.Context, tenantID string, before time.Time) ([]accessbot.Entitlement, error)
	// ClaimExpiredEntitlement claims the right to start an expired grant's
	// deprovisioning until now+lease. It wins only when ExpiresAt <= now, the
	// deprovisioning has not started and no other claim holds: of racing
	// replicas exactly one wins; a crashed winner's claim runs out.
	ClaimExpiredEntitlement(ctx context.Context, tenantID, id string, now time.Time, lease time.Duration) (won bool, err error)
	// MarkEntitlementEnding records the deprovisioning flow that ends the
	// grant. Marking it again with the same flow is a no-op; with another,
	// ErrStale.
	MarkEntitlementEnding(ctx context.Context, tenantID, id, flowID string, at time.Time) error
	// ExtendEntitlement moves ExpiresAt from from to to, only while it is
	// still from and the deprovisioning has not started; else ErrStale.
	ExtendEntitlement(ctx context.Context, tenantID, id string, from, to time.Time) error
	DeleteEntitlement(ctx context.Context, tenantID, id string) error

	// PutGrantSettings creates or replaces the tenant's expiry notices.
	PutGrantSettings(ctx context.Context, s *accessbot.GrantSettings) error
	// GetGrantSettings returns ErrNotFound when the tenant has none.
	GetGrantSettings(ctx context.Context, tenantID string) (*accessbot.GrantSettings, error)
	// PutRequestPolicy creates or replaces the tenant's request policies
	// (channel routes, requests on behalf of others, risk).
	PutRequestPolicy(ctx context.Context, p *accessbot.RequestPolicy) error
	// GetRequestPolicy returns ErrNotFound when the tenant has none.
	GetRequestPolicy(ctx context.Context, tenantID string) (*accessbot.RequestPolicy, error)
	// CreateStepUp stores a new step-up link (issue 16).
	CreateStepUp(ctx context.Context, s *accessbot.StepUp) error
	GetStepUp(ctx context.Context, tenantID, id string) (*accessbot.StepUp, error)
	GetStepUpByState(ctx context.Context, tenantID, state string) (*accessbot.StepUp, error)
	// StartStepUp marks the link opened with its OIDC state and nonce, once
	// and before it expires; else ErrStale.
	StartStepUp(ctx context.Context, tenantID, id, state, nonce string, now time.Time) error
	// CompleteStepUp marks an opened step-up done, once; else ErrStale.
	CompleteStepUp(ctx context.Context, tenantID, id string, now time.Time) error

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

	Inventory      // store/inventory.go
	Findings       // store/inventory.go
	Reviews        // store/review.go
	Provisioning   // store/provisioning.go
	Connectors     // store/connectors.go
	Playbooks      // store/playbooks.go
	ConnectorSyncs // store/connector_syncs.go
	Purposes       // store/purposes.go
	SlackIDs       // store/slackids.go

	// HomeVersion is the Home version of userID's Home tab (an admin's
	// when admin): counters that every committed write to a table a Home
	// can show moves forward, kept by triggers (migrations 00285, 00300).
	// Zero parts before the first such write.
	HomeVersion(ctx context.Context, tenantID, userID string, admin bool) (HomeVersion, error)
}

// HomeVersion is what one viewer's Home is rendered from. Each part only
// moves forward; a write that may change a Home moves at least one of the
// parts that Home reads.
type HomeVersion struct {
	// Tenant moves with writes any Home may show: users, applications,
	// connections, grants, reviews, purposes, settings, the tenant.
	Tenant int64
	// Admins moves with writes only admins' Homes show: failed or waiting
	// provisioning flows, connectors, their syncs, schedules. 0 for a
	// viewer who is not an admin.
	Admins int64
	// User moves with writes to the requests that name the viewer (as
	// requester, the person it is for, or an approver of any level) and
	// their decisions.
	User int64
}
