package store

import (
	"context"
	"time"

	"github.com/accessbot/accessbot"
)

// Inventory persists applications' identities, app entitlements, relations
// and identity→employee mappings. Uploads replace a whole application's
// snapshot at once: call the Replace methods inside InTx so an import is
// one transaction.
type Inventory interface {
	// ReplaceIdentities makes ids the application's current identities,
	// matched by ExternalID: new ones are created, changed ones updated,
	// removed ones brought back, and current ones missing from ids get
	// RemovedAt = at, except those keep names (Kept: left as they are).
	// ids must not repeat an ExternalID (ErrInvalid).
	ReplaceIdentities(ctx context.Context, tenantID, appID string, ids []accessbot.Identity, keep accessbot.SnapshotKeep, at time.Time) (accessbot.SnapshotResult, error)
	// ReplaceAppEntitlements does the same for app entitlements.
	ReplaceAppEntitlements(ctx context.Context, tenantID, appID string, es []accessbot.AppEntitlement, keep accessbot.SnapshotKeep, at time.Time) (accessbot.SnapshotResult, error)
	// ReplaceRelations does the same for relations, named by external ids;
	// keep keeps the current relations of its identities and entitlements.
	// A key naming an identity or entitlement the application does not have
	// (or has removed) fails with ErrNotFound and writes nothing; callers
	// check keys first to report rows.
	ReplaceRelations(ctx context.Context, tenantID, appID string, keys []accessbot.RelationKey, keep accessbot.SnapshotKeep, at time.Time) (accessbot.SnapshotResult, error)
	// ReplaceRelationsFrom is ReplaceRelations for a snapshot read one row
	// at a time: the rows are staged and compared with the stored snapshot
	// in the database, so memory does not grow with the snapshot. Rows that
	// name what the application does not have, or repeat an earlier row,
	// are told to src.Reject and left out; src.Keep is then asked what to
	// keep. Only rows that change are written.
	ReplaceRelationsFrom(ctx context.Context, tenantID, appID string, src RelationSource, at time.Time) (accessbot.SnapshotResult, error)
	// ReplaceIdentitiesFrom is ReplaceIdentities for a snapshot read one
	// row at a time: the store stages the rows and compares them with the
	// stored snapshot in the database, so memory holds neither side.
	ReplaceIdentitiesFrom(ctx context.Context, tenantID, appID string, src IdentitySource, at time.Time) (accessbot.SnapshotResult, error)
	// ReplaceAppEntitlementsFrom is ReplaceAppEntitlements for a snapshot
	// read one row at a time, staged and compared in the database as
	// ReplaceIdentitiesFrom does; labels are normalised as they are staged.
	ReplaceAppEntitlementsFrom(ctx context.Context, tenantID, appID string, src EntitlementSource, at time.Time) (accessbot.SnapshotResult, error)
	// ReplaceIdentityMappings makes ms the mappings of the given identities'
	// applications: mappings of identities in appIDs that are not in ms are
	// deleted. An empty appIDs means every application of the tenant.
	ReplaceIdentityMappings(ctx context.Context, tenantID string, appIDs []string, ms []accessbot.IdentityMapping) (accessbot.SnapshotResult, error)
	// ReplaceIdentityMappingsFrom replaces the mappings of the identities
	// of appIDs (every application when empty) with a snapshot read one row
	// at a time: the rows are staged, resolved (identity by external id,
	// employee by email) and compared with the stored mappings in the
	// database, so memory holds neither side. Rows the store rejects are
	// told to src.Reject. Every rejected row, the caller's (Skip) and the
	// store's, keeps what it names as it is: the stored mappings of the
	// identities with its id (in its AppID when set) and of its employee,
	// and every mapping in scope when it names neither. Kept mappings are
	// counted as Kept, not Unchanged.
	ReplaceIdentityMappingsFrom(ctx context.Context, tenantID string, appIDs []string, src MappingSource) (accessbot.SnapshotResult, error)

	// List methods return current rows, or every row with includeRemoved.
	// An empty appID lists every application of the tenant.
	ListIdentities(ctx context.Context, tenantID, appID string, includeRemoved bool) ([]accessbot.Identity, error)
	ListAppEntitlements(ctx context.Context, tenantID, appID string, includeRemoved bool) ([]accessbot.AppEntitlement, error)
	ListRelations(ctx context.Context, tenantID, appID string, includeRemoved bool) ([]accessbot.Relation, error)
	ListIdentityMappings(ctx context.Context, tenantID string) ([]accessbot.IdentityMapping, error)
	// ListIdentityMappingsBetween returns the mappings of the identities
	// whose id sorts after after and not after through (no upper bound
	// when through is ""): a page of ListIdentitiesAfter's walk.
	ListIdentityMappingsBetween(ctx context.Context, tenantID, after, through string) ([]accessbot.IdentityMapping, error)
	// ListAppEntitlementsOf returns the current app entitlements of the
	// tenant among ids (internal ids, any application), in id order.
	ListAppEntitlementsOf(ctx context.Context, tenantID string, ids []string) ([]accessbot.AppEntitlement, error)
	// ListIdentitiesAfter returns at most limit current identities of the
	// tenant (every application) whose internal id sorts after afterID
	// ("" for the first page), in id order: keyset pages, so a walk over
	// every identity holds one page at a time.
	ListIdentitiesAfter(ctx context.Context, tenantID, afterID string, limit int) ([]accessbot.Identity, error)
	// EachRelation calls fn with each current relation of the tenant
	// (ends not checked), by identity; with identityIDs, only theirs. Rows
	// are streamed, so memory does not grow with the relations; fn must not
	// use the store.
	EachRelation(ctx context.Context, tenantID string, identityIDs []string, fn func(identityID, entitlementID string) error) error
	// EachRelationBetween is EachRelation for the identities whose id
	// sorts after after and not after through (no upper bound when
	// through is ""), in ListIdentitiesAfter's order: a page of that walk.
	EachRelationBetween(ctx context.Context, tenantID, after, through string, fn func(identityID, entitlementID string) error) error
	// PutImportSettings creates or replaces the tenant's upload settings.
	PutImportSettings(ctx context.Context, s *accessbot.ImportSettings) error
	// GetImportSettings returns ErrNotFound when the tenant has none.
	GetImportSettings(ctx context.Context, tenantID string) (*accessbot.ImportSettings, error)

	// GetIdentity returns the identity with internal id, removed or not;
	// ErrNotFound when the tenant has none.
	GetIdentity(ctx context.Context, tenantID, id string) (*accessbot.Identity, error)
}

