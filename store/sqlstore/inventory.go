package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

var _ store.Inventory = (*queries)(nil)

const identityCols = `tenant_id, id, app_id, external_id, email, display_name, status, last_seen_at, removed_at, created_at, updated_at`

func scanIdentity(r scanner) (accessbot.Identity, error) {
	var i accessbot.Identity
	var seen, removed, c, u dbTime
	err := r.Scan(&i.TenantID, &i.ID, &i.AppID, &i.ExternalID, &i.Email, &i.DisplayName, &i.Status, &seen, &removed, &c, &u)
	i.LastSeenAt, i.RemovedAt = seen.ptr(), removed.ptr()
	i.CreatedAt, i.UpdatedAt = c.T, u.T
	return i, err
}

const appEntCols = `tenant_id, id, app_id, external_id, name, type, labels, removed_at, created_at, updated_at`

func scanAppEnt(r scanner) (accessbot.AppEntitlement, error) {
	var e accessbot.AppEntitlement
	var labels rawJSON
	var removed, c, u dbTime
	if err := r.Scan(&e.TenantID, &e.ID, &e.AppID, &e.ExternalID, &e.Name, &e.Type, &labels, &removed, &c, &u); err != nil {
		return e, err
	}
	e.RemovedAt = removed.ptr()
	e.CreatedAt, e.UpdatedAt = c.T, u.T
	if err := unmarshalJSON(labels.B, &e.Labels); err != nil {
		return e, fmt.Errorf("entitlement %s labels: %w", e.ID, err)
	}
	return e, nil
}

// appFilter is " AND app_id = ?" when appID is set.
func appFilter(col, appID string, args []any) (string, []any) {
	if appID == "" {
		return "", args
	}
	return " AND " + col + " = ?", append(args, appID)
}

func (q *queries) GetIdentity(ctx context.Context, tenantID, id string) (*accessbot.Identity, error) {
	i, err := scanIdentity(q.queryRow(ctx, `SELECT `+identityCols+` FROM inv_identities WHERE tenant_id = ? AND id = ?`, tenantID, id))
	if err != nil {
		return nil, fmt.Errorf("get identity %s: %w", id, notFound(err))
	}
	return &i, nil
}

func (q *queries) ListIdentities(ctx context.Context, tenantID, appID string, includeRemoved bool) ([]accessbot.Identity, error) {
	where, args := appFilter("app_id", appID, []any{tenantID})
	if !includeRemoved {
		where += " AND removed_at IS NULL"
	}
	rows, err := q.query(ctx, `SELECT `+identityCols+` FROM inv_identities WHERE tenant_id = ?`+where+` ORDER BY app_id, external_id`, args...)
	out, err := collect(rows, err, scanIdentity)
	if err != nil {
		return nil, fmt.Errorf("list identities: %w", err)
	}
	return out, nil
}

func (q *queries) ListIdentitiesAfter(ctx context.Context, tenantID, afterID string, limit int) ([]accessbot.Identity, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("list identities after %q: %w: limit %d", afterID, accessbot.ErrInvalid, limit)
	}
	var out []accessbot.Identity
	err := q.atomic(ctx, func(q *queries) error {
		if q.d.Name == "postgres" {
			// Misled by the statistics of identities written in the same
			// transaction, PostgreSQL reads every identity after the key
			// through a bitmap and sorts them, for each page (about a second
			// a page at 100,000 identities, quadratic in all); the primary
			// key's order, stopping at limit, is the plan wanted.
			var was string
			if err := q.queryRow(ctx, `SELECT current_setting('enable_bitmapscan')`).Scan(&was); err != nil {
				return err
			}
			if _, err := q.exec(ctx, `SELECT set_config('enable_bitmapscan', 'off', true)`); err != nil {
				return err
			}
			defer func() { _, _ = q.exec(ctx, `SELECT set_config('enable_bitmapscan', ?, true)`, was) }()
		}
		// The primary key (tenant_id, id) serves both the seek and the order.
		rows, err := q.query(ctx, `SELECT `+identityCols+` FROM inv_identities WHERE tenant_id = ? AND id > ? AND removed_at IS NULL
			ORDER BY id LIMIT ?`, tenantID, afterID, limit)
		out, err = collect(rows, err, scanIdentity)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list identities after %q: %w", afterID, err)
	}
	return out, nil
}

