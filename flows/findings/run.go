package findings

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// ruleRun is one rule of a run: an identity rule evaluates a page of
// identities; an employee rule (pred set) is recorded once, at the end.
type ruleRun struct {
	name     string
	subject  accessbot.SubjectKind
	eval     func(s *snapshot) []accessbot.FindingMatch
	pred     pred // employee rules
	severity accessbot.Severity
	hits     map[string]bool
	res      RuleResult
}

// run evaluates every rule (scope nil) or the relation rules for the
// identities in scope.
func (e *Engine) run(ctx context.Context, q store.Queries, tenantID string, scope []string) (*RunResult, error) {
	now := e.now()
	res := &RunResult{Scoped: scope != nil, Identities: len(scope)}
	if scope != nil && len(scope) == 0 {
		return res, nil
	}
	rules, err := q.ListTenantRules(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("run rules for tenant %s: %w", tenantID, err)
	}
	inactive := e.InactiveAfter
	if inactive <= 0 {
		inactive = DefaultInactiveAfter
	}
	var runs []*ruleRun
	builtin := func(name string, eval func(s *snapshot) []accessbot.FindingMatch) {
		runs = append(runs, &ruleRun{name: name, subject: accessbot.SubjectIdentity, eval: eval})
	}
	if scope == nil {
		builtin(RuleTerminatedActive, (*snapshot).terminatedActive)
		builtin(RuleOrphan, (*snapshot).orphans)
	}
	builtin(RulePrivileged, (*snapshot).privileged)
	if scope == nil {
		builtin(RuleInactive, func(s *snapshot) []accessbot.FindingMatch { return s.inactive(now, inactive) })
	}
	for _, r := range rules {
		p, err := compile(r.Filter, "filter")
		if err == nil && r.Subject != accessbot.SubjectIdentity && r.Subject != accessbot.SubjectEmployee {
			err = fmt.Errorf("%w: rule subject %q", accessbot.ErrInvalid, r.Subject)
		}
		if err != nil {
			// Apply validated it; a stored rule that no longer compiles is
			// skipped, loudly, rather than failing every import.
			e.log.Error().Str("tenant", tenantID).Str("rule", r.Name).Err(err).Msg("tenant rule does not compile: skipped")
			continue
		}
		rr := &ruleRun{name: r.Name, subject: r.Subject}
		if r.Subject == accessbot.SubjectEmployee {
			rr.pred, rr.severity, rr.hits = p, r.Severity, map[string]bool{}
		} else {
			sev := r.Severity
			rr.eval = func(s *snapshot) []accessbot.FindingMatch { return s.identityRule(p, sev, now) }
		}
		runs = append(runs, rr)
	}
	if scope == nil {
		err = e.runAll(ctx, q, tenantID, runs, now)
	} else {
		err = e.runScoped(ctx, q, tenantID, runs, scope, now)
	}
	if err != nil {
		return nil, err
	}
	for _, r := range runs {
		r.res.Rule = r.name
		res.Rules = append(res.Rules, r.res)
	}
	t := res.Total()
	e.log.Info().Str("tenant", tenantID).Int("rules", len(runs)).Int("scope", len(scope)).Int("opened", t.Opened).Int("reopened", t.Reopened).
		Int("resolved", t.Resolved).Msg("rules run")
	return res, nil
}

func (r *ruleRun) add(matches int, sr accessbot.SyncResult) {
	r.res.Matches += matches
	r.res.Opened += sr.Opened
	r.res.Reopened += sr.Reopened
	r.res.Seen += sr.Seen
	r.res.Resolved += sr.Resolved
}

