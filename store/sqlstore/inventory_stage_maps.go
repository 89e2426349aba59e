package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// Mappings snapshots are staged like identities (inventory_stage_ids.go):
// the rows go into inv_stage_maps in batches, are resolved to identities
// and employees by joins, and set-based statements write what changed.
// inv_stage_maps holds, per row, what the file says and what it resolves
// to: n current identities with its id (identity_id one of them), the
// employee with its email (user_id), and its problem (a MappingProblem, 0
// when good).

// mapStageCols are inv_stage_maps' staged columns. email_key is the email
// normalised (accessbot.NormalizeEmail), as users are looked up;
// skip is 1 for a row the caller rejected.
var mapStageCols = []string{"line", "ext", "email", "email_key", "app_id", "skip"}

var mapStageTables = []string{"inv_stage_maps", "inv_stage_mkeep"}

func (q *queries) ReplaceIdentityMappingsFrom(ctx context.Context, tenantID string, appIDs []string, src store.MappingSource) (accessbot.SnapshotResult, error) {
	var res accessbot.SnapshotResult
	err := q.atomic(ctx, func(q *queries) error {
		if err := q.createMapStage(ctx); err != nil {
			return err
		}
		if err := q.stageMaps(ctx, src); err != nil {
			return err
		}
		if err := q.resolveMaps(ctx, tenantID); err != nil {
			return err
		}
		if err := q.rejectMaps(ctx, src); err != nil {
			return err
		}
		keepAll, err := q.keepMaps(ctx, tenantID)
		if err != nil {
			return err
		}
		if res, err = q.applyMaps(ctx, tenantID, appIDs, keepAll); err != nil {
			return err
		}
		for _, t := range mapStageTables {
			if _, err := q.exec(ctx, `DROP TABLE IF EXISTS `+t); err != nil {
				return fmt.Errorf("drop %s: %w", t, err)
			}
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("replace identity mappings: %w", err)
	}
	return res, nil
}

func (q *queries) createMapStage(ctx context.Context) error {
	for _, t := range mapStageTables {
		if _, err := q.exec(ctx, `DROP TABLE IF EXISTS `+t); err != nil {
			return fmt.Errorf("drop %s: %w", t, err)
		}
	}
	for _, stmt := range []string{
		`CREATE TEMPORARY TABLE inv_stage_maps (line INTEGER NOT NULL, ext TEXT NOT NULL, email TEXT NOT NULL, email_key TEXT NOT NULL,
			app_id TEXT NOT NULL, skip INTEGER NOT NULL, n INTEGER NOT NULL DEFAULT 0, identity_id TEXT, user_id TEXT,
			problem INTEGER NOT NULL DEFAULT 0, first INTEGER NOT NULL DEFAULT 0)`,
		// kind: 'i' an identity, 'u' an employee (internal ids).
		`CREATE TEMPORARY TABLE inv_stage_mkeep (kind TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (kind, id))`,
	} {
		if _, err := q.exec(ctx, stmt); err != nil {
			return fmt.Errorf("create mappings staging table: %w", err)
		}
	}
	return nil
}

// stageMaps copies src into inv_stage_maps in batches. An error of src is
// returned as it is.
func (q *queries) stageMaps(ctx context.Context, src store.MappingSource) error {
	row := make([]any, 0, len(mapStageCols))
	_, err := q.stageRows(ctx, "mappings", "inv_stage_maps", mapStageCols, func() ([]any, error) {
		r, err := src.Next()
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		skip := int64(0)
		if r.Skip {
			skip = 1
		}
		return append(row[:0], int64(r.Line), r.IdentityExternalID, r.Email, accessbot.NormalizeEmail(r.Email), r.AppID, skip), nil
	})
	return err
}

// mapIdents matches a staged row (s) with the current identities (i) it
// names: by its id in its application or, without one, in each
// application (a) of the tenant; the key (tenant, app, external id) per
// application. args: tenant. Callers join a and i by CROSS JOIN, so that
// SQLite reads the applications first, whatever its guess of their size:
// else it scanned the tenant's identities for each row.
const mapIdents = `a.tenant_id = ? AND (s.app_id = '' OR a.id = s.app_id)
	AND i.tenant_id = a.tenant_id AND i.app_id = a.id AND i.external_id = s.ext AND i.removed_at IS NULL`

// resolveMaps fills in each staged row's identities, employee and problem.
// Employees are compared by lower(email) on both sides: SQLite uses the
// index on lower(email) only for an expression, not for a column.
func (q *queries) resolveMaps(ctx context.Context, tenantID string) error {
	if _, err := q.exec(ctx, `UPDATE inv_stage_maps AS s SET
		(n, identity_id) = (SELECT COUNT(*), MIN(i.id) FROM applications a CROSS JOIN inv_identities i WHERE `+mapIdents+`),
		user_id = (SELECT u.id FROM users u WHERE u.tenant_id = ? AND lower(u.email) = lower(s.email_key) AND s.email_key <> '')`,
		tenantID, tenantID); err != nil {
		return fmt.Errorf("resolve staged mappings: %w", err)
	}
	if _, err := q.exec(ctx, `CREATE INDEX inv_stage_maps_ident ON inv_stage_maps (identity_id, line)`); err != nil {
		return fmt.Errorf("index mappings staging table: %w", err)
	}
	if q.d.Name == "postgres" {
		// Temporary tables get no autovacuum statistics.
		if _, err := q.exec(ctx, `ANALYZE inv_stage_maps`); err != nil {
			return fmt.Errorf("analyze mappings staging table: %w", err)
		}
	}
	// Problems in the order the rows are checked: the identity, then a
	// repeat of it (among rows that name exactly one), then the employee.
	for _, stmt := range []struct{ what, sql string }{
		{"look for unknown identities", `UPDATE inv_stage_maps SET problem = CASE WHEN n = 0 THEN 1 ELSE 2 END WHERE skip = 0 AND n <> 1`},
		{"look for repeated identities", `UPDATE inv_stage_maps AS s SET problem = 3, first = d.first
			FROM (SELECT identity_id, MIN(line) AS first FROM inv_stage_maps WHERE skip = 0 AND n = 1
				GROUP BY identity_id HAVING COUNT(*) > 1) d
			WHERE s.identity_id = d.identity_id AND s.skip = 0 AND s.n = 1 AND s.line > d.first`},
		{"look for unknown employees", `UPDATE inv_stage_maps SET problem = 4 WHERE skip = 0 AND problem = 0 AND user_id IS NULL`},
	} {
		if _, err := q.exec(ctx, stmt.sql); err != nil {
			return fmt.Errorf("%s: %w", stmt.what, err)
		}
	}
	return nil
}

// rejectMaps tells src of the rows with a problem, in line order.
func (q *queries) rejectMaps(ctx context.Context, src store.MappingSource) error {
	rows, err := q.query(ctx, `SELECT line, ext, email, problem, first FROM inv_stage_maps WHERE problem <> 0 ORDER BY line`)
	if err != nil {
		return fmt.Errorf("read rejected mappings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r store.MappingReject
		if err := rows.Scan(&r.Line, &r.IdentityExternalID, &r.Email, &r.Problem, &r.FirstLine); err != nil {
			return fmt.Errorf("read rejected mappings: %w", err)
		}
		if err := src.Reject(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// rejectedMap selects the staged rows rejected by the caller or the store.
const rejectedMap = `(s.skip = 1 OR s.problem <> 0)`

// keepMaps stages what rejected rows name in inv_stage_mkeep, and reports
// whether one names nothing (then every mapping in scope is kept).
func (q *queries) keepMaps(ctx context.Context, tenantID string) (bool, error) {
	if _, err := q.exec(ctx, `INSERT INTO inv_stage_mkeep (kind, id) SELECT DISTINCT 'i', i.id
		FROM inv_stage_maps s CROSS JOIN applications a CROSS JOIN inv_identities i WHERE `+rejectedMap+` AND `+mapIdents, tenantID); err != nil {
		return false, fmt.Errorf("stage kept identities: %w", err)
	}
	if _, err := q.exec(ctx, `INSERT INTO inv_stage_mkeep (kind, id) SELECT DISTINCT 'u', s.user_id FROM inv_stage_maps s
		WHERE `+rejectedMap+` AND s.user_id IS NOT NULL`); err != nil {
		return false, fmt.Errorf("stage kept employees: %w", err)
	}
	var all int
	if err := q.queryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM inv_stage_maps s
		WHERE `+rejectedMap+` AND s.ext = '' AND s.user_id IS NULL LIMIT 1) x`).Scan(&all); err != nil {
		return false, fmt.Errorf("look for rows that name nothing: %w", err)
	}
	return all > 0, nil
}

// applyMaps makes the good staged rows, but for the identities kept, the
// mappings of the identities of appIDs (all when empty), keeping the ones
// rejected rows name, and writes only what changes.
func (q *queries) applyMaps(ctx context.Context, tenantID string, appIDs []string, keepAll bool) (accessbot.SnapshotResult, error) {
	var res accessbot.SnapshotResult
	// What is left is the snapshot to write: one row per identity, since
	// a repeat keeps its identity.
	if _, err := q.exec(ctx, `DELETE FROM inv_stage_maps WHERE skip = 1 OR problem <> 0
		OR identity_id IN (SELECT id FROM inv_stage_mkeep WHERE kind = 'i')`); err != nil {
		return res, fmt.Errorf("drop rejected mappings: %w", err)
	}
	var want int64
	if err := q.queryRow(ctx, `SELECT COUNT(*) FROM inv_stage_maps`).Scan(&want); err != nil {
		return res, fmt.Errorf("count staged mappings: %w", err)
	}
	if q.d.Name == "postgres" {
		if _, err := q.exec(ctx, `ANALYZE inv_stage_maps`); err != nil {
			return res, fmt.Errorf("analyze mappings staging table: %w", err)
		}
	}
	n, err := q.exec(ctx, `UPDATE inv_mappings SET user_id = s.user_id FROM inv_stage_maps s
		WHERE inv_mappings.tenant_id = ? AND inv_mappings.identity_id = s.identity_id AND inv_mappings.user_id <> s.user_id`, tenantID)
	if err != nil {
		return res, fmt.Errorf("update mappings: %w", q.writeErr(err))
	}
	res.Updated = int(n)
	// In line order, as the file wrote them.
	if n, err = q.exec(ctx, `INSERT INTO inv_mappings (tenant_id, identity_id, user_id, created_at)
		SELECT ?, s.identity_id, s.user_id, ? FROM inv_stage_maps s
		WHERE NOT EXISTS (SELECT 1 FROM inv_mappings m WHERE m.tenant_id = ? AND m.identity_id = s.identity_id)
		ORDER BY s.line`, tenantID, q.tm(Round(q.now())), tenantID); err != nil {
		return res, fmt.Errorf("insert mappings: %w", q.writeErr(err))
	}
	res.Created = int(n)
	res.Unchanged = int(want) - res.Created - res.Updated
	// The stored mappings in scope that the snapshot leaves out.
	gone, args := `inv_mappings.tenant_id = ?
		AND NOT EXISTS (SELECT 1 FROM inv_stage_maps s WHERE s.identity_id = inv_mappings.identity_id)`, []any{tenantID}
	if len(appIDs) > 0 {
		gone += ` AND EXISTS (SELECT 1 FROM inv_identities i WHERE i.tenant_id = inv_mappings.tenant_id AND i.id = inv_mappings.identity_id
			AND i.app_id IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(appIDs)), ", ") + `))`
		args = append(args, toAny(appIDs)...)
	}
	kept := `(EXISTS (SELECT 1 FROM inv_stage_mkeep k WHERE k.kind = 'i' AND k.id = inv_mappings.identity_id)
		OR EXISTS (SELECT 1 FROM inv_stage_mkeep k WHERE k.kind = 'u' AND k.id = inv_mappings.user_id))`
	if keepAll {
		kept = `1 = 1`
	}
	var k int64
	if err := q.queryRow(ctx, `SELECT COUNT(*) FROM inv_mappings WHERE `+gone+` AND `+kept, args...).Scan(&k); err != nil {
		return res, fmt.Errorf("count kept mappings: %w", err)
	}
	res.Kept = int(k)
	if !keepAll {
		if n, err = q.exec(ctx, `DELETE FROM inv_mappings WHERE `+gone+` AND NOT `+kept, args...); err != nil {
			return res, fmt.Errorf("delete mappings: %w", q.writeErr(err))
		}
		res.Removed = int(n)
	}
	return res, nil
}