func (q *queries) ListAppEntitlements(ctx context.Context, tenantID, appID string, includeRemoved bool) ([]accessbot.AppEntitlement, error) {
	where, args := appFilter("app_id", appID, []any{tenantID})
	if !includeRemoved {
		where += " AND removed_at IS NULL"
	}
	rows, err := q.query(ctx, `SELECT `+appEntCols+` FROM inv_entitlements WHERE tenant_id = ?`+where+` ORDER BY app_id, external_id`, args...)
	out, err := collect(rows, err, scanAppEnt)
	if err != nil {
		return nil, fmt.Errorf("list app entitlements: %w", err)
	}
	return out, nil
}

// ListRelations without includeRemoved returns relations that are current
// along with both of their ends, so a removed identity holds nothing.
func (q *queries) ListRelations(ctx context.Context, tenantID, appID string, includeRemoved bool) ([]accessbot.Relation, error) {
	where, args := appFilter("r.app_id", appID, []any{tenantID})
	join := ""
	if !includeRemoved {
		join = ` JOIN inv_identities i ON i.tenant_id = r.tenant_id AND i.id = r.identity_id AND i.removed_at IS NULL
			JOIN inv_entitlements e ON e.tenant_id = r.tenant_id AND e.id = r.entitlement_id AND e.removed_at IS NULL`
		where += " AND r.removed_at IS NULL"
	}
	rows, err := q.query(ctx, `SELECT r.tenant_id, r.app_id, r.identity_id, r.entitlement_id, r.removed_at, r.created_at
		FROM inv_relations r`+join+` WHERE r.tenant_id = ?`+where+` ORDER BY r.identity_id, r.entitlement_id`, args...)
	out, err := collect(rows, err, func(r scanner) (accessbot.Relation, error) {
		var rel accessbot.Relation
		var removed, c dbTime
		err := r.Scan(&rel.TenantID, &rel.AppID, &rel.IdentityID, &rel.EntitlementID, &removed, &c)
		rel.RemovedAt, rel.CreatedAt = removed.ptr(), c.T
		return rel, err
	})
	if err != nil {
		return nil, fmt.Errorf("list relations: %w", err)
	}
	return out, nil
}

