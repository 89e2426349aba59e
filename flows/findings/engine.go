package findings

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// Built-in rule names, which are also the findings' Rule.
const (
	RuleTerminatedActive = "terminated_employee_active_identity"
	RuleOrphan           = "orphan_identity"
	RulePrivileged       = "privileged_entitlement"
	RuleInactive         = "inactive_identity"
)

// BuiltinRules lists the built-in rules; tenant and external rules may not
// take these names.
var BuiltinRules = []string{RuleTerminatedActive, RuleOrphan, RulePrivileged, RuleInactive}

// IsBuiltin reports whether name is a built-in rule.
func IsBuiltin(name string) bool {
	for _, b := range BuiltinRules {
		if b == name {
			return true
		}
	}
	return false
}

// DefaultInactiveAfter is N of "not used in N days".
const DefaultInactiveAfter = 90 * 24 * time.Hour

// Transactor runs a function in one store transaction; store.Store is one.
type Transactor interface {
	InTx(ctx context.Context, fn func(q store.Queries) error) error
}

// Engine evaluates the built-in and the tenant's own rules over the
// inventory and records the findings.
type Engine struct {
	now func() time.Time
	log zerolog.Logger
	// InactiveAfter is how long without use makes an identity inactive.
	InactiveAfter time.Duration
	// PageSize is how many identities a full run evaluates and records at
	// a time (DefaultPageSize when 0): a full run's memory is one page,
	// with its relations, entitlements, mappings and employees (every
	// employee with employee rules), not every identity.
	PageSize int
}

// DefaultPageSize: a page of identities with their relations is a few MiB.
const DefaultPageSize = 2000

func NewEngine(now func() time.Time, log zerolog.Logger) *Engine {
	return &Engine{now: now, log: log, InactiveAfter: DefaultInactiveAfter}
}

// RuleResult is what one rule's run did.
type RuleResult struct {
	Rule    string
	Matches int
	accessbot.SyncResult
}

// RunResult is what a run of every rule did, in rule order.
type RunResult struct {
	Rules []RuleResult
	// Scoped: a RunRelations run, over Identities identities only.
	Scoped     bool
	Identities int
}

// what names the run's findings in summaries.
func (r *RunResult) what() string {
	if r.Scoped {
		return fmt.Sprintf("findings of the %d identities whose relations changed", r.Identities)
	}
	return "findings"
}

// Total sums the rules' results.
func (r *RunResult) Total() accessbot.SyncResult {
	var t accessbot.SyncResult
	for _, x := range r.Rules {
		t.Opened += x.Opened
		t.Reopened += x.Reopened
		t.Seen += x.Seen
		t.Resolved += x.Resolved
	}
	return t
}

// Summary is one line: "findings: 3 opened, 0 reopened, 5 still open, 1 resolved".
func (r *RunResult) Summary() string {
	t := r.Total()
	return fmt.Sprintf("%s: %d opened, %d reopened, %d still open, %d resolved", r.what(), t.Opened, t.Reopened, t.Seen, t.Resolved)
}

// WouldSummary is Summary for a run that was rolled back (a dry run).
func (r *RunResult) WouldSummary() string {
	t := r.Total()
	return fmt.Sprintf("%s: would open %d, would reopen %d, %d still open, would resolve %d", r.what(), t.Opened, t.Reopened, t.Seen, t.Resolved)
}

// RunTx runs every rule for the tenant in one transaction.
func (e *Engine) RunTx(ctx context.Context, tx Transactor, tenantID string) (*RunResult, error) {
	return e.RunTxThen(ctx, tx, tenantID, nil)
}

// RunTxThen is RunTx with after (nil: none) run in its transaction with
// the run's totals (the playbooks' finding.opened).
func (e *Engine) RunTxThen(ctx context.Context, tx Transactor, tenantID string, after AfterRecord) (*RunResult, error) {
	var res *RunResult
	err := tx.InTx(ctx, func(q store.Queries) error {
		at := e.now()
		var err error
		if res, err = e.Run(ctx, q, tenantID); err != nil || after == nil {
			return err
		}
		return after(ctx, q, tenantID, res.Total(), at)
	})
	return res, err
}

// Run evaluates every rule on q (the import's transaction, when called
// after an import) and records each rule's matches with SyncFindings.
// Identities are read a page at a time (store.Inventory.ListIdentitiesAfter)
// with their relations, and each page's matches are recorded with
// SyncFindingsOf for the page's identities; a last pass resolves findings
// whose subject is no longer a current identity. Employee rules count
// their hits across pages and are recorded at the end. The findings are
// those of one SyncFindings over the whole inventory.
func (e *Engine) Run(ctx context.Context, q store.Queries, tenantID string) (*RunResult, error) {
	return e.run(ctx, q, tenantID, nil)
}

