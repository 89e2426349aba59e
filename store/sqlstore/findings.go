package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

var _ store.Findings = (*queries)(nil)

const findingCols = `tenant_id, id, rule, severity, subject_kind, subject_id, subject_display, details, status,
	first_seen, last_seen, opened_at, status_by, status_at`

func scanFinding(r scanner) (accessbot.Finding, error) {
	var f accessbot.Finding
	var details rawJSON
	var first, last, opened, statusAt dbTime
	err := r.Scan(&f.TenantID, &f.ID, &f.Rule, &f.Severity, &f.Subject.Kind, &f.Subject.ID, &f.Subject.Display, &details,
		&f.Status, &first, &last, &opened, &f.StatusBy, &statusAt)
	f.Details = details.B
	f.FirstSeen, f.LastSeen, f.OpenedAt, f.StatusAt = first.T, last.T, opened.T, statusAt.ptr()
	return f, err
}

// severityOrder sorts critical first.
const severityOrder = `CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END`

func (q *queries) SyncFindings(ctx context.Context, tenantID, rule string, matches []accessbot.FindingMatch, at time.Time) (accessbot.SyncResult, error) {
	res, err := q.recordFindings(ctx, tenantID, rule, nil, matches, at, true)
	if err != nil {
		return res, fmt.Errorf("sync findings of rule %s: %w", rule, err)
	}
	return res, nil
}

// findingScope limits a sync to some subjects of one kind: ids, or (with
// between) those whose id sorts in (after, through].
type findingScope struct {
	kind           accessbot.SubjectKind
	ids            []string
	between        bool
	after, through string
}

func (q *queries) SyncFindingsBetween(ctx context.Context, tenantID, rule string, kind accessbot.SubjectKind, after, through string, matches []accessbot.FindingMatch, at time.Time) (accessbot.SyncResult, error) {
	res, err := q.recordFindings(ctx, tenantID, rule, &findingScope{kind: kind, between: true, after: after, through: through}, matches, at, true)
	if err != nil {
		return res, fmt.Errorf("sync findings of rule %s for subjects after %q through %q: %w", rule, after, through, err)
	}
	return res, nil
}

func (q *queries) SyncFindingsOf(ctx context.Context, tenantID, rule string, kind accessbot.SubjectKind, subjectIDs []string, matches []accessbot.FindingMatch, at time.Time) (accessbot.SyncResult, error) {
	res, err := q.recordFindings(ctx, tenantID, rule, &findingScope{kind: kind, ids: subjectIDs}, matches, at, true)
	if err != nil {
		return res, fmt.Errorf("sync findings of rule %s for %d subject(s): %w", rule, len(subjectIDs), err)
	}
	return res, nil
}

func (q *queries) ResolveFindingsBeyond(ctx context.Context, tenantID, rule string, kind accessbot.SubjectKind, after string, at time.Time) (int, error) {
	n, err := q.exec(ctx, `UPDATE findings SET status = 'resolved', status_by = ?, status_at = ?
		WHERE tenant_id = ? AND rule = ? AND status IN ('open', 'acknowledged') AND (subject_kind <> ? OR subject_id > ?)`,
		accessbot.ActorSystem, q.tm(Round(at)), tenantID, rule, string(kind), after)
	if err != nil {
		return 0, fmt.Errorf("resolve findings of rule %s beyond %s %q: %w", rule, kind, after, err)
	}
	return int(n), nil
}

func (q *queries) ReportFindings(ctx context.Context, tenantID, rule string, matches []accessbot.FindingMatch, at time.Time) (accessbot.SyncResult, error) {
	res, err := q.recordFindings(ctx, tenantID, rule, nil, matches, at, false)
	if err != nil {
		return res, fmt.Errorf("report findings of rule %s: %w", rule, err)
	}
	return res, nil
}

func checkMatch(m *accessbot.FindingMatch) error {
	switch {
	case !m.Severity.Valid():
		return fmt.Errorf("%w: severity %q", accessbot.ErrInvalid, m.Severity)
	case !m.Subject.Kind.Valid():
		return fmt.Errorf("%w: subject kind %q", accessbot.ErrInvalid, m.Subject.Kind)
	case m.Subject.ID == "":
		return fmt.Errorf("%w: empty subject id", accessbot.ErrInvalid)
	case len(m.Details) > 0 && !json.Valid(m.Details):
		return fmt.Errorf("%w: details are not JSON", accessbot.ErrInvalid)
	}
	return nil
}

