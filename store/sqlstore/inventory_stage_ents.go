package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// App entitlements snapshots are staged and compared like identities
// (inventory_stage_ids.go): memory holds one batch, never the snapshot.

// entStageCols are inv_stage_ents' columns, in staging order. id is a fresh
// id, used when the row creates an entitlement; labels are normalised JSON,
// as ReplaceAppEntitlements stores them.
var entStageCols = []string{"line", "id", "ext", "name", "type", "labels"}

func (q *queries) ReplaceAppEntitlementsFrom(ctx context.Context, tenantID, appID string, src store.EntitlementSource, at time.Time) (accessbot.SnapshotResult, error) {
	var res accessbot.SnapshotResult
	at = Round(at)
	err := q.atomic(ctx, func(q *queries) error {
		if err := q.createEntStage(ctx); err != nil {
			return err
		}
		if err := q.stageEnts(ctx, src); err != nil {
			return err
		}
		if err := q.rejectRepeatedEnts(ctx, src); err != nil {
			return err
		}
		keep := src.Keep()
		ext := slices.Compact(slices.Sorted(slices.Values(keep.Entitlements)))
		if err := q.insertMany(ctx, `INSERT INTO inv_stage_ekeep (ext)`, 1, len(ext), func(i int, a []any) []any { return append(a, ext[i]) }); err != nil {
			return fmt.Errorf("stage kept entitlements: %w", err)
		}
		var err error
		if res, err = q.applyEnts(ctx, tenantID, appID, keep.All, at); err != nil {
			return err
		}
		for _, t := range []string{"inv_stage_ents", "inv_stage_ekeep"} {
			if _, err := q.exec(ctx, `DROP TABLE IF EXISTS `+t); err != nil {
				return fmt.Errorf("drop %s: %w", t, err)
			}
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("replace entitlements of application %s: %w", appID, err)
	}
	return res, nil
}

func (q *queries) createEntStage(ctx context.Context) error {
	for _, stmt := range []string{
		`DROP TABLE IF EXISTS inv_stage_ents`,
		`DROP TABLE IF EXISTS inv_stage_ekeep`,
		`CREATE TEMPORARY TABLE inv_stage_ents (line INTEGER NOT NULL, id TEXT NOT NULL, ext TEXT NOT NULL, name TEXT NOT NULL,
			type TEXT NOT NULL, labels TEXT NOT NULL)`,
		`CREATE TEMPORARY TABLE inv_stage_ekeep (ext TEXT NOT NULL PRIMARY KEY)`,
	} {
		if _, err := q.exec(ctx, stmt); err != nil {
			return fmt.Errorf("create entitlements staging table: %w", err)
		}
	}
	return nil
}

// stageEnts copies src into inv_stage_ents in batches. An error of src is
// returned as it is.
func (q *queries) stageEnts(ctx context.Context, src store.EntitlementSource) error {
	row := make([]any, 0, len(entStageCols))
	if _, err := q.stageRows(ctx, "entitlements", "inv_stage_ents", entStageCols, func() ([]any, error) {
		r, err := src.Next()
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		e := r.Entitlement
		if e.ExternalID == "" {
			return nil, fmt.Errorf("line %d: entitlement %w: empty id", r.Line, accessbot.ErrInvalid)
		}
		labels, err := marshalJSON(normLabels(e.Labels))
		if err != nil {
			return nil, fmt.Errorf("line %d: entitlement %s labels: %w", r.Line, e.ExternalID, err)
		}
		return append(row[:0], int64(r.Line), newID(), e.ExternalID, e.Name, e.Type, labels), nil
	}); err != nil {
		return err
	}
	if _, err := q.exec(ctx, `CREATE INDEX inv_stage_ents_ext ON inv_stage_ents (ext, line)`); err != nil {
		return fmt.Errorf("index entitlements staging table: %w", err)
	}
	if q.d.Name == "postgres" {
		// Temporary tables get no autovacuum statistics.
		if _, err := q.exec(ctx, `ANALYZE inv_stage_ents`); err != nil {
			return fmt.Errorf("analyze entitlements staging table: %w", err)
		}
	}
	return nil
}

// rejectRepeatedEnts tells src of each row whose id an earlier row has.
func (q *queries) rejectRepeatedEnts(ctx context.Context, src store.EntitlementSource) error {
	rows, err := q.query(ctx, `SELECT s.line, s.ext, d.first
		FROM (SELECT ext, MIN(line) AS first FROM inv_stage_ents GROUP BY ext HAVING COUNT(*) > 1) d
		JOIN inv_stage_ents s ON s.ext = d.ext AND s.line > d.first
		ORDER BY s.line`)
	if err != nil {
		return fmt.Errorf("look for repeated entitlements: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r store.EntitlementReject
		if err := rows.Scan(&r.Line, &r.ExternalID, &r.FirstLine); err != nil {
			return fmt.Errorf("look for repeated entitlements: %w", err)
		}
		if err := src.Reject(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// applyEnts makes the staged rows that are neither kept nor repeated the
// application's current entitlements, writing only what changes.
func (q *queries) applyEnts(ctx context.Context, tenantID, appID string, keepAll bool, at time.Time) (accessbot.SnapshotResult, error) {
	var res accessbot.SnapshotResult
	if _, err := q.exec(ctx, `DELETE FROM inv_stage_ents WHERE ext IN (SELECT ext FROM inv_stage_ekeep)
		OR ext IN (SELECT ext FROM inv_stage_ents GROUP BY ext HAVING COUNT(*) > 1)`); err != nil {
		return res, fmt.Errorf("drop kept entitlements: %w", err)
	}
	var want int64
	if err := q.queryRow(ctx, `SELECT COUNT(*) FROM inv_stage_ents`).Scan(&want); err != nil {
		return res, fmt.Errorf("count staged entitlements: %w", err)
	}
	if q.d.Name == "postgres" {
		if _, err := q.exec(ctx, `ANALYZE inv_stage_ents`); err != nil {
			return res, fmt.Errorf("analyze entitlements staging table: %w", err)
		}
	}
	const set = `UPDATE inv_entitlements SET name = s.name, type = s.type, labels = s.labels, removed_at = NULL, updated_at = ?
		FROM inv_stage_ents s
		WHERE inv_entitlements.tenant_id = ? AND inv_entitlements.app_id = ? AND inv_entitlements.external_id = s.ext AND `
	// Changed current entitlements first: restoring makes removed ones current.
	n, err := q.exec(ctx, set+`inv_entitlements.removed_at IS NULL AND (inv_entitlements.name <> s.name
		OR inv_entitlements.type <> s.type OR inv_entitlements.labels <> s.labels)`, q.tm(at), tenantID, appID)
	if err != nil {
		return res, fmt.Errorf("update entitlements: %w", q.writeErr(err))
	}
	res.Updated = int(n)
	if n, err = q.exec(ctx, set+`inv_entitlements.removed_at IS NOT NULL`, q.tm(at), tenantID, appID); err != nil {
		return res, fmt.Errorf("restore entitlements: %w", q.writeErr(err))
	}
	res.Restored = int(n)
	// In line order, so that new ids (time-ordered) follow the file.
	if n, err = q.exec(ctx, `INSERT INTO inv_entitlements (`+appEntCols+`)
		SELECT ?, s.id, ?, s.ext, s.name, s.type, s.labels, NULL, ?, ? FROM inv_stage_ents s
		WHERE NOT EXISTS (SELECT 1 FROM inv_entitlements e WHERE e.tenant_id = ? AND e.app_id = ? AND e.external_id = s.ext)
		ORDER BY s.line`, tenantID, appID, q.tm(at), q.tm(at), tenantID, appID); err != nil {
		return res, fmt.Errorf("insert entitlements: %w", q.writeErr(err))
	}
	res.Created = int(n)
	res.Unchanged = int(want) - res.Created - res.Updated - res.Restored
	const gone = `tenant_id = ? AND app_id = ? AND removed_at IS NULL
		AND NOT EXISTS (SELECT 1 FROM inv_stage_ents s WHERE s.ext = inv_entitlements.external_id)`
	kept := `EXISTS (SELECT 1 FROM inv_stage_ekeep k WHERE k.ext = inv_entitlements.external_id)`
	if keepAll {
		kept = `1 = 1`
	}
	var k int64
	if err := q.queryRow(ctx, `SELECT COUNT(*) FROM inv_entitlements WHERE `+gone+` AND `+kept, tenantID, appID).Scan(&k); err != nil {
		return res, fmt.Errorf("count kept entitlements: %w", err)
	}
	res.Kept = int(k)
	if !keepAll {
		if n, err = q.exec(ctx, `UPDATE inv_entitlements SET removed_at = ?, updated_at = ? WHERE `+gone+` AND NOT `+kept,
			q.tm(at), q.tm(at), tenantID, appID); err != nil {
			return res, fmt.Errorf("mark entitlements removed: %w", q.writeErr(err))
		}
		res.Removed = int(n)
	}
	return res, nil
}
