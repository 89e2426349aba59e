package store

import (
	"context"
	"time"

	"github.com/accessbot/accessbot"
)

// Purposes persists purposes, their assignments and sessions (flows/purposes).
type Purposes interface {
	// UpsertPurpose creates or replaces the purpose with p.Name, keeping its
	// id (written back to p).
	UpsertPurpose(ctx context.Context, p *accessbot.Purpose) error
	GetPurpose(ctx context.Context, tenantID, id string) (*accessbot.Purpose, error)
	GetPurposeByName(ctx context.Context, tenantID, name string) (*accessbot.Purpose, error)
	// ListPurposes lists the tenant's purposes by name.
	ListPurposes(ctx context.Context, tenantID string) ([]accessbot.Purpose, error)
	// DeletePurpose removes a purpose with its assignments; its sessions'
	// rows stay (they are evidence) and end through the sweep.
	DeletePurpose(ctx context.Context, tenantID, id string) error

	// AssignPurpose records an assignment; assigning again is a no-op.
	AssignPurpose(ctx context.Context, a *accessbot.PurposeAssignment) error
	GetPurposeAssignment(ctx context.Context, tenantID, purposeID, userID string) (*accessbot.PurposeAssignment, error)
	// ListPurposeAssignments lists one user's assignments, or the tenant's when userID is "".
	ListPurposeAssignments(ctx context.Context, tenantID, userID string) ([]accessbot.PurposeAssignment, error)

	// CreatePurposeSession inserts an active session; ErrConflict when the
	// user has an active or ending session of the same purpose.
	CreatePurposeSession(ctx context.Context, s *accessbot.PurposeSession) error
	GetPurposeSession(ctx context.Context, tenantID, id string) (*accessbot.PurposeSession, error)
	// ListPurposeSessions lists sessions in any of statuses (all when
	// empty), of one user or of the tenant when userID is "", by start.
	ListPurposeSessions(ctx context.Context, tenantID, userID string, statuses []accessbot.SessionStatus) ([]accessbot.PurposeSession, error)
	// ListDuePurposeSessions lists the sessions the sweep must end: active
	// ones whose end is at or before now, and ending ones.
	ListDuePurposeSessions(ctx context.Context, tenantID string, now time.Time) ([]accessbot.PurposeSession, error)
	// ClaimPurposeSession claims the right to end a due session until
	// now+lease. It wins only when the session is ending, or active with
	// EndsAt <= now (it is then marked ending, by "system", reason
	// "expired"), and no other claim holds: of racing replicas exactly one
	// wins; a crashed winner's claim runs out.
	ClaimPurposeSession(ctx context.Context, tenantID, id string, now time.Time, lease time.Duration) (won bool, err error)
	// StopPurposeSession marks an active session ending now, by whom and
	// why; ErrStale when it is not active.
	StopPurposeSession(ctx context.Context, tenantID, id, by, reason string, at time.Time) error
	// ExtendPurposeSession moves an active session's end from from to to;
	// ErrStale when it is no longer active or its end moved.
	ExtendPurposeSession(ctx context.Context, tenantID, id string, from, to time.Time) error
	// FinishPurposeSession marks an ending session ended and drops its
	// claim; ErrStale when it is not ending.
	FinishPurposeSession(ctx context.Context, tenantID, id string, at time.Time) error
	// ReleasePurposeSession drops a claim so the next sweep retries at once.
	ReleasePurposeSession(ctx context.Context, tenantID, id string) error
}
