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
}

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
	return fmt.Sprintf("findings: %d opened, %d reopened, %d still open, %d resolved", t.Opened, t.Reopened, t.Seen, t.Resolved)
}

// WouldSummary is Summary for a run that was rolled back (a dry run).
func (r *RunResult) WouldSummary() string {
	t := r.Total()
	return fmt.Sprintf("findings: would open %d, would reopen %d, %d still open, would resolve %d", t.Opened, t.Reopened, t.Seen, t.Resolved)
}

// RunTx runs every rule for the tenant in one transaction.
func (e *Engine) RunTx(ctx context.Context, tx Transactor, tenantID string) (*RunResult, error) {
	var res *RunResult
	err := tx.InTx(ctx, func(q store.Queries) error {
		var err error
		res, err = e.Run(ctx, q, tenantID)
		return err
	})
	return res, err
}

// Run evaluates every rule on q (the import's transaction, when called
// after an import) and records each rule's matches with SyncFindings.
func (e *Engine) Run(ctx context.Context, q store.Queries, tenantID string) (*RunResult, error) {
	now := e.now()
	snap, err := loadSnapshot(ctx, q, tenantID)
	if err != nil {
		return nil, fmt.Errorf("run rules for tenant %s: %w", tenantID, err)
	}
	rules, err := q.ListTenantRules(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("run rules for tenant %s: %w", tenantID, err)
	}
	inactive := e.InactiveAfter
	if inactive <= 0 {
		inactive = DefaultInactiveAfter
	}
	type ruleRun struct {
		name    string
		matches []accessbot.FindingMatch
	}
	runs := []ruleRun{
		{RuleTerminatedActive, snap.terminatedActive()},
		{RuleOrphan, snap.orphans()},
		{RulePrivileged, snap.privileged()},
		{RuleInactive, snap.inactive(now, inactive)},
	}
	for _, r := range rules {
		m, err := snap.tenantRule(r, now)
		if err != nil {
			// Apply validated it; a stored rule that no longer compiles is
			// skipped, loudly, rather than failing every import.
			e.log.Error().Str("tenant", tenantID).Str("rule", r.Name).Err(err).Msg("tenant rule does not compile: skipped")
			continue
		}
		runs = append(runs, ruleRun{r.Name, m})
	}
	res := &RunResult{}
	for _, r := range runs {
		sr, err := q.SyncFindings(ctx, tenantID, r.name, r.matches, now)
		if err != nil {
			return nil, fmt.Errorf("run rule %s: %w", r.name, err)
		}
		res.Rules = append(res.Rules, RuleResult{Rule: r.name, Matches: len(r.matches), SyncResult: sr})
	}
	t := res.Total()
	e.log.Info().Str("tenant", tenantID).Int("rules", len(runs)).Int("opened", t.Opened).Int("reopened", t.Reopened).
		Int("resolved", t.Resolved).Msg("rules run")
	return res, nil
}

// identRow is an identity with what rules need beside it.
type identRow struct {
	accessbot.Identity
	appName string
	emp     *accessbot.User // nil: orphan
	ents    []*accessbot.AppEntitlement
}

// snapshot is a tenant's current inventory, joined in memory.
type snapshot struct {
	users  []accessbot.User
	idents []*identRow
	byUser map[string][]*identRow // user id → identities
}

func loadSnapshot(ctx context.Context, q store.Queries, tenantID string) (*snapshot, error) {
	users, err := q.ListUsers(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	apps, err := q.ListApplications(ctx, tenantID, "", 0)
	if err != nil {
		return nil, err
	}
	idents, err := q.ListIdentities(ctx, tenantID, "", false)
	if err != nil {
		return nil, err
	}
	ents, err := q.ListAppEntitlements(ctx, tenantID, "", false)
	if err != nil {
		return nil, err
	}
	rels, err := q.ListRelations(ctx, tenantID, "", false)
	if err != nil {
		return nil, err
	}
	maps, err := q.ListIdentityMappings(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	appName := make(map[string]string, len(apps))
	var conns []accessbot.Connection
	for _, a := range apps {
		appName[a.ID] = a.Name
		cs, err := q.ListConnections(ctx, tenantID, a.ID)
		if err != nil {
			return nil, err
		}
		conns = append(conns, cs...)
	}
	// Labels declared in the tenant file (privileged) count as the upload's.
	accessbot.DeclareLabels(ents, apps, conns)
	s := &snapshot{users: users, byUser: map[string][]*identRow{}}
	userByID := make(map[string]*accessbot.User, len(users))
	userByEmail := make(map[string]*accessbot.User, len(users))
	for i := range users {
		u := &users[i]
		userByID[u.ID] = u
		userByEmail[accessbot.NormalizeEmail(u.Email)] = u
	}
	mapped := make(map[string]string, len(maps))
	for _, m := range maps {
		mapped[m.IdentityID] = m.UserID
	}
	entByID := make(map[string]*accessbot.AppEntitlement, len(ents))
	for i := range ents {
		entByID[ents[i].ID] = &ents[i]
	}
	identByID := make(map[string]*identRow, len(idents))
	s.idents = make([]*identRow, len(idents))
	for i := range idents {
		r := &identRow{Identity: idents[i], appName: appName[idents[i].AppID]}
		if uid, ok := mapped[r.ID]; ok {
			r.emp = userByID[uid]
		} else if r.Email != "" {
			r.emp = userByEmail[accessbot.NormalizeEmail(r.Email)]
		}
		if r.emp != nil {
			s.byUser[r.emp.ID] = append(s.byUser[r.emp.ID], r)
		}
		s.idents[i] = r
		identByID[r.ID] = r
	}
	for _, rel := range rels {
		if r, e := identByID[rel.IdentityID], entByID[rel.EntitlementID]; r != nil && e != nil {
			r.ents = append(r.ents, e)
		}
	}
	return s, nil
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

func (s *snapshot) tenantRule(rule accessbot.TenantRule, now time.Time) ([]accessbot.FindingMatch, error) {
	p, err := compile(rule.Filter, "filter")
	if err != nil {
		return nil, err
	}
	var out []accessbot.FindingMatch
	switch rule.Subject {
	case accessbot.SubjectIdentity:
		for _, r := range s.idents {
			if anyContext(p, r, r.emp, now) {
				out = append(out, accessbot.FindingMatch{Severity: rule.Severity, Subject: identSubject(r), Details: details(r.baseDetails())})
			}
		}
	case accessbot.SubjectEmployee:
		for i := range s.users {
			u := &s.users[i]
			ids := s.byUser[u.ID]
			hit := len(ids) == 0 && p(&evalCtx{emp: u, now: now})
			for _, r := range ids {
				if hit {
					break
				}
				hit = anyContext(p, r, u, now)
			}
			if hit {
				out = append(out, accessbot.FindingMatch{Severity: rule.Severity,
					Subject: accessbot.Subject{Kind: accessbot.SubjectEmployee, ID: u.ID, Display: u.Name + " <" + u.Email + ">"},
					Details: details(map[string]any{"employee": u.Email, "identities": len(ids)})})
			}
		}
	default:
		return nil, fmt.Errorf("%w: rule subject %q", accessbot.ErrInvalid, rule.Subject)
	}
	return out, nil
}