// runAll evaluates every rule over every current identity, a page at a
// time.
func (e *Engine) runAll(ctx context.Context, q store.Queries, tenantID string, runs []*ruleRun, now time.Time) error {
	employeeRules := false
	for _, r := range runs {
		employeeRules = employeeRules || r.pred != nil
	}
	w, err := loadWorld(ctx, q, tenantID, employeeRules)
	if err != nil {
		return fmt.Errorf("run rules for tenant %s: %w", tenantID, err)
	}
	// idents counts each employee's identities, for employee rules.
	idents := map[string]int{}
	last := "" // the walk's end
	err = w.eachPage(ctx, q, tenantID, e.pageSize(), nil, func(rows []*identRow, after, through string) error {
		last = through
		s := &snapshot{idents: rows}
		byID := make(map[string]*identRow, len(rows))
		for _, r := range rows {
			byID[r.ID] = r
			if employeeRules && r.emp != nil {
				idents[r.emp.ID]++
			}
		}
		// The page is the identities in (after, through]: relations and
		// findings are read by that range of their indexes.
		err := w.holdings(ctx, q, tenantID, byID, func(fn func(identityID, entitlementID string) error) error {
			return q.EachRelationBetween(ctx, tenantID, after, through, fn)
		})
		if err != nil {
			return err
		}
		for _, r := range runs {
			if r.pred != nil {
				for _, row := range rows {
					if row.emp != nil && !r.hits[row.emp.ID] && anyContext(r.pred, row, row.emp, now) {
						r.hits[row.emp.ID] = true
					}
				}
				continue
			}
			m := r.eval(s)
			sr, err := q.SyncFindingsBetween(ctx, tenantID, r.name, accessbot.SubjectIdentity, after, through, m, now)
			if err != nil {
				return fmt.Errorf("run rule %s: %w", r.name, err)
			}
			r.add(len(m), sr)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("run rules for tenant %s: %w", tenantID, err)
	}
	for _, r := range runs {
		if r.pred == nil {
			// What no page reached: ids after the last page, other kinds.
			n, err := q.ResolveFindingsBeyond(ctx, tenantID, r.name, accessbot.SubjectIdentity, last, now)
			if err != nil {
				return fmt.Errorf("run rule %s: %w", r.name, err)
			}
			r.add(0, accessbot.SyncResult{Resolved: n})
			continue
		}
		var m []accessbot.FindingMatch
		for i := range w.users {
			u := &w.users[i]
			n := idents[u.ID]
			if r.hits[u.ID] || n == 0 && r.pred(&evalCtx{emp: u, now: now}) {
				m = append(m, employeeMatch(r.severity, u, n))
			}
		}
		r.hits = nil
		sr, err := q.SyncFindings(ctx, tenantID, r.name, m, now)
		if err != nil {
			return fmt.Errorf("run rule %s: %w", r.name, err)
		}
		r.add(len(m), sr)
	}
	return nil
}

// runScoped evaluates the relation rules for the identities in scope and,
// for employee rules, their employees.
func (e *Engine) runScoped(ctx context.Context, q store.Queries, tenantID string, runs []*ruleRun, scope []string, now time.Time) error {
	employeeRules := false
	for _, r := range runs {
		employeeRules = employeeRules || r.pred != nil
	}
	s, err := loadScoped(ctx, q, tenantID, scope, employeeRules, e.pageSize())
	if err != nil {
		return fmt.Errorf("run rules for tenant %s: %w", tenantID, err)
	}
	for _, r := range runs {
		var m []accessbot.FindingMatch
		var sr accessbot.SyncResult
		if r.pred != nil {
			for i := range s.users {
				u := &s.users[i]
				ids := s.byUser[u.ID]
				hit := len(ids) == 0 && r.pred(&evalCtx{emp: u, now: now})
				for _, row := range ids {
					if hit {
						break
					}
					hit = anyContext(r.pred, row, u, now)
				}
				if hit {
					m = append(m, employeeMatch(r.severity, u, len(ids)))
				}
			}
			sr, err = q.SyncFindingsOf(ctx, tenantID, r.name, accessbot.SubjectEmployee, s.scopeUsers, m, now)
		} else {
			m = r.eval(s)
			sr, err = q.SyncFindingsOf(ctx, tenantID, r.name, accessbot.SubjectIdentity, scope, m, now)
		}
		if err != nil {
			return fmt.Errorf("run rule %s: %w", r.name, err)
		}
		r.add(len(m), sr)
	}
	return nil
}

func (e *Engine) pageSize() int {
	if e.PageSize > 0 {
		return e.PageSize
	}
	return DefaultPageSize
}

func employeeMatch(sev accessbot.Severity, u *accessbot.User, identities int) accessbot.FindingMatch {
	return accessbot.FindingMatch{Severity: sev,
		Subject: accessbot.Subject{Kind: accessbot.SubjectEmployee, ID: u.ID, Display: u.Name + " <" + u.Email + ">"},
		Details: details(map[string]any{"employee": u.Email, "identities": identities})}
}

// identRow is an identity with what rules need beside it.
type identRow struct {
	accessbot.Identity
	appName string
	emp     *accessbot.User // nil: orphan
	ents    []*accessbot.AppEntitlement
}

// snapshot is what rules evaluate: a page of identities (full run) or
// the identities in scope, their employees (users, scopeUsers) and, with
// employee rules, those employees' identities (byUser), since an
// employee rule reads them all.
type snapshot struct {
	idents     []*identRow
	users      []accessbot.User
	byUser     map[string][]*identRow // user id → identities
	scopeUsers []string
}

// world is what every identity is joined with: the tenant's applications
// (and their connections, whose labels count as the entitlements'), and
// its employees: all of them (users, for employee rules, which read every
// employee), or those of each page, looked up with the page. Entitlements
// and explicit mappings are read with each page, for its identities only,
// so a run holds one page of them, not the tenant's.
type world struct {
	users       []accessbot.User // nil: employees are looked up by page
	apps        []accessbot.Application
	conns       []accessbot.Connection
	appName     map[string]string
	userByID    map[string]*accessbot.User
	userByEmail map[string]*accessbot.User
}

func loadWorld(ctx context.Context, q store.Queries, tenantID string, allUsers bool) (*world, error) {
	w := &world{}
	var err error
	if allUsers {
		if w.users, err = q.ListUsers(ctx, tenantID); err != nil {
			return nil, err
		}
		w.userByID, w.userByEmail = userMaps(w.users)
	}
	if w.apps, err = q.ListApplications(ctx, tenantID, "", 0); err != nil {
		return nil, err
	}
	w.appName = make(map[string]string, len(w.apps))
	for _, a := range w.apps {
		w.appName[a.ID] = a.Name
		cs, err := q.ListConnections(ctx, tenantID, a.ID)
		if err != nil {
			return nil, err
		}
		w.conns = append(w.conns, cs...)
	}
	return w, nil
}

func userMaps(users []accessbot.User) (byID, byEmail map[string]*accessbot.User) {
	byID, byEmail = make(map[string]*accessbot.User, len(users)), make(map[string]*accessbot.User, len(users))
	for i := range users {
		u := &users[i]
		byID[u.ID] = u
		byEmail[accessbot.NormalizeEmail(u.Email)] = u
	}
	return byID, byEmail
}

// rows joins identities with their application and employee: an explicit
// mapping (mapped: identity id → user id), else the same email.
func (w *world) rows(ctx context.Context, q store.Queries, tenantID string, idents []accessbot.Identity, mapped map[string]string) ([]*identRow, error) {
	byID, byEmail := w.userByID, w.userByEmail
	if byID == nil && len(idents) > 0 {
		var ids, emails []string
		for i := range idents {
			if uid, ok := mapped[idents[i].ID]; ok {
				ids = append(ids, uid)
			} else if idents[i].Email != "" {
				emails = append(emails, accessbot.NormalizeEmail(idents[i].Email))
			}
		}
		users, err := q.ListUsersOf(ctx, tenantID, ids, emails)
		if err != nil {
			return nil, err
		}
		byID, byEmail = userMaps(users)
	}
	out := make([]*identRow, len(idents))
	for i := range idents {
		r := &identRow{Identity: idents[i], appName: w.appName[idents[i].AppID]}
		if uid, ok := mapped[r.ID]; ok {
			r.emp = byID[uid]
		} else if r.Email != "" {
			r.emp = byEmail[accessbot.NormalizeEmail(r.Email)]
		}
		out[i] = r
	}
	return out, nil
}

// holdings gives the rows in byID the current entitlements of the
// relations each reads (store.Inventory.EachRelation or
// EachRelationBetween); the entitlements are read once, for these
// relations only.
func (w *world) holdings(ctx context.Context, q store.Queries, tenantID string, byID map[string]*identRow,
	each func(fn func(identityID, entitlementID string) error) error) error {
	type holding struct{ ident, ent string }
	var hs []holding
	entIDs := map[string]bool{}
	err := each(func(identityID, entitlementID string) error {
		if byID[identityID] != nil {
			hs = append(hs, holding{identityID, entitlementID})
			entIDs[entitlementID] = true
		}
		return nil
	})
	if err != nil || len(hs) == 0 {
		return err
	}
	ents, err := q.ListAppEntitlementsOf(ctx, tenantID, slices.Collect(maps.Keys(entIDs)))
	if err != nil {
		return err
	}
	// Labels declared in the tenant file (privileged) count as the upload's.
	accessbot.DeclareLabels(ents, w.apps, w.conns)
	entByID := make(map[string]*accessbot.AppEntitlement, len(ents))
	for i := range ents {
		entByID[ents[i].ID] = &ents[i]
	}
	for _, h := range hs {
		if e := entByID[h.ent]; e != nil { // else removed
			r := byID[h.ident]
			r.ents = append(r.ents, e)
		}
	}
	return nil
}

// eachPage walks the tenant's current identities a page at a time and
// calls fn with those of the page that want keeps (all when nil), joined,
// and the page's range: ids after after, through through.
func (w *world) eachPage(ctx context.Context, q store.Queries, tenantID string, size int, want func(i *accessbot.Identity) bool,
	fn func(rows []*identRow, after, through string) error) error {
	for after := ""; ; {
		page, err := q.ListIdentitiesAfter(ctx, tenantID, after, size)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		through := page[len(page)-1].ID
		if want != nil {
			kept := page[:0]
			for i := range page {
				if want(&page[i]) {
					kept = append(kept, page[i])
				}
			}
			page = kept
		}
		ms, err := q.ListIdentityMappingsBetween(ctx, tenantID, after, through)
		if err != nil {
			return err
		}
		mapped := make(map[string]string, len(ms))
		for _, m := range ms {
			mapped[m.IdentityID] = m.UserID
		}
		rows, err := w.rows(ctx, q, tenantID, page, mapped)
		if err != nil {
			return err
		}
		if err := fn(rows, after, through); err != nil {
			return err
		}
		after = through
	}
}

// loadScoped loads the identities in scope and their employees; with
// employee rules, also those employees' other identities. Identities are
// walked a page at a time and only these are kept.
func loadScoped(ctx context.Context, q store.Queries, tenantID string, scope []string, employeeRules bool, size int) (*snapshot, error) {
	w, err := loadWorld(ctx, q, tenantID, employeeRules)
	if err != nil {
		return nil, err
	}
	inScope := make(map[string]bool, len(scope))
	for _, id := range scope {
		inScope[id] = true
	}
	s := &snapshot{byUser: map[string][]*identRow{}}
	byID := map[string]*identRow{}
	scopeUsers := map[string]bool{}
	isIn := func(i *accessbot.Identity) bool { return inScope[i.ID] }
	err = w.eachPage(ctx, q, tenantID, size, isIn, func(rows []*identRow, _, _ string) error {
		for _, r := range rows {
			s.idents = append(s.idents, r)
			byID[r.ID] = r
			if r.emp != nil {
				scopeUsers[r.emp.ID] = true
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if employeeRules && len(scopeUsers) > 0 {
		// The employees' identities out of scope: a second walk, since
		// which employees are in scope is known only after the first.
		isOut := func(i *accessbot.Identity) bool { return !inScope[i.ID] }
		err = w.eachPage(ctx, q, tenantID, size, isOut, func(rows []*identRow, _, _ string) error {
			for _, r := range rows {
				if r.emp != nil && scopeUsers[r.emp.ID] {
					byID[r.ID] = r
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	for _, r := range byID {
		if r.emp != nil && scopeUsers[r.emp.ID] {
			s.byUser[r.emp.ID] = append(s.byUser[r.emp.ID], r)
		}
	}
	for i := range w.users {
		if scopeUsers[w.users[i].ID] {
			s.users = append(s.users, w.users[i])
			s.scopeUsers = append(s.scopeUsers, w.users[i].ID)
		}
	}
	if len(byID) > 0 {
		ids := slices.Sorted(maps.Keys(byID))
		err := w.holdings(ctx, q, tenantID, byID, func(fn func(identityID, entitlementID string) error) error {
			return q.EachRelation(ctx, tenantID, ids, fn)
		})
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}
