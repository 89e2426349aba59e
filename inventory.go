package accessbot

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// The inventory is what an application says it holds: its accounts
// (identities), its groups/roles/permissions (app entitlements) and which
// account holds which (relations). Manual uploads and, later, connectors
// fill it; access reviews and findings read it. Rows that disappear from a
// snapshot keep their history: RemovedAt is set, and cleared if they return.

type IdentityStatus string

const (
	IdentityActive   IdentityStatus = "active"
	IdentityDisabled IdentityStatus = "disabled"
)

// Identity is one account in one application. ExternalID is the
// application's own id for it, unique per application.
type Identity struct {
	ID          string
	TenantID    string
	AppID       string
	ExternalID  string
	Email       string // as the application reports it; "" when unknown
	DisplayName string
	Status      IdentityStatus
	LastSeenAt  *time.Time // nil when the application does not say
	RemovedAt   *time.Time // set when the latest snapshot no longer has it
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// LabelPrivileged marks an app entitlement as privileged (admin rights and
// the like): the privileged_entitlement rule and review scopes look for it.
const LabelPrivileged = "privileged"

// AppEntitlement is a group, role or permission inside one application.
// (Entitlement, in accessbot.go, is a grant made by an access request.)
type AppEntitlement struct {
	ID         string
	TenantID   string
	AppID      string
	ExternalID string // unique per application
	Name       string
	Type       string   // free text: group, role, permission...
	Labels     []string // lower case, sorted, e.g. ["privileged"]
	RemovedAt  *time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// HasLabel reports whether the entitlement carries label.
func (e *AppEntitlement) HasLabel(label string) bool {
	for _, l := range e.Labels {
		if l == label {
			return true
		}
	}
	return false
}

// NormalizeLabels is how labels are kept: trimmed, lower case, sorted,
// unique; nil when there are none.
func NormalizeLabels(in []string) []string {
	var out []string
	for _, l := range in {
		if l = strings.ToLower(strings.TrimSpace(l)); l != "" {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// DeclareLabels adds to each of ents (app entitlements of any of apps) the
// labels the tenant file declares: an application's apply to all its
// entitlements, a connection's to the entitlement of its application whose
// external id or name is the connection's name, ignoring case. So privilege
// can be declared once in the tenant file, whatever the uploads say.
func DeclareLabels(ents []AppEntitlement, apps []Application, conns []Connection) {
	byApp := map[string][]string{}
	for _, a := range apps {
		byApp[a.ID] = a.Labels
	}
	byConn := map[[2]string][]string{} // app id, lower-case name
	for _, c := range conns {
		k := [2]string{c.AppID, strings.ToLower(c.Name)}
		byConn[k] = append(byConn[k], c.Labels...)
	}
	for i := range ents {
		e := &ents[i]
		add := slices.Concat(byApp[e.AppID], byConn[[2]string{e.AppID, strings.ToLower(e.ExternalID)}])
		if !strings.EqualFold(e.Name, e.ExternalID) {
			add = append(add, byConn[[2]string{e.AppID, strings.ToLower(e.Name)}]...)
		}
		if len(add) > 0 {
			e.Labels = NormalizeLabels(slices.Concat(e.Labels, add))
		}
	}
}

// Relation says an identity holds an app entitlement. IdentityID and
// EntitlementID are the internal ids of rows of the same application.
type Relation struct {
	TenantID      string
	AppID         string
	IdentityID    string
	EntitlementID string
	RemovedAt     *time.Time
	CreatedAt     time.Time
}

// RelationKey names a relation by the application's own ids, as uploads do.
type RelationKey struct {
	IdentityExternalID    string
	EntitlementExternalID string
}

// IdentityMapping ties an identity to an employee explicitly, for accounts
// whose email differs from the employee's. Without one, an identity maps to
// the user with the same email (ignoring case).
type IdentityMapping struct {
	TenantID   string
	IdentityID string
	UserID     string
	CreatedAt  time.Time
}

// SnapshotResult counts what replacing a snapshot did.
type SnapshotResult struct {
	Created   int // new rows
	Updated   int // rows whose fields changed
	Restored  int // rows that had been removed and are back
	Removed   int // rows newly marked removed
	Unchanged int
	Kept      int // current rows the snapshot left out but SnapshotKeep kept as they were
}

// Current is how many rows were current before the snapshot.
func (r SnapshotResult) Current() int { return r.Updated + r.Unchanged + r.Removed + r.Kept }

// SnapshotKeep names current rows a snapshot must not remove even though
// it leaves them out: what the rows an import rejected name. A rejected row
// is no evidence that what it names is gone.
type SnapshotKeep struct {
	// All keeps every current row: a rejected row named nothing that could
	// be told apart, so any row may be the one it meant.
	All bool
	// Identities are external ids: keep those identities, or (relations)
	// every relation they hold.
	Identities []string
	// Entitlements are external ids: keep those entitlements, or
	// (relations) every relation that grants them.
	Entitlements []string
}

// Empty reports whether k keeps nothing.
func (k SnapshotKeep) Empty() bool {
	return !k.All && len(k.Identities) == 0 && len(k.Entitlements) == 0
}

// ImportSettings are a tenant's upload settings (the tenant file's
// imports: section). The accidental-removal guard refuses an import or sync
// that would remove more than MaxRemovedRows rows and more than
// MaxRemovedPercent percent of an application's current rows at once: a
// truncated export, or a file for the wrong application, looks like that.
type ImportSettings struct {
	TenantID          string
	MaxRemovedRows    int
	MaxRemovedPercent int // 0 to 100; 100 turns the guard off
	UpdatedAt         time.Time
}

// The guard's defaults: normal churn (leavers, role changes) stays well
// under 10% of an application between uploads, while a partial export
// loses far more; the 20-row floor lets small applications, where one
// leaver is already more than 10%, import without --allow-removals.
const (
	DefaultMaxRemovedRows    = 20
	DefaultMaxRemovedPercent = 10
)

// DefaultImportSettings are the settings of a tenant whose file has no imports: section.
func DefaultImportSettings(tenantID string) ImportSettings {
	return ImportSettings{TenantID: tenantID, MaxRemovedRows: DefaultMaxRemovedRows, MaxRemovedPercent: DefaultMaxRemovedPercent}
}

// RefusesRemoval reports whether the guard refuses removing removed of
// current rows: more than both limits.
func (s ImportSettings) RefusesRemoval(removed, current int) bool {
	return removed > s.MaxRemovedRows && removed*100 > s.MaxRemovedPercent*current
}

// Findings

type Severity string

const (
	SeverityCritical Severity = "critical"
	SeverityHigh     Severity = "high"
	SeverityMedium   Severity = "medium"
	SeverityLow      Severity = "low"
)

// Severities lists every severity, most severe first.
var Severities = []Severity{SeverityCritical, SeverityHigh, SeverityMedium, SeverityLow}

// Valid reports whether s is one of Severities.
func (s Severity) Valid() bool {
	for _, v := range Severities {
		if s == v {
			return true
		}
	}
	return false
}

// Rank orders severities: critical is 0, low is 3, unknown is 4.
func (s Severity) Rank() int {
	for i, v := range Severities {
		if s == v {
			return i
		}
	}
	return len(Severities)
}

type SubjectKind string

const (
	SubjectEmployee    SubjectKind = "employee"
	SubjectIdentity    SubjectKind = "identity"
	SubjectApplication SubjectKind = "application"
)

// Valid reports whether k is a known subject kind.
func (k SubjectKind) Valid() bool {
	return k == SubjectEmployee || k == SubjectIdentity || k == SubjectApplication
}

// Subject is what a finding is about. ID is an internal id (user, identity,
// application) for rule findings, or the reporting tool's id for external
// ones; Display is for people.
type Subject struct {
	Kind    SubjectKind `json:"kind"`
	ID      string      `json:"id"`
	Display string      `json:"display,omitempty"`
}

type FindingStatus string

const (
	FindingOpen         FindingStatus = "open"
	FindingAcknowledged FindingStatus = "acknowledged"
	FindingResolved     FindingStatus = "resolved"
)

// ActorSystem is who resolves a finding that stopped matching.
const ActorSystem = "system"

// Finding is one rule matching one subject, de-duplicated by
// (tenant, rule, subject kind, subject id).
type Finding struct {
	ID       string
	TenantID string
	Rule     string
	Severity Severity
	Subject  Subject
	Details  json.RawMessage // rule-specific JSON object, may be empty
	Status   FindingStatus
	// FirstSeen is when it first matched; LastSeen the latest run it matched.
	FirstSeen time.Time
	LastSeen  time.Time
	// OpenedAt is when it last became open: FirstSeen, or a reopening.
	// NewSince reads it, so a reopened finding counts as new again.
	OpenedAt time.Time
	// StatusBy and StatusAt say who set Status and when; "" and nil while
	// it has been open since first seen.
	StatusBy string
	StatusAt *time.Time
}

// FindingMatch is one subject a rule matched in a run.
type FindingMatch struct {
	Severity Severity
	Subject  Subject
	Details  json.RawMessage
}

// FindingFilter selects findings to list. Zero values select everything.
type FindingFilter struct {
	Statuses   []FindingStatus
	Severities []Severity
	Rule       string
	// Since keeps findings whose LastSeen is at or after it.
	Since time.Time
	Limit int
}

// SyncResult counts what recording a rule run did.
type SyncResult struct {
	Opened   int // new findings
	Reopened int // resolved findings that match again
	Seen     int // open or acknowledged findings that still match
	Resolved int // findings that stopped matching
}

// TenantRule is a finding rule a tenant declared in its tenant file.
type TenantRule struct {
	TenantID    string
	Name        string // unique per tenant; the findings' Rule
	Description string
	Severity    Severity
	Subject     SubjectKind // identity or employee
	Filter      Filter
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Filter is a small declarative condition tree. Exactly one of All, Any or
// Field is set: All and Any combine children, Field compares one field.
type Filter struct {
	All   []Filter `json:"all,omitempty"`
	Any   []Filter `json:"any,omitempty"`
	Field string   `json:"field,omitempty"` // e.g. identity.status, entitlement.labels
	Op    string   `json:"op,omitempty"`    // eq ne in contains gt lt exists older_than
	// Value is a string, a list of strings (in) or a bool (exists).
	Value any `json:"value,omitempty"`
}

// ConnectorSync is where an application's connector sync left off and how
// its last run went.
type ConnectorSync struct {
	TenantID   string
	AppID      string
	Connector  string     // "azuread", "scim"
	Cursor     string     // the connector's resume state (delta links); "" means a full read next
	LastFullAt *time.Time // last complete read
	LastRunAt  *time.Time // last attempt, good or not
	LastOKAt   *time.Time // last run whose snapshot was written
	LastError  string     // of the last run; "" when it worked
	Summary    string     // counts of the last good run, one line
}