// RunRelations re-evaluates what depends on relations (RulePrivileged and
// the tenant's rules) for the given identities only (internal ids): what a
// relations upload changed. Only their findings of those rules are
// recorded or resolved (store.Findings.SyncFindingsOf); the other rules do
// not read relations and are left as they are. An employee rule is
// evaluated for the employees of those identities. No identities: nothing
// runs.
func (e *Engine) RunRelations(ctx context.Context, q store.Queries, tenantID string, identityIDs []string) (*RunResult, error) {
	if identityIDs == nil {
		identityIDs = []string{}
	}
	return e.run(ctx, q, tenantID, identityIDs)
}

func identSubject(r *identRow) accessbot.Subject {
	d := r.appName + ": " + r.ExternalID
	if r.Email != "" && r.Email != r.ExternalID {
		d += " (" + r.Email + ")"
	}
	return accessbot.Subject{Kind: accessbot.SubjectIdentity, ID: r.ID, Display: d}
}

func details(v map[string]any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil // only plain values go in
	}
	return b
}

func (r *identRow) baseDetails() map[string]any {
	m := map[string]any{"application": r.appName, "identity_id": r.ExternalID, "status": string(r.Status)}
	if r.Email != "" {
		m["email"] = r.Email
	}
	if r.emp != nil {
		m["employee"] = r.emp.Email
	}
	return m
}

func (s *snapshot) terminatedActive() []accessbot.FindingMatch {
	var out []accessbot.FindingMatch
	for _, r := range s.idents {
		if r.Status != accessbot.IdentityActive || r.emp == nil || r.emp.Status != accessbot.UserTerminated {
			continue
		}
		d := r.baseDetails()
		if r.emp.TerminatedAt != nil {
			d["terminated_at"] = r.emp.TerminatedAt.UTC().Format(time.RFC3339)
		}
		out = append(out, accessbot.FindingMatch{Severity: accessbot.SeverityCritical, Subject: identSubject(r), Details: details(d)})
	}
	return out
}

// orphans are active identities that map to no employee; a disabled
// account without an owner cannot be used, so it is not reported.
func (s *snapshot) orphans() []accessbot.FindingMatch {
	var out []accessbot.FindingMatch
	for _, r := range s.idents {
		if r.Status == accessbot.IdentityActive && r.emp == nil {
			out = append(out, accessbot.FindingMatch{Severity: accessbot.SeverityHigh, Subject: identSubject(r), Details: details(r.baseDetails())})
		}
	}
	return out
}

// privileged is one finding per identity holding any privileged entitlement.
func (s *snapshot) privileged() []accessbot.FindingMatch {
	var out []accessbot.FindingMatch
	for _, r := range s.idents {
		var names []string
		for _, e := range r.ents {
			if e.HasLabel(accessbot.LabelPrivileged) {
				names = append(names, e.Name)
			}
		}
		if len(names) == 0 {
			continue
		}
		sort.Strings(names)
		d := r.baseDetails()
		d["entitlements"] = names
		out = append(out, accessbot.FindingMatch{Severity: accessbot.SeverityMedium, Subject: identSubject(r), Details: details(d)})
	}
	return out
}

// inactive are active identities last seen more than after ago; an
// identity without last-seen data is never inactive.
func (s *snapshot) inactive(now time.Time, after time.Duration) []accessbot.FindingMatch {
	var out []accessbot.FindingMatch
	cutoff := now.Add(-after)
	for _, r := range s.idents {
		if r.Status != accessbot.IdentityActive || r.LastSeenAt == nil || !r.LastSeenAt.Before(cutoff) {
			continue
		}
		d := r.baseDetails()
		d["last_seen_at"] = r.LastSeenAt.UTC().Format(time.RFC3339)
		d["days"] = int(now.Sub(*r.LastSeenAt) / (24 * time.Hour))
		out = append(out, accessbot.FindingMatch{Severity: accessbot.SeverityLow, Subject: identSubject(r), Details: details(d)})
	}
	return out
}

// anyContext reports whether p holds for some context of identity r: each
// entitlement it holds, or no entitlement when it holds none.
func anyContext(p pred, r *identRow, emp *accessbot.User, now time.Time) bool {
	c := evalCtx{ident: r, emp: emp, now: now}
	if len(r.ents) == 0 {
		return p(&c)
	}
	for _, e := range r.ents {
		c.ent = e
		if p(&c) {
			return true
		}
	}
	return false
}

// identityRule is a tenant rule over identities: one finding per
// identity with a context that satisfies p.
func (s *snapshot) identityRule(p pred, sev accessbot.Severity, now time.Time) []accessbot.FindingMatch {
	var out []accessbot.FindingMatch
	for _, r := range s.idents {
		if anyContext(p, r, r.emp, now) {
			out = append(out, accessbot.FindingMatch{Severity: sev, Subject: identSubject(r), Details: details(r.baseDetails())})
		}
	}
	return out
}