func (q *queries) ListIdentityMappings(ctx context.Context, tenantID string) ([]accessbot.IdentityMapping, error) {
	rows, err := q.query(ctx, `SELECT tenant_id, identity_id, user_id, created_at FROM inv_mappings WHERE tenant_id = ? ORDER BY identity_id`, tenantID)
	out, err := collect(rows, err, func(r scanner) (accessbot.IdentityMapping, error) {
		var m accessbot.IdentityMapping
		var c dbTime
		err := r.Scan(&m.TenantID, &m.IdentityID, &m.UserID, &c)
		m.CreatedAt = c.T
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("list identity mappings: %w", err)
	}
	return out, nil
}

func sameTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

// countStored counts a snapshot row that is stored already and says whether
// it must be written: not when it is the same and not removed.
func countStored(res *accessbot.SnapshotResult, same, removed bool) bool {
	switch {
	case same && !removed:
		res.Unchanged++
		return false
	case removed:
		res.Restored++
	default:
		res.Updated++
	}
	return true
}

// markRemoved marks rows ids of table (the ones a snapshot left out) removed at at.
func (q *queries) markRemoved(ctx context.Context, table, tenantID string, ids []string, at time.Time) (int, error) {
	n, err := q.execIn(ctx, `UPDATE `+table+` SET removed_at = ?, updated_at = ? WHERE tenant_id = ? AND id IN (%s)`,
		[]any{q.tm(at), q.tm(at), tenantID}, ids)
	return int(n), err
}

// keepSet is the rows a SnapshotKeep names, by external id.
func keepSet(ext []string) map[string]bool {
	m := make(map[string]bool, len(ext))
	for _, e := range ext {
		m[e] = true
	}
	return m
}

func (q *queries) ReplaceIdentities(ctx context.Context, tenantID, appID string, ids []accessbot.Identity, keep accessbot.SnapshotKeep, at time.Time) (accessbot.SnapshotResult, error) {
	var res accessbot.SnapshotResult
	at = Round(at)
	err := q.atomic(ctx, func(q *queries) error {
		current, err := q.ListIdentities(ctx, tenantID, appID, true)
		if err != nil {
			return err
		}
		byExt := make(map[string]*accessbot.Identity, len(current))
		for i := range current {
			byExt[current[i].ExternalID] = &current[i]
		}
		seen := make(map[string]bool, len(ids))
		var create []*accessbot.Identity
		upd, err := q.prepare(ctx, `UPDATE inv_identities SET email = ?, display_name = ?, status = ?, last_seen_at = ?,
			removed_at = NULL, updated_at = ? WHERE tenant_id = ? AND id = ?`)
		if err != nil {
			return err
		}
		defer upd.close()
		for i := range ids {
			in := &ids[i]
			if in.ExternalID == "" || seen[in.ExternalID] {
				return fmt.Errorf("identity %q: %w: empty or repeated id", in.ExternalID, accessbot.ErrInvalid)
			}
			seen[in.ExternalID] = true
			if in.Status == "" {
				in.Status = accessbot.IdentityActive
			}
			in.TenantID, in.AppID, in.LastSeenAt, in.RemovedAt = tenantID, appID, roundPtr(in.LastSeenAt), nil
			cur := byExt[in.ExternalID]
			if cur == nil {
				in.ID, in.CreatedAt, in.UpdatedAt = newID(), at, at
				create = append(create, in)
				continue
			}
			in.ID, in.CreatedAt = cur.ID, cur.CreatedAt
			same := cur.Email == in.Email && cur.DisplayName == in.DisplayName && cur.Status == in.Status && sameTimePtr(cur.LastSeenAt, in.LastSeenAt)
			if !countStored(&res, same, cur.RemovedAt != nil) {
				in.UpdatedAt = cur.UpdatedAt
				continue
			}
			in.UpdatedAt = at
			if err := upd.exec(ctx, in.Email, in.DisplayName, string(in.Status), q.tmp(in.LastSeenAt), q.tm(at), tenantID, in.ID); err != nil {
				return fmt.Errorf("update identity %s: %w", in.ExternalID, q.writeErr(err))
			}
		}
		err = q.insertMany(ctx, `INSERT INTO inv_identities (`+identityCols+`)`, 11, len(create), func(i int, a []any) []any {
			c := create[i]
			return append(a, tenantID, c.ID, appID, c.ExternalID, c.Email, c.DisplayName, string(c.Status),
				q.tmp(c.LastSeenAt), nil, q.tm(at), q.tm(at))
		})
		if err != nil {
			return fmt.Errorf("insert identities: %w", q.writeErr(err))
		}
		res.Created = len(create)
		kept := keepSet(keep.Identities)
		var gone []string
		for _, c := range current {
			switch {
			case seen[c.ExternalID] || c.RemovedAt != nil:
			case keep.All || kept[c.ExternalID]:
				res.Kept++
			default:
				gone = append(gone, c.ID)
			}
		}
		n, err := q.markRemoved(ctx, "inv_identities", tenantID, gone, at)
		if err != nil {
			return fmt.Errorf("mark identities removed: %w", err)
		}
		res.Removed = n
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("replace identities of application %s: %w", appID, err)
	}
	return res, nil
}

// normLabels is how labels are stored: trimmed, lower case, sorted, unique.
func normLabels(in []string) []string {
	out := make([]string, 0, len(in))
	for _, l := range in {
		if l = strings.ToLower(strings.TrimSpace(l)); l != "" {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (q *queries) ReplaceAppEntitlements(ctx context.Context, tenantID, appID string, es []accessbot.AppEntitlement, keep accessbot.SnapshotKeep, at time.Time) (accessbot.SnapshotResult, error) {
	var res accessbot.SnapshotResult
	at = Round(at)
	err := q.atomic(ctx, func(q *queries) error {
		current, err := q.ListAppEntitlements(ctx, tenantID, appID, true)
		if err != nil {
			return err
		}
		byExt := make(map[string]*accessbot.AppEntitlement, len(current))
		for i := range current {
			byExt[current[i].ExternalID] = &current[i]
		}
		seen := make(map[string]bool, len(es))
		var create []*accessbot.AppEntitlement
		upd, err := q.prepare(ctx, `UPDATE inv_entitlements SET name = ?, type = ?, labels = ?, removed_at = NULL, updated_at = ?
			WHERE tenant_id = ? AND id = ?`)
		if err != nil {
			return err
		}
		defer upd.close()
		for i := range es {
			in := &es[i]
			if in.ExternalID == "" || seen[in.ExternalID] {
				return fmt.Errorf("entitlement %q: %w: empty or repeated id", in.ExternalID, accessbot.ErrInvalid)
			}
			seen[in.ExternalID] = true
			in.TenantID, in.AppID, in.Labels, in.RemovedAt = tenantID, appID, normLabels(in.Labels), nil
			cur := byExt[in.ExternalID]
			if cur == nil {
				in.ID, in.CreatedAt, in.UpdatedAt = newID(), at, at
				create = append(create, in)
				continue
			}
			in.ID, in.CreatedAt = cur.ID, cur.CreatedAt
			same := cur.Name == in.Name && cur.Type == in.Type && slices.Equal(normLabels(cur.Labels), in.Labels)
			if !countStored(&res, same, cur.RemovedAt != nil) {
				in.UpdatedAt = cur.UpdatedAt
				continue
			}
			in.UpdatedAt = at
			labels, err := marshalJSON(in.Labels)
			if err != nil {
				return err
			}
			if err := upd.exec(ctx, in.Name, in.Type, labels, q.tm(at), tenantID, in.ID); err != nil {
				return fmt.Errorf("update entitlement %s: %w", in.ExternalID, q.writeErr(err))
			}
		}
		var ierr error
		err = q.insertMany(ctx, `INSERT INTO inv_entitlements (`+appEntCols+`)`, 10, len(create), func(i int, a []any) []any {
			c := create[i]
			labels, err := marshalJSON(c.Labels)
			if err != nil {
				ierr = err
			}
			return append(a, tenantID, c.ID, appID, c.ExternalID, c.Name, c.Type, labels, nil, q.tm(at), q.tm(at))
		})
		if err == nil {
			err = ierr
		}
		if err != nil {
			return fmt.Errorf("insert entitlements: %w", q.writeErr(err))
		}
		res.Created = len(create)
		kept := keepSet(keep.Entitlements)
		var gone []string
		for _, c := range current {
			switch {
			case seen[c.ExternalID] || c.RemovedAt != nil:
			case keep.All || kept[c.ExternalID]:
				res.Kept++
			default:
				gone = append(gone, c.ID)
			}
		}
		n, err := q.markRemoved(ctx, "inv_entitlements", tenantID, gone, at)
		if err != nil {
			return fmt.Errorf("mark entitlements removed: %w", err)
		}
		res.Removed = n
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("replace entitlements of application %s: %w", appID, err)
	}
	return res, nil
}

func (q *queries) ReplaceIdentityMappings(ctx context.Context, tenantID string, appIDs []string, ms []accessbot.IdentityMapping) (accessbot.SnapshotResult, error) {
	var res accessbot.SnapshotResult
	err := q.atomic(ctx, func(q *queries) error {
		// Current mappings in scope, with their identity's application.
		rows, err := q.query(ctx, `SELECT m.identity_id, m.user_id, i.app_id FROM inv_mappings m
			JOIN inv_identities i ON i.tenant_id = m.tenant_id AND i.id = m.identity_id WHERE m.tenant_id = ?`, tenantID)
		if err != nil {
			return fmt.Errorf("read mappings: %w", err)
		}
		current := map[string]string{}
		for rows.Next() {
			var ident, user, app string
			if err := rows.Scan(&ident, &user, &app); err != nil {
				rows.Close()
				return err
			}
			if len(appIDs) == 0 || slices.Contains(appIDs, app) {
				current[ident] = user
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		now := Round(q.now())
		seen := map[string]bool{}
		ins, err := q.prepare(ctx, `INSERT INTO inv_mappings (tenant_id, identity_id, user_id, created_at) VALUES (?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer ins.close()
		upd, err := q.prepare(ctx, `UPDATE inv_mappings SET user_id = ? WHERE tenant_id = ? AND identity_id = ?`)
		if err != nil {
			return err
		}
		defer upd.close()
		for _, m := range ms {
			if m.IdentityID == "" || m.UserID == "" || seen[m.IdentityID] {
				return fmt.Errorf("mapping of identity %q: %w: empty or repeated", m.IdentityID, accessbot.ErrInvalid)
			}
			seen[m.IdentityID] = true
			cur, ok := current[m.IdentityID]
			switch {
			case !ok:
				if err := ins.exec(ctx, tenantID, m.IdentityID, m.UserID, q.tm(now)); err != nil {
					return fmt.Errorf("map identity %s: %w", m.IdentityID, q.writeErr(err))
				}
				res.Created++
			case cur != m.UserID:
				if err := upd.exec(ctx, m.UserID, tenantID, m.IdentityID); err != nil {
					return fmt.Errorf("map identity %s: %w", m.IdentityID, q.writeErr(err))
				}
				res.Updated++
			default:
				res.Unchanged++
			}
		}
		var gone []string
		for ident := range current {
			if !seen[ident] {
				gone = append(gone, ident)
			}
		}
		n, err := q.execIn(ctx, `DELETE FROM inv_mappings WHERE tenant_id = ? AND identity_id IN (%s)`, []any{tenantID}, gone)
		if err != nil {
			return fmt.Errorf("delete mappings: %w", err)
		}
		res.Removed = int(n)
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("replace identity mappings: %w", err)
	}
	return res, nil
}

func (q *queries) EachRelationBetween(ctx context.Context, tenantID, after, through string, fn func(identityID, entitlementID string) error) error {
	// A range of the primary key (tenant_id, identity_id, entitlement_id).
	query, args := ` AND identity_id > ?`, []any{tenantID, after}
	if through != "" {
		query, args = query+` AND identity_id <= ?`, append(args, through)
	}
	if err := q.eachRelation(ctx, fn, relationsHead+query+` ORDER BY identity_id`, args...); err != nil {
		return fmt.Errorf("read relations after %q through %q: %w", after, through, err)
	}
	return nil
}

const relationsHead = `SELECT identity_id, entitlement_id FROM inv_relations WHERE tenant_id = ? AND removed_at IS NULL`

func (q *queries) eachRelation(ctx context.Context, fn func(identityID, entitlementID string) error, query string, args ...any) error {
	rows, err := q.query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var ident, ent string
	for rows.Next() {
		if err := rows.Scan(&ident, &ent); err != nil {
			return err
		}
		if err := fn(ident, ent); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (q *queries) EachRelation(ctx context.Context, tenantID string, identityIDs []string, fn func(identityID, entitlementID string) error) error {
	each := func(query string, args ...any) error { return q.eachRelation(ctx, fn, query, args...) }
	const head = relationsHead
	if identityIDs == nil {
		if err := each(head+` ORDER BY identity_id`, tenantID); err != nil {
			return fmt.Errorf("read relations: %w", err)
		}
		return nil
	}
	per := batchParams - 1
	for start := 0; start < len(identityIDs); start += per {
		chunk := identityIDs[start:min(len(identityIDs), start+per)]
		args := append([]any{tenantID}, toAny(chunk)...)
		err := each(head+` AND identity_id IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ")+`) ORDER BY identity_id`, args...)
		if err != nil {
			return fmt.Errorf("read relations: %w", err)
		}
	}
	return nil
}
