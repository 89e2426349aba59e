// Package findings turns the inventory into findings and takes findings
// from outside.
//
// # Model
//
// A finding (accessbot.Finding) is one rule matching one subject (an
// employee, identity or application), unique per (tenant, rule, subject
// kind, subject id). Status is open, acknowledged or resolved, with who
// (StatusBy, a user id or accessbot.ActorSystem) and when (StatusAt).
// FirstSeen/LastSeen say when it matched; OpenedAt is when it last became
// open (first match or a reopening).
//
// # Rules
//
// Engine.Run evaluates the built-in rules (RuleTerminatedActive,
// RuleOrphan, RulePrivileged, RuleInactive) and the tenant's rules
// (accessbot.TenantRule, declared under rules: in the tenant file) over the
// tenant's current inventory and records each rule's matches with
// store.Findings.SyncFindings: new matches open, resolved ones reopen,
// acknowledged ones stay acknowledged, and findings that no longer match
// are resolved by "system". It reads the identities a page at a time
// (Engine.PageSize) and records each page's matches by the page's id range
// (store.Findings.SyncFindingsBetween), then resolves what lies beyond the
// last page (ResolveFindingsBeyond): the same findings as one SyncFindings
// over everything, in memory that does not grow with the identities,
// relations, entitlements or mappings (each page reads its own). The
// inventory import runs it inside its own transaction; `accessbot findings
// run` and RunTx run it on demand.
//
// Tenant rules are filters (accessbot.Filter): all/any trees of
// {field, op, value} conditions over identity.*, entitlement.* and
// employee.* fields (FieldNames, Ops). A rule matches a subject when one
// context of it satisfies the filter: an identity with one entitlement it
// holds (or none) and its employee (or none). CheckCondition validates one
// condition and says which part (field, op, value) is wrong.
//
// # External findings
//
// ParseExternal checks a JSON array of ExternalFinding, naming the item
// index and field of each problem; RecordExternal records them in one
// transaction with store.Findings.ReportFindings, which never resolves
// anything. Handler serves the same over POST /api/v1/findings,
// authenticated by a per-tenant bearer token (NewToken, Authenticate: only a
// SHA-256 hash is stored, compared in constant time).
//
// # For digests and reviews
//
// A digest reads store.Findings.NewFindings(tenant, lastDigest, slot, cap)
// for the new items and their counts by severity; the
// Acknowledge and Resolve buttons call SetFindingStatus with from = the
// statuses the button may leave (e.g. open for Acknowledge), so two clicks
// at once get one winner and one accessbot.ErrStale. Review campaigns scope
// items with store.Inventory.ListRelations/ListAppEntitlements (labels,
// e.g. accessbot.LabelPrivileged) and map identities to employees the same
// way the rules do: an explicit IdentityMapping, else the same email.
package findings
