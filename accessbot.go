// Package accessbot holds the domain types shared by every layer: tenants,
// users, applications, requests and their errors. It imports nothing of ours.
package accessbot

import (
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Errors callers branch on. Backends and flows wrap them with %w.
var (
	ErrNotFound = errors.New("not found")
	// ErrConflict means a uniqueness rule was violated (duplicate email, name, binding).
	ErrConflict = errors.New("conflict")
	// ErrStale means a conditional update lost: the row was not in the expected state.
	ErrStale   = errors.New("stale state")
	ErrInvalid = errors.New("invalid")
)

// NormalizeEmail is the one place that decides email equality: case-insensitive, trimmed.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// Tenant is one customer. Slug is its stable, human name used in files and CLIs.
type Tenant struct {
	ID        string
	Slug      string
	Name      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Workspace binds exactly one Slack workspace (team) to exactly one tenant.
type Workspace struct {
	TenantID string
	TeamID   string
	TeamName string
	// BotTokenSecret names the encrypted secret holding the xoxb token, "" when
	// the token comes from config (single-workspace mode).
	BotTokenSecret string
	BotUserID      string
	InstalledAt    time.Time
}

type UserStatus string

const (
	UserActive     UserStatus = "active"
	UserTerminated UserStatus = "terminated"
)

type Role string

const (
	RoleAdmin  Role = "admin"
	RoleMember Role = "member"
)

// User is a tenant user (an employee). Email is unique per tenant, case-insensitively.
type User struct {
	ID           string
	TenantID     string
	Email        string
	Name         string
	ManagerID    string // "" when none
	Department   string
	Status       UserStatus
	TerminatedAt *time.Time
	Role         Role
	// DelegateID receives this user's approvals while DelegateUntil is in the future.
	DelegateID    string
	DelegateUntil *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// SchemaField is one field of an application's connection-creation form.
type SchemaField struct {
	Name     string   `json:"name" yaml:"name"`
	Label    string   `json:"label" yaml:"label"`
	Type     string   `json:"type" yaml:"type"` // text, select, multiline
	Required bool     `json:"required,omitempty" yaml:"required"`
	Options  []string `json:"options,omitempty" yaml:"options"`
}

// Application is an integration (Entra ID, GitLab, ...) with business owners.
type Application struct {
	ID               string
	TenantID         string
	Name             string // unique per tenant
	Description      string
	Connector        string // connector type, e.g. "azuread", "gitlab", "manual"
	PrimaryOwnerID   string
	SecondaryOwnerID string
	// MaxDuration caps time-bound access; 0 means permanent access is allowed.
	MaxDuration      time.Duration
	ConnectionSchema []SchemaField
	// Labels apply to every entitlement of the application in the
	// inventory (see DeclareLabels), e.g. ["privileged"].
	Labels []string
	// Provisioning holds the action chains by relationship type (account,
	// group, role, policy, connection_create, …); a type without one runs
	// the default chain, a manual step.
	Provisioning map[string]ActionChain
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// OwnedBy reports whether userID is one of the application's owners. No
// one ("") owns an application, even one without a secondary owner.
func (a *Application) OwnedBy(userID string) bool {
	return userID != "" && (a.PrimaryOwnerID == userID || a.SecondaryOwnerID == userID)
}

// Connection is a group, role or policy inside an application.
type Connection struct {
	ID          string
	TenantID    string
	AppID       string
	Name        string // unique per application
	Type        string // group, role, policy, account
	Description string
	Attributes  map[string]string
	// Labels apply to the inventory entitlement of the same name (see
	// DeclareLabels), e.g. ["privileged"].
	Labels    []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ConnectionAssignment records that a connection was granted another
// connection or a resource of its application (an approved connection_assign
// request), named by type and name.
type ConnectionAssignment struct {
	TenantID     string
	ConnectionID string
	MemberType   string // a connection type (group, role...) or a resource type
	MemberName   string
	RequestID    string // the connection_assign request that granted it
	GrantedAt    time.Time
}

// Resource is something inside an application that a connection can be granted.
type Resource struct {
	ID        string
	TenantID  string
	AppID     string
	Name      string // unique per application
	Type      string
	CreatedAt time.Time
}

// Entitlement records that a user holds a connection, maybe until ExpiresAt.
type Entitlement struct {
	ID           string
	TenantID     string
	UserID       string
	ConnectionID string
	RequestID    string // the request that granted it, "" when imported
	GrantedAt    time.Time
	ExpiresAt    *time.Time
	// EndingFlowID is the deprovisioning flow that ends the grant, once
	// started (expiry, review Revoke, finding Revoke, connection deletion);
	// EndingAt is when it started. The engine removes the row when done.
	EndingFlowID string
	EndingAt     *time.Time
}

// Ending reports whether the grant's deprovisioning has started.
func (e *Entitlement) Ending() bool { return e.EndingFlowID != "" }

// GrantEnd is when access granted by req at grantedAt ends: grantedAt plus
// the request's duration, nil for permanent access. The engine stores it as
// the entitlement's ExpiresAt when the provisioning flow finishes, so the
// holder gets the whole duration from when the access exists.
func GrantEnd(req *AccessRequest, grantedAt time.Time) *time.Time {
	if req == nil || req.Duration <= 0 {
		return nil
	}
	t := grantedAt.Add(req.Duration).UTC()
	return &t
}

// GrantSettings are a tenant's time-bound access settings (the tenant
// file's grants: section): how long before a grant's end its holder is
// told, each offset once (e.g. 24h and 1h).
type GrantSettings struct {
	TenantID      string
	ExpiryNotices []time.Duration
	UpdatedAt     time.Time
}

type ApproverKind string

const (
	ApproverOwners    ApproverKind = "owners" // primary and secondary business owners
	ApproverPrimary   ApproverKind = "primary_owner"
	ApproverSecondary ApproverKind = "secondary_owner"
	ApproverManager   ApproverKind = "manager"
	ApproverUser      ApproverKind = "user"
)

// Approver names who may approve at a level; UserID is set for ApproverUser.
type Approver struct {
	Kind   ApproverKind `json:"kind"`
	UserID string       `json:"user_id,omitempty"`
}

type ApprovalRule string

const (
	RuleAny ApprovalRule = "any"
	RuleAll ApprovalRule = "all"
	// RuleQuorum closes the level at Quorum approvals (k of n).
	RuleQuorum ApprovalRule = "quorum"
)

type ApprovalLevel struct {
	Approvers []Approver   `json:"approvers"`
	Rule      ApprovalRule `json:"rule"`
	// Quorum is k under RuleQuorum: the level closes at exactly k approvals.
	Quorum int `json:"quorum,omitempty"`
	// Channel is a Slack channel id where the level's card is also posted;
	// any approver of the level may decide there.
	Channel string `json:"channel,omitempty"`
	// ChannelOnly: the approvers are asked in Channel only, not by DM.
	ChannelOnly bool `json:"channel_only,omitempty"`
	// StepUp: an approval counts only after the approver re-authenticates
	// with the tenant's OIDC provider (a high-risk request).
	StepUp bool `json:"step_up,omitempty"`
}

// Needed is how many approvals close the level: 1 for any, every approver
// for all, k for a quorum (never more than there are approvers).
func (l ApprovalLevel) Needed() int {
	n := 0
	for _, a := range l.Approvers {
		if a.UserID != "" {
			n++
		}
	}
	switch l.Rule {
	case RuleAll:
		return max(n, 1)
	case RuleQuorum:
		return max(min(l.Quorum, n), 1)
	}
	return 1
}

// ApprovalChain is the ordered approval levels for an application, a
// connection, or (both empty) the tenant default.
type ApprovalChain struct {
	ID           string
	TenantID     string
	Name         string // unique per tenant
	AppID        string
	ConnectionID string
	Levels       []ApprovalLevel
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

type RequestKind string

const (
	RequestUserAccess       RequestKind = "user_access"
	RequestConnectionCreate RequestKind = "connection_create"
	RequestConnectionAssign RequestKind = "connection_assign"
	RequestConnectionDelete RequestKind = "connection_delete"
)

type RequestStatus string

const (
	StatusPending   RequestStatus = "pending"
	StatusApproved  RequestStatus = "approved"
	StatusDenied    RequestStatus = "denied"
	StatusCancelled RequestStatus = "cancelled"
	StatusExpired   RequestStatus = "expired"
)

// Justification lengths, in characters after trimming. The request forms'
// text boxes (min_length, max_length) and the server's check both use these,
// so what the form lets people type is what the server accepts. The forms'
// answers ride in the preview's private_metadata (3,000 characters), hence
// 1,500, and 1,000 for connection requests, whose description and fields
// ride along too.
const (
	MinJustification           = 10
	MaxJustification           = 1500
	MaxConnectionJustification = 1000
)

// AccessRequest is a user or connection access request moving through an approval chain.
type AccessRequest struct {
	ID            string
	TenantID      string
	Kind          RequestKind
	RequesterID   string
	TargetUserID  string // who gets access (user_access)
	AppID         string
	ConnectionID  string          // "" for connection_create
	Payload       json.RawMessage // connection form or {"grants":[...],"revokes":[...]}
	Duration      time.Duration   // 0 = permanent
	Justification string
	Status        RequestStatus
	Level         int // current level, 0-based
	Levels        []ApprovalLevel
	// OpenKey is set while pending so a duplicate open request is refused; "" once decided.
	OpenKey string
	// Channel is the Slack channel id the request was made in ("" from a
	// DM, Home or a button): its channel route may have chosen the chain,
	// so explanations and extensions route it the same way again.
	Channel string
	// ChannelUnknown: made before accessbot kept the channel, so Channel
	// says nothing about where it was made.
	ChannelUnknown bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
	DecidedAt      *time.Time
	// Escalated and Reminded mark one-shot steps of the current level.
	RemindedAt  *time.Time
	EscalatedAt *time.Time
}

type DecisionKind string

const (
	DecisionApprove DecisionKind = "approve"
	DecisionDeny    DecisionKind = "deny"
)

// Decision is one approver's decision at one level; unique per (request, level, approver).
type Decision struct {
	ID         string
	TenantID   string
	RequestID  string
	Level      int
	ApproverID string
	Decision   DecisionKind
	Reason     string
	DecidedAt  time.Time
}

// AuditEntry is an append-only record of who did what to which object.
type AuditEntry struct {
	ID         string
	TenantID   string
	At         time.Time
	ActorID    string // user id, or "system"
	Action     string // e.g. "request.created"
	ObjectType string
	ObjectID   string
	Before     json.RawMessage
	After      json.RawMessage
}

// Secret is an encrypted value. The store never sees plaintext.
type Secret struct {
	TenantID   string
	Name       string
	KeyID      string
	Ciphertext []byte
	UpdatedAt  time.Time
}

// MessageRef remembers a Slack message we sent about an object, so every copy
// (each approver's DM) can be updated when the object changes.
type MessageRef struct {
	TenantID  string
	ObjectID  string // e.g. the request id
	Purpose   string // e.g. "approval:1" or "requester"
	UserID    string // tenant user the message is for
	ChannelID string
	TS        string
	CreatedAt time.Time
}
