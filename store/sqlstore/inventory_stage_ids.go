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

// Identities snapshots are staged and compared like relations
// (inventory_stage.go): rows go into a temporary table in batches (COPY on
// PostgreSQL), then set-based statements write only what changed.

// identityStageCols are inv_stage_idents' columns, in staging order. id is
// a fresh id, used when the row creates an identity; skip is 1 for a row
// the caller rejected, staged only to find repeated ids.
var identityStageCols = []string{"line", "id", "ext", "email", "display_name", "status", "last_seen_at", "skip"}

func (q *queries) ReplaceIdentitiesFrom(ctx context.Context, tenantID, appID string, src store.IdentitySource, at time.Time) (accessbot.SnapshotResult, error) {
	var res accessbot.SnapshotResult
	at = Round(at)
	err := q.atomic(ctx, func(q *queries) error {
		if err := q.createIdentityStage(ctx); err != nil {
			return err
		}
		if err := q.stageIdentities(ctx, src); err != nil {
			return err
		}
		if err := q.rejectRepeatedIdentities(ctx, src); err != nil {
			return err
		}
		keep := src.Keep()
		if err := q.stageKeptIdentities(ctx, keep.Identities); err != nil {
			return err
		}
		var err error
		if res, err = q.applyIdentities(ctx, tenantID, appID, keep.All, at); err != nil {
			return err
		}
		for _, t := range []string{"inv_stage_idents", "inv_stage_ikeep"} {
			if _, err := q.exec(ctx, `DROP TABLE IF EXISTS `+t); err != nil {
				return fmt.Errorf("drop %s: %w", t, err)
			}
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("replace identities of application %s: %w", appID, err)
	}
	return res, nil
}

func (q *queries) createIdentityStage(ctx context.Context) error {
	tm := "TEXT"
	if !q.d.TextTime {
		tm = "TIMESTAMPTZ"
	}
	for _, stmt := range []string{
		`DROP TABLE IF EXISTS inv_stage_idents`,
		`DROP TABLE IF EXISTS inv_stage_ikeep`,
		`CREATE TEMPORARY TABLE inv_stage_idents (line INTEGER NOT NULL, id TEXT NOT NULL, ext TEXT NOT NULL, email TEXT NOT NULL,
			display_name TEXT NOT NULL, status TEXT NOT NULL, last_seen_at ` + tm + `, skip INTEGER NOT NULL)`,
		`CREATE TEMPORARY TABLE inv_stage_ikeep (ext TEXT NOT NULL PRIMARY KEY)`,
	} {
		if _, err := q.exec(ctx, stmt); err != nil {
			return fmt.Errorf("create identities staging table: %w", err)
		}
	}
	return nil
}

// identityStageRow is src's next row as inv_stage_idents' values, or nil
// after the last.
func (q *queries) identityStageRow(src store.IdentitySource, row []any) ([]any, error) {
	r, err := src.Next()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	in := r.Identity
	if in.ExternalID == "" {
		return nil, fmt.Errorf("line %d: identity %w: empty id", r.Line, accessbot.ErrInvalid)
	}
	if in.Status == "" {
		in.Status = accessbot.IdentityActive
	}
	skip := int64(0)
	if r.Skip {
		skip = 1
	}
	return append(row[:0], int64(r.Line), newID(), in.ExternalID, in.Email, in.DisplayName, string(in.Status), q.tmp(roundPtr(in.LastSeenAt)), skip), nil
}

// stageIdentities copies src into inv_stage_idents in batches: memory
// holds one batch. An error of src is returned as it is.
func (q *queries) stageIdentities(ctx context.Context, src store.IdentitySource) error {
	row := make([]any, 0, len(identityStageCols))
	if _, err := q.stageRows(ctx, "identities", "inv_stage_idents", identityStageCols, func() ([]any, error) {
		return q.identityStageRow(src, row)
	}); err != nil {
		return err
	}
	if _, err := q.exec(ctx, `CREATE INDEX inv_stage_idents_ext ON inv_stage_idents (ext, line)`); err != nil {
		return fmt.Errorf("index identities staging table: %w", err)
	}
	if q.d.Name == "postgres" {
		// Temporary tables get no autovacuum statistics.
		if _, err := q.exec(ctx, `ANALYZE inv_stage_idents`); err != nil {
			return fmt.Errorf("analyze identities staging table: %w", err)
		}
	}
	return nil
}

// rejectRepeatedIdentities tells src of each row whose id an earlier row
// has, skipped or not.
func (q *queries) rejectRepeatedIdentities(ctx context.Context, src store.IdentitySource) error {
	rows, err := q.query(ctx, `SELECT s.line, s.ext, d.first
		FROM (SELECT ext, MIN(line) AS first FROM inv_stage_idents GROUP BY ext HAVING COUNT(*) > 1) d
		JOIN inv_stage_idents s ON s.ext = d.ext AND s.line > d.first
		ORDER BY s.line`)
	if err != nil {
		return fmt.Errorf("look for repeated identities: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r store.IdentityReject
		if err := rows.Scan(&r.Line, &r.ExternalID, &r.FirstLine); err != nil {
			return fmt.Errorf("look for repeated identities: %w", err)
		}
		if err := src.Reject(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (q *queries) stageKeptIdentities(ctx context.Context, ext []string) error {
	ext = slices.Compact(slices.Sorted(slices.Values(ext)))
	err := q.insertMany(ctx, `INSERT INTO inv_stage_ikeep (ext)`, 1, len(ext), func(i int, a []any) []any { return append(a, ext[i]) })
	if err != nil {
		return fmt.Errorf("stage kept identities: %w", err)
	}
	return nil
}

// applyIdentities makes the staged rows that are neither skipped, kept nor
// repeated the application's current identities, writing only what changes.
func (q *queries) applyIdentities(ctx context.Context, tenantID, appID string, keepAll bool, at time.Time) (accessbot.SnapshotResult, error) {
	var res accessbot.SnapshotResult
	// What is left in the staging table is the snapshot to write.
	if _, err := q.exec(ctx, `DELETE FROM inv_stage_idents WHERE skip = 1
		OR ext IN (SELECT ext FROM inv_stage_ikeep)
		OR ext IN (SELECT ext FROM inv_stage_idents GROUP BY ext HAVING COUNT(*) > 1)`); err != nil {
		return res, fmt.Errorf("drop skipped identities: %w", err)
	}
	var want int64
	if err := q.queryRow(ctx, `SELECT COUNT(*) FROM inv_stage_idents`).Scan(&want); err != nil {
		return res, fmt.Errorf("count staged identities: %w", err)
	}
	distinct := `IS NOT`
	if q.d.Name == "postgres" {
		distinct = `IS DISTINCT FROM`
		if _, err := q.exec(ctx, `ANALYZE inv_stage_idents`); err != nil {
			return res, fmt.Errorf("analyze identities staging table: %w", err)
		}
	}
	const set = `UPDATE inv_identities SET email = s.email, display_name = s.display_name, status = s.status,
		last_seen_at = s.last_seen_at, removed_at = NULL, updated_at = ?
		FROM inv_stage_idents s
		WHERE inv_identities.tenant_id = ? AND inv_identities.app_id = ? AND inv_identities.external_id = s.ext AND `
	// Changed current identities first: restoring makes removed ones current.
	n, err := q.exec(ctx, set+`inv_identities.removed_at IS NULL AND (inv_identities.email <> s.email
		OR inv_identities.display_name <> s.display_name OR inv_identities.status <> s.status
		OR inv_identities.last_seen_at `+distinct+` s.last_seen_at)`, q.tm(at), tenantID, appID)
	if err != nil {
		return res, fmt.Errorf("update identities: %w", q.writeErr(err))
	}
	res.Updated = int(n)
	if n, err = q.exec(ctx, set+`inv_identities.removed_at IS NOT NULL`, q.tm(at), tenantID, appID); err != nil {
		return res, fmt.Errorf("restore identities: %w", q.writeErr(err))
	}
	res.Restored = int(n)
	// In line order, so that new ids (time-ordered) follow the file.
	if n, err = q.exec(ctx, `INSERT INTO inv_identities (`+identityCols+`)
		SELECT ?, s.id, ?, s.ext, s.email, s.display_name, s.status, s.last_seen_at, NULL, ?, ? FROM inv_stage_idents s
		WHERE NOT EXISTS (SELECT 1 FROM inv_identities i WHERE i.tenant_id = ? AND i.app_id = ? AND i.external_id = s.ext)
		ORDER BY s.line`, tenantID, appID, q.tm(at), q.tm(at), tenantID, appID); err != nil {
		return res, fmt.Errorf("insert identities: %w", q.writeErr(err))
	}
	res.Created = int(n)
	res.Unchanged = int(want) - res.Created - res.Updated - res.Restored
	const gone = `tenant_id = ? AND app_id = ? AND removed_at IS NULL
		AND NOT EXISTS (SELECT 1 FROM inv_stage_idents s WHERE s.ext = inv_identities.external_id)`
	kept := `EXISTS (SELECT 1 FROM inv_stage_ikeep k WHERE k.ext = inv_identities.external_id)`
	if keepAll {
		kept = `1 = 1`
	}
	var k int64
	if err := q.queryRow(ctx, `SELECT COUNT(*) FROM inv_identities WHERE `+gone+` AND `+kept, tenantID, appID).Scan(&k); err != nil {
		return res, fmt.Errorf("count kept identities: %w", err)
	}
	res.Kept = int(k)
	if !keepAll {
		if n, err = q.exec(ctx, `UPDATE inv_identities SET removed_at = ?, updated_at = ? WHERE `+gone+` AND NOT `+kept,
			q.tm(at), q.tm(at), tenantID, appID); err != nil {
			return res, fmt.Errorf("mark identities removed: %w", q.writeErr(err))
		}
		res.Removed = int(n)
	}
	return res, nil
}