func (q *queries) recordFindings(ctx context.Context, tenantID, rule string, scope *findingScope, matches []accessbot.FindingMatch, at time.Time, resolveMissing bool) (accessbot.SyncResult, error) {
	var res accessbot.SyncResult
	if rule == "" {
		return res, fmt.Errorf("%w: empty rule", accessbot.ErrInvalid)
	}
	at = Round(at)
	type key struct{ kind, id string }
	type cur struct {
		id, severity, display, details, status string
	}
	err := q.atomic(ctx, func(q *queries) error {
		current := map[key]*cur{}
		read := func(query string, args ...any) error {
			rows, err := q.query(ctx, `SELECT id, subject_kind, subject_id, severity, subject_display, details, status
				FROM findings WHERE tenant_id = ? AND rule = ?`+query, append([]any{tenantID, rule}, args...)...)
			if err != nil {
				return fmt.Errorf("read findings: %w", err)
			}
			defer rows.Close()
			for rows.Next() {
				var k key
				var c cur
				var details sql.NullString
				if err := rows.Scan(&c.id, &k.kind, &k.id, &c.severity, &c.display, &details, &c.status); err != nil {
					return err
				}
				c.details = details.String
				current[k] = &c
			}
			return rows.Err()
		}
		var inScope map[string]bool
		switch {
		case scope == nil:
			if err := read(""); err != nil {
				return err
			}
		case scope.between:
			// A range of the unique index (tenant_id, rule, subject_kind,
			// subject_id), which the planner uses however stale its
			// statistics; a long IN list it may filter row by row.
			upTo, args := "", []any{string(scope.kind), scope.after}
			if scope.through != "" {
				upTo, args = ` AND subject_id <= ?`, append(args, scope.through)
			}
			if err := read(` AND subject_kind = ? AND subject_id > ?`+upTo, args...); err != nil {
				return err
			}
		default:
			inScope = make(map[string]bool, len(scope.ids))
			per := batchParams - 3
			for start := 0; start < len(scope.ids); start += per {
				chunk := scope.ids[start:min(len(scope.ids), start+per)]
				for _, id := range chunk {
					inScope[id] = true
				}
				if err := read(` AND subject_kind = ? AND subject_id IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ")+`)`,
					append([]any{string(scope.kind)}, toAny(chunk)...)...); err != nil {
					return err
				}
			}
		}

		var err error
		seen := make(map[key]bool, len(matches))
		var create []*accessbot.FindingMatch
		var touch []string
		var reopen, upd *stmt
		defer func() {
			for _, s := range []*stmt{reopen, upd} {
				if s != nil {
					s.close()
				}
			}
		}()
		for i := range matches {
			m := &matches[i]
			if err := checkMatch(m); err != nil {
				return fmt.Errorf("finding %d (%s %s): %w", i, m.Subject.Kind, m.Subject.ID, err)
			}
			k := key{string(m.Subject.Kind), m.Subject.ID}
			if scope != nil && (m.Subject.Kind != scope.kind || !scope.between && !inScope[m.Subject.ID]) {
				return fmt.Errorf("finding %d: %w: subject %s %s is not one of the subjects synced", i, accessbot.ErrInvalid, k.kind, k.id)
			}
			if seen[k] {
				return fmt.Errorf("finding %d: %w: subject %s %s repeated", i, accessbot.ErrInvalid, k.kind, k.id)
			}
			seen[k] = true
			c := current[k]
			details := string(m.Details)
			switch {
			case c == nil:
				create = append(create, m)
			case c.status == string(accessbot.FindingResolved):
				if reopen == nil {
					if reopen, err = q.prepare(ctx, `UPDATE findings SET severity = ?, subject_display = ?, details = ?, status = 'open',
						last_seen = ?, opened_at = ?, status_by = ?, status_at = ? WHERE tenant_id = ? AND id = ?`); err != nil {
						return err
					}
				}
				if err := reopen.exec(ctx, string(m.Severity), m.Subject.Display, nullStr(details), q.tm(at), q.tm(at),
					accessbot.ActorSystem, q.tm(at), tenantID, c.id); err != nil {
					return fmt.Errorf("reopen finding %s: %w", c.id, q.writeErr(err))
				}
				res.Reopened++
			case c.severity == string(m.Severity) && c.display == m.Subject.Display && c.details == details:
				touch = append(touch, c.id)
				res.Seen++
			default:
				if upd == nil {
					if upd, err = q.prepare(ctx, `UPDATE findings SET severity = ?, subject_display = ?, details = ?, last_seen = ?
						WHERE tenant_id = ? AND id = ?`); err != nil {
						return err
					}
				}
				if err := upd.exec(ctx, string(m.Severity), m.Subject.Display, nullStr(details), q.tm(at), tenantID, c.id); err != nil {
					return fmt.Errorf("update finding %s: %w", c.id, q.writeErr(err))
				}
				res.Seen++
			}
		}
		// In a range sync, the range's conditions keep the writes by id
		// to the range of the unique index (see the read).
		var narrow string
		var narrowArgs []any
		if scope != nil && scope.between {
			narrow, narrowArgs = ` AND rule = ? AND subject_kind = ? AND subject_id > ?`, []any{rule, string(scope.kind), scope.after}
			if scope.through != "" {
				narrow, narrowArgs = narrow+` AND subject_id <= ?`, append(narrowArgs, scope.through)
			}
		}
		if _, err := q.execIn(ctx, `UPDATE findings SET last_seen = ? WHERE tenant_id = ?`+narrow+` AND id IN (%s)`,
			append([]any{q.tm(at), tenantID}, narrowArgs...), touch); err != nil {
			return fmt.Errorf("touch findings: %w", err)
		}
		err = q.insertMany(ctx, `INSERT INTO findings (`+findingCols+`)`, 14, len(create), func(i int, a []any) []any {
			m := create[i]
			return append(a, tenantID, newID(), rule, string(m.Severity), string(m.Subject.Kind), m.Subject.ID, m.Subject.Display,
				nullStr(string(m.Details)), string(accessbot.FindingOpen), q.tm(at), q.tm(at), q.tm(at), "", nil)
		})
		if err != nil {
			return fmt.Errorf("insert findings: %w", q.writeErr(err))
		}
		res.Opened = len(create)
		if !resolveMissing {
			return nil
		}
		var gone []string
		for k, c := range current {
			if !seen[k] && c.status != string(accessbot.FindingResolved) {
				gone = append(gone, c.id)
			}
		}
		n, err := q.execIn(ctx, `UPDATE findings SET status = 'resolved', status_by = ?, status_at = ?
			WHERE tenant_id = ? AND status IN ('open', 'acknowledged')`+narrow+` AND id IN (%s)`,
			append([]any{accessbot.ActorSystem, q.tm(at), tenantID}, narrowArgs...), gone)
		if err != nil {
			return fmt.Errorf("resolve findings: %w", err)
		}
		res.Resolved = int(n)
		return nil
	})
	return res, err
}

func (q *queries) GetFinding(ctx context.Context, tenantID, id string) (*accessbot.Finding, error) {
	f, err := scanFinding(q.queryRow(ctx, `SELECT `+findingCols+` FROM findings WHERE tenant_id = ? AND id = ?`, tenantID, id))
	if err != nil {
		return nil, fmt.Errorf("get finding %s: %w", id, notFound(err))
	}
	return &f, nil
}

// inList appends " AND col IN (?, ...)" for vals, nothing when empty.
func inList[T ~string](where *strings.Builder, args []any, col string, vals []T) []any {
	if len(vals) == 0 {
		return args
	}
	where.WriteString(" AND " + col + " IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(vals)), ", ") + ")")
	for _, v := range vals {
		args = append(args, string(v))
	}
	return args
}

// findingWhere is the WHERE clause of f (not its severities) and its arguments.
func (q *queries) findingWhere(tenantID string, f accessbot.FindingFilter) (string, []any) {
	var where strings.Builder
	where.WriteString(` WHERE tenant_id = ?`)
	args := inList(&where, []any{tenantID}, "status", f.Statuses)
	if f.Rule != "" {
		where.WriteString(" AND rule = ?")
		args = append(args, f.Rule)
	}
	if !f.Since.IsZero() {
		where.WriteString(" AND last_seen >= ?")
		args = append(args, q.tm(f.Since))
	}
	return where.String(), args
}

// ListFindings reads one severity at a time, most severe first, each in
// the order of the findings_list index (tenant_id, severity, opened_at
// DESC, id), so a limited list reads only the rows it returns and none is
// sorted. The reads are not one snapshot; a rule run committing in between
// shows in the next list.
func (q *queries) ListFindings(ctx context.Context, tenantID string, f accessbot.FindingFilter) ([]accessbot.Finding, error) {
	where, args := q.findingWhere(tenantID, f)
	var out []accessbot.Finding
	for _, sev := range accessbot.Severities {
		if len(f.Severities) > 0 && !slices.Contains(f.Severities, sev) {
			continue
		}
		limit := 0
		if f.Limit > 0 {
			if limit = f.Limit - len(out); limit <= 0 {
				break
			}
		}
		rows, err := q.query(ctx, `SELECT `+findingCols+` FROM findings`+where+` AND severity = ? ORDER BY opened_at DESC, id`+limitClause(limit),
			append(slices.Clip(args), string(sev))...)
		items, err := collect(rows, err, scanFinding)
		if err != nil {
			return nil, fmt.Errorf("list %s findings: %w", sev, err)
		}
		out = append(out, items...)
	}
	return out, nil
}

func (q *queries) CountFindings(ctx context.Context, tenantID string, f accessbot.FindingFilter) (int, error) {
	where, args := q.findingWhere(tenantID, f)
	var sb strings.Builder
	args = inList(&sb, args, "severity", f.Severities)
	var n int
	if err := q.queryRow(ctx, `SELECT COUNT(*) FROM findings`+where+sb.String(), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count findings: %w", err)
	}
	return n, nil
}

// NewFindings counts in SQL and reads only the rows it returns: one
// ordered, limited query per severity, most severe first, each a range of
// the findings_new index (tenant_id, status, severity, opened_at DESC, id).
// The reads are not one snapshot: a rule run committing in between can
// make Counts and Items disagree by its changes, which the next digest
// shows anyway.
func (q *queries) NewFindings(ctx context.Context, tenantID string, from, to time.Time, limit int) (*store.NewFindings, error) {
	const window = ` FROM findings WHERE tenant_id = ? AND status = 'open' AND opened_at > ? AND opened_at <= ?`
	out := &store.NewFindings{Counts: map[accessbot.Severity]int{}}
	// Naming every severity makes the count a range of the index per
	// severity (only the window's entries) instead of all open findings.
	rows, err := q.query(ctx, `SELECT severity, COUNT(*)`+window+` AND severity IN ('critical', 'high', 'medium', 'low') GROUP BY severity`,
		tenantID, q.tm(from), q.tm(to))
	_, err = collect(rows, err, func(r scanner) (int, error) {
		var sev accessbot.Severity
		var n int
		err := r.Scan(&sev, &n)
		out.Counts[sev] = n
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("count new findings: %w", err)
	}
	for _, sev := range accessbot.Severities {
		n := out.Counts[sev]
		if limit >= 0 {
			n = min(n, limit-len(out.Items))
		}
		if n <= 0 {
			continue
		}
		rows, err := q.query(ctx, `SELECT `+findingCols+window+` AND severity = ? ORDER BY opened_at DESC, id`+limitClause(n),
			tenantID, q.tm(from), q.tm(to), string(sev))
		items, err := collect(rows, err, scanFinding)
		if err != nil {
			return nil, fmt.Errorf("list new %s findings: %w", sev, err)
		}
		out.Items = append(out.Items, items...)
	}
	return out, nil
}

func (q *queries) SetFindingStatus(ctx context.Context, tenantID, id string, from []accessbot.FindingStatus, to accessbot.FindingStatus, by string, at time.Time) error {
	switch {
	case to != accessbot.FindingOpen && to != accessbot.FindingAcknowledged && to != accessbot.FindingResolved:
		return fmt.Errorf("set finding %s status: %w: status %q", id, accessbot.ErrInvalid, to)
	case len(from) == 0 || by == "":
		return fmt.Errorf("set finding %s status: %w: want from statuses and who", id, accessbot.ErrInvalid)
	}
	var where strings.Builder
	args := inList(&where, []any{string(to), by, q.tm(at), tenantID, id}, "status", from)
	n, err := q.exec(ctx, `UPDATE findings SET status = ?, status_by = ?, status_at = ? WHERE tenant_id = ? AND id = ?`+where.String(), args...)
	if err != nil {
		return fmt.Errorf("set finding %s status: %w", id, q.writeErr(err))
	}
	if n == 1 {
		return nil
	}
	if _, err := q.GetFinding(ctx, tenantID, id); err != nil {
		return fmt.Errorf("set finding %s status: %w", id, err)
	}
	return fmt.Errorf("set finding %s status to %s: %w", id, to, accessbot.ErrStale)
}

func (q *queries) ReplaceTenantRules(ctx context.Context, tenantID string, rules []accessbot.TenantRule) error {
	err := q.atomic(ctx, func(q *queries) error {
		current, err := q.ListTenantRules(ctx, tenantID)
		if err != nil {
			return err
		}
		created := map[string]time.Time{}
		for _, r := range current {
			created[r.Name] = r.CreatedAt
		}
		if _, err := q.exec(ctx, `DELETE FROM tenant_rules WHERE tenant_id = ?`, tenantID); err != nil {
			return err
		}
		now := Round(q.now())
		for i := range rules {
			r := &rules[i]
			filter, err := marshalJSON(r.Filter)
			if err != nil {
				return fmt.Errorf("rule %s: %w", r.Name, err)
			}
			r.TenantID, r.UpdatedAt = tenantID, now
			if c, ok := created[r.Name]; ok {
				r.CreatedAt = c
			} else {
				r.CreatedAt = now
			}
			if _, err := q.exec(ctx, `INSERT INTO tenant_rules (tenant_id, name, description, severity, subject, filter, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, tenantID, r.Name, r.Description, string(r.Severity), string(r.Subject), filter,
				q.tm(r.CreatedAt), q.tm(now)); err != nil {
				return fmt.Errorf("rule %s: %w", r.Name, q.writeErr(err))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("replace tenant rules: %w", err)
	}
	return nil
}

func (q *queries) ListTenantRules(ctx context.Context, tenantID string) ([]accessbot.TenantRule, error) {
	rows, err := q.query(ctx, `SELECT tenant_id, name, description, severity, subject, filter, created_at, updated_at
		FROM tenant_rules WHERE tenant_id = ? ORDER BY name`, tenantID)
	out, err := collect(rows, err, func(r scanner) (accessbot.TenantRule, error) {
		var t accessbot.TenantRule
		var filter rawJSON
		var c, u dbTime
		if err := r.Scan(&t.TenantID, &t.Name, &t.Description, &t.Severity, &t.Subject, &filter, &c, &u); err != nil {
			return t, err
		}
		t.CreatedAt, t.UpdatedAt = c.T, u.T
		if err := unmarshalJSON(filter.B, &t.Filter); err != nil {
			return t, fmt.Errorf("rule %s filter: %w", t.Name, err)
		}
		return t, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list tenant rules: %w", err)
	}
	return out, nil
}

func (q *queries) PutFindingsToken(ctx context.Context, tenantID string, hash []byte, at time.Time) error {
	if len(hash) == 0 {
		return fmt.Errorf("put findings token: %w: empty hash", accessbot.ErrInvalid)
	}
	_, err := q.exec(ctx, `INSERT INTO findings_tokens (tenant_id, hash, created_at) VALUES (?, ?, ?)
		ON CONFLICT (tenant_id) DO UPDATE SET hash = excluded.hash, created_at = excluded.created_at`, tenantID, hash, q.tm(at))
	if err != nil {
		return fmt.Errorf("put findings token: %w", q.writeErr(err))
	}
	return nil
}

func (q *queries) FindingsTokenHash(ctx context.Context, tenantID string) ([]byte, error) {
	var hash []byte
	err := q.queryRow(ctx, `SELECT hash FROM findings_tokens WHERE tenant_id = ?`, tenantID).Scan(&hash)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("findings token: %w", accessbot.ErrNotFound)
		}
		return nil, fmt.Errorf("findings token: %w", err)
	}
	return hash, nil
}