// Findings persists findings, tenant-defined rules and the per-tenant
// token of the external findings endpoint.
type Findings interface {
	// SyncFindings records one run of rule: every match is opened (new),
	// reopened (was resolved) or seen again (LastSeen = at); open and
	// acknowledged findings of rule that are not in matches are resolved by
	// accessbot.ActorSystem. Subjects must not repeat (ErrInvalid). Atomic.
	SyncFindings(ctx context.Context, tenantID, rule string, matches []accessbot.FindingMatch, at time.Time) (accessbot.SyncResult, error)
	// SyncFindingsOf is SyncFindings for some subjects only: matches must
	// be of them, and only their findings of rule are resolved when missing.
	SyncFindingsOf(ctx context.Context, tenantID, rule string, kind accessbot.SubjectKind, subjectIDs []string, matches []accessbot.FindingMatch, at time.Time) (accessbot.SyncResult, error)
	// SyncFindingsBetween is SyncFindings for the subjects of kind whose
	// id sorts after after and not after through (no upper bound when
	// through is ""), in the store's order, that of ListIdentitiesAfter:
	// a page of that walk, with the ids between its identities (removed
	// ones) resolved when missing. matches must be of those subjects.
	SyncFindingsBetween(ctx context.Context, tenantID, rule string, kind accessbot.SubjectKind, after, through string, matches []accessbot.FindingMatch, at time.Time) (accessbot.SyncResult, error)
	// ResolveFindingsBeyond resolves (by accessbot.ActorSystem) the open
	// and acknowledged findings of rule whose subject is not of kind, or
	// is of kind with an id that sorts after after (every one of kind when
	// after is ""): what a walk of SyncFindingsBetween pages through after
	// leaves for SyncFindings to resolve. It returns how many it resolved.
	ResolveFindingsBeyond(ctx context.Context, tenantID, rule string, kind accessbot.SubjectKind, after string, at time.Time) (int, error)
	// ReportFindings records findings from outside (external tools): like
	// SyncFindings, each is opened, reopened or seen again, but nothing
	// else is resolved. Atomic.
	ReportFindings(ctx context.Context, tenantID, rule string, matches []accessbot.FindingMatch, at time.Time) (accessbot.SyncResult, error)
	GetFinding(ctx context.Context, tenantID, id string) (*accessbot.Finding, error)
	// ListFindings returns matching findings, most severe first, then newest.
	ListFindings(ctx context.Context, tenantID string, f accessbot.FindingFilter) ([]accessbot.Finding, error)
	// CountFindings counts the findings f selects (all of them: f.Limit
	// does not apply).
	CountFindings(ctx context.Context, tenantID string, f accessbot.FindingFilter) (int, error)
	// NewFindings is what a digest announces: the findings still open that
	// were opened (first, or again) in (from, to], counted by severity, and
	// the first limit of them (all when limit < 0), most severe first, then
	// newest, then by id.
	NewFindings(ctx context.Context, tenantID string, from, to time.Time, limit int) (*NewFindings, error)
	// SetFindingStatus moves a finding to status (acknowledged or resolved,
	// by a user) if its status is one of from; otherwise ErrStale, so two
	// people clicking at once get one winner.
	SetFindingStatus(ctx context.Context, tenantID, id string, from []accessbot.FindingStatus, to accessbot.FindingStatus, by string, at time.Time) error

	// ReplaceTenantRules makes rules the tenant's declared rules.
	ReplaceTenantRules(ctx context.Context, tenantID string, rules []accessbot.TenantRule) error
	ListTenantRules(ctx context.Context, tenantID string) ([]accessbot.TenantRule, error)

	// PutFindingsToken stores the SHA-256 hash of the tenant's findings
	// endpoint token, replacing any previous one.
	PutFindingsToken(ctx context.Context, tenantID string, hash []byte, at time.Time) error
	// FindingsTokenHash returns the stored hash, ErrNotFound when none.
	FindingsTokenHash(ctx context.Context, tenantID string) ([]byte, error)
}

// RelationSource is a relations snapshot read one row at a time.
type RelationSource interface {
	// Next returns the next row and its line, or io.EOF after the last.
	Next() (line int, k accessbot.RelationKey, err error)
	// Reject is told of each row the store leaves out, in line order by
	// problem; an error stops the replacement and is returned.
	Reject(r RelationReject) error
	// Keep is asked once, after every row was read and rejected.
	Keep() accessbot.SnapshotKeep
}

// IdentitySource is an identities snapshot read one row at a time.
type IdentitySource interface {
	// Next returns the next row, or io.EOF after the last.
	Next() (IdentityRow, error)
	// Reject is told, in line order, of each row whose id repeats an
	// earlier row's; an error stops the replacement and is returned.
	Reject(r IdentityReject) error
	// Keep is asked once, after every row was read and rejected: the
	// stored identities it names are left as they are, and rows of the
	// snapshot naming them are not written.
	Keep() accessbot.SnapshotKeep
}

// IdentityRow is one row of an identities snapshot.
type IdentityRow struct {
	Line     int
	Identity accessbot.Identity // ExternalID not empty
	// Skip: the caller rejected the row; it is not written and only
	// counts when looking for repeated ids.
	Skip bool
}

// IdentityReject is a row whose id repeats the row on FirstLine.
type IdentityReject struct {
	Line       int
	ExternalID string
	FirstLine  int
}

// EntitlementSource is an app entitlements snapshot read one row at a time;
// its methods are IdentitySource's.
type EntitlementSource interface {
	// Next returns the next row, or io.EOF after the last.
	Next() (EntitlementRow, error)
	// Reject is told, in line order, of each row whose id repeats an
	// earlier row's; an error stops the replacement and is returned.
	Reject(r EntitlementReject) error
	// Keep is asked once, after every row was read and rejected.
	Keep() accessbot.SnapshotKeep
}

// EntitlementRow is one row of an app entitlements snapshot.
type EntitlementRow struct {
	Line        int
	Entitlement accessbot.AppEntitlement // ExternalID not empty
}

// EntitlementReject is a row whose id repeats the row on FirstLine.
type EntitlementReject = IdentityReject

// MappingSource is an identity→employee mappings snapshot read one row at
// a time.
type MappingSource interface {
	// Next returns the next row, or io.EOF after the last.
	Next() (MappingRow, error)
	// Reject is told, in line order, of each row the store leaves out; an
	// error stops the replacement and is returned.
	Reject(r MappingReject) error
}

// MappingRow is one row of a mappings snapshot.
type MappingRow struct {
	Line               int
	IdentityExternalID string
	// AppID narrows the identity to one application; "" looks in every
	// application of the tenant.
	AppID string
	Email string // the employee's, as written in the file
	// Skip: the caller rejected the row; it is staged only to keep what
	// it names.
	Skip bool
}

// MappingProblem is why the store left a mapping row out.
type MappingProblem int

const (
	NoSuchIdentity    MappingProblem = iota + 1 // no current identity with this id (in AppID)
	AmbiguousIdentity                           // several applications have a current identity with this id
	RepeatedMapping                             // names the same identity as line FirstLine
	UnknownEmployee                             // no employee with this email (or none given)
)

// MappingReject is one row the store left out.
type MappingReject struct {
	Line               int
	IdentityExternalID string
	Email              string
	Problem            MappingProblem
	FirstLine          int // for RepeatedMapping
}

// RelationChanges, when a RelationSource also implements it, is told which
// identities the replacement changed, so finding rules can re-evaluate only
// those: Changed is called once, before ReplaceRelationsFrom returns, with
// the internal ids of the identities that gained or lost a relation, or
// with all set (and no ids) when they are too many to list.
type RelationChanges interface {
	Changed(identityIDs []string, all bool)
}

// RelationProblem is why the store left a relation row out.
type RelationProblem int

const (
	UnknownIdentity    RelationProblem = iota + 1 // no such current identity
	UnknownEntitlement                            // no such current entitlement
	RepeatedRelation                              // the same pair as line FirstLine
)

// RelationReject is one row the store left out.
type RelationReject struct {
	Line      int
	Key       accessbot.RelationKey
	Problem   RelationProblem
	FirstLine int // of the pair's first row, for RepeatedRelation
}

// NewFindings is a digest's findings: Items are the first of them, Counts
// counts them all by severity.
type NewFindings struct {
	Counts map[accessbot.Severity]int
	Items  []accessbot.Finding
}
