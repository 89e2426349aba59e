package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// Relations snapshots are compared with the stored ones in the database, not
// in memory: the upload goes into a temporary staging table in batches, then
// set-based statements write only what changed. Temporary tables belong to
// the transaction's connection and go with a rollback; they are dropped
// before commit.

// stageBatch rows per INSERT into the staging table (3 values each).
const stageBatch = batchParams / 3

// sliceRelations is a RelationSource over keys that fails on the first
// row the store would reject: ReplaceRelations' contract.
type sliceRelations struct {
	keys []accessbot.RelationKey
	i    int
	keep accessbot.SnapshotKeep
}

func (s *sliceRelations) Next() (int, accessbot.RelationKey, error) {
	if s.i == len(s.keys) {
		return 0, accessbot.RelationKey{}, io.EOF
	}
	s.i++
	return s.i, s.keys[s.i-1], nil
}

func (s *sliceRelations) Reject(r store.RelationReject) error {
	k := r.Key
	switch r.Problem {
	case store.UnknownIdentity:
		return fmt.Errorf("relation %s→%s: identity %q: %w", k.IdentityExternalID, k.EntitlementExternalID, k.IdentityExternalID, accessbot.ErrNotFound)
	case store.UnknownEntitlement:
		return fmt.Errorf("relation %s→%s: entitlement %q: %w", k.IdentityExternalID, k.EntitlementExternalID, k.EntitlementExternalID, accessbot.ErrNotFound)
	default:
		return fmt.Errorf("relation %s→%s: %w: repeated", k.IdentityExternalID, k.EntitlementExternalID, accessbot.ErrInvalid)
	}
}

func (s *sliceRelations) Keep() accessbot.SnapshotKeep { return s.keep }

func (q *queries) ReplaceRelations(ctx context.Context, tenantID, appID string, keys []accessbot.RelationKey, keep accessbot.SnapshotKeep, at time.Time) (accessbot.SnapshotResult, error) {
	return q.ReplaceRelationsFrom(ctx, tenantID, appID, &sliceRelations{keys: keys, keep: keep}, at)
}

func (q *queries) ReplaceRelationsFrom(ctx context.Context, tenantID, appID string, src store.RelationSource, at time.Time) (accessbot.SnapshotResult, error) {
	var res accessbot.SnapshotResult
	at = Round(at)
	err := q.atomic(ctx, func(q *queries) error {
		if err := q.createStage(ctx); err != nil {
			return err
		}
		staged, err := q.stageRelations(ctx, src)
		if err != nil {
			return err
		}
		want, err := q.rejectStaged(ctx, tenantID, appID, staged, src)
		if err != nil {
			return err
		}
		res, err = q.applyStaged(ctx, tenantID, appID, want, src.Keep(), at)
		if err != nil {
			return err
		}
		for _, t := range stageTables {
			if _, err := q.exec(ctx, `DROP TABLE `+t); err != nil {
				return fmt.Errorf("drop %s: %w", t, err)
			}
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("replace relations of application %s: %w", appID, err)
	}
	return res, nil
}

var stageTables = []string{"inv_stage_rows", "inv_stage_want", "inv_stage_keep"}

func (q *queries) createStage(ctx context.Context) error {
	// A caller's transaction that went on after a failed replacement still has them.
	for _, t := range stageTables {
		if _, err := q.exec(ctx, `DROP TABLE IF EXISTS `+t); err != nil {
			return fmt.Errorf("drop %s: %w", t, err)
		}
	}
	for _, stmt := range []string{
		`CREATE TEMPORARY TABLE inv_stage_rows (line INTEGER NOT NULL, ident_ext TEXT NOT NULL, ent_ext TEXT NOT NULL)`,
		`CREATE TEMPORARY TABLE inv_stage_want (identity_id TEXT NOT NULL, entitlement_id TEXT NOT NULL, PRIMARY KEY (identity_id, entitlement_id))`,
		// kind: 'i' an identity, 'e' an entitlement (internal ids).
		`CREATE TEMPORARY TABLE inv_stage_keep (kind TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (kind, id))`,
	} {
		if _, err := q.exec(ctx, stmt); err != nil {
			return fmt.Errorf("create staging table: %w", err)
		}
	}
	return nil
}

// stageRelations copies src into inv_stage_rows in batches: memory holds
// one batch.
func (q *queries) stageRelations(ctx context.Context, src store.RelationSource) (staged int64, err error) {
	head := `INSERT INTO inv_stage_rows (line, ident_ext, ent_ext) VALUES `
	full, err := q.prepare(ctx, head+strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", stageBatch), ", "))
	if err != nil {
		return 0, fmt.Errorf("prepare staging insert: %w", err)
	}
	defer full.close()
	args := make([]any, 0, stageBatch*3)
	for {
		line, k, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, err
		}
		staged++
		args = append(args, line, k.IdentityExternalID, k.EntitlementExternalID)
		if len(args) == cap(args) {
			if err := full.exec(ctx, args...); err != nil {
				return 0, fmt.Errorf("stage relations: %w", err)
			}
			args = args[:0]
		}
	}
	if len(args) > 0 {
		if _, err := q.exec(ctx, head+strings.TrimSuffix(strings.Repeat("(?, ?, ?), ", len(args)/3), ", "), args...); err != nil {
			return 0, fmt.Errorf("stage relations: %w", err)
		}
	}
	// Indexed after the load (cheaper than row by row): the joins below
	// look rows up by pair whichever side the planner starts from.
	if _, err := q.exec(ctx, `CREATE INDEX inv_stage_rows_pair ON inv_stage_rows (ident_ext, ent_ext, line)`); err != nil {
		return 0, fmt.Errorf("index staging table: %w", err)
	}
	if q.d.Name == "postgres" {
		// Temporary tables get no autovacuum statistics, and identities
		// just uploaded may have none yet: without them the planner scans
		// a table per staged row.
		if _, err := q.exec(ctx, `ANALYZE inv_stage_rows, inv_identities, inv_entitlements`); err != nil {
			return 0, fmt.Errorf("analyze staging table: %w", err)
		}
	}
	return staged, nil
}

// Joins of a staged row to its current identity and entitlement; args: tenant, app, tenant, app.
const (
	joinIdent = ` JOIN inv_identities i ON i.tenant_id = ? AND i.app_id = ? AND i.external_id = s.ident_ext AND i.removed_at IS NULL`
	joinEnt   = ` JOIN inv_entitlements e ON e.tenant_id = ? AND e.app_id = ? AND e.external_id = s.ent_ext AND e.removed_at IS NULL`
)

// rejectStaged fills inv_stage_want with the good pairs by internal id and
// returns how many; when they are fewer than the staged rows, it tells src
// of the rows that name no current identity or entitlement, then of the
// rows that repeat an earlier good row.
func (q *queries) rejectStaged(ctx context.Context, tenantID, appID string, staged int64, src store.RelationSource) (int64, error) {
	want, err := q.exec(ctx, `INSERT INTO inv_stage_want (identity_id, entitlement_id)
		SELECT DISTINCT i.id, e.id FROM inv_stage_rows s`+joinIdent+joinEnt, tenantID, appID, tenantID, appID)
	if err != nil {
		return 0, fmt.Errorf("resolve staged relations: %w", err)
	}
	if want == staged { // every row good and distinct: skip two passes
		return want, nil
	}
	rows, err := q.query(ctx, `SELECT s.line, s.ident_ext, s.ent_ext, i.id IS NULL FROM inv_stage_rows s
		LEFT`+joinIdent+` LEFT`+joinEnt+` WHERE i.id IS NULL OR e.id IS NULL ORDER BY s.line`, tenantID, appID, tenantID, appID)
	if err := eachReject(rows, err, func(r store.RelationReject, noIdent bool) store.RelationReject {
		r.Problem = store.UnknownEntitlement
		if noIdent {
			r.Problem = store.UnknownIdentity
		}
		return r
	}, src); err != nil {
		return 0, fmt.Errorf("check staged relations: %w", err)
	}
	// Repeats come from the pair index alone; only repeated pairs are
	// joined to check that both ends exist (unknown pairs were told above).
	rows, err = q.query(ctx, `SELECT s.line, s.ident_ext, s.ent_ext, d.first
		FROM (SELECT ident_ext, ent_ext, MIN(line) AS first FROM inv_stage_rows GROUP BY ident_ext, ent_ext HAVING COUNT(*) > 1) d
		JOIN inv_identities i ON i.tenant_id = ? AND i.app_id = ? AND i.external_id = d.ident_ext AND i.removed_at IS NULL
		JOIN inv_entitlements e ON e.tenant_id = ? AND e.app_id = ? AND e.external_id = d.ent_ext AND e.removed_at IS NULL
		JOIN inv_stage_rows s ON s.ident_ext = d.ident_ext AND s.ent_ext = d.ent_ext AND s.line > d.first
		ORDER BY s.line`, tenantID, appID, tenantID, appID)
	if err := eachReject(rows, err, func(r store.RelationReject, first int) store.RelationReject {
		r.Problem, r.FirstLine = store.RepeatedRelation, first
		return r
	}, src); err != nil {
		return 0, fmt.Errorf("check repeated relations: %w", err)
	}
	return want, nil
}

// eachReject scans (line, ident, ent, extra) rows into rejects for src.
func eachReject[X any](rows interface {
	Next() bool
	Scan(...any) error
	Close() error
	Err() error
}, err error, fill func(store.RelationReject, X) store.RelationReject, src store.RelationSource) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r store.RelationReject
		var x X
		if err := rows.Scan(&r.Line, &r.Key.IdentityExternalID, &r.Key.EntitlementExternalID, &x); err != nil {
			return err
		}
		if err := src.Reject(fill(r, x)); err != nil {
			return err
		}
	}
	return rows.Err()
}

// applyStaged makes inv_stage_want the application's current relations,
// keeping what keep names, and writes only the rows that change.
func (q *queries) applyStaged(ctx context.Context, tenantID, appID string, want int64, keep accessbot.SnapshotKeep, at time.Time) (accessbot.SnapshotResult, error) {
	var res accessbot.SnapshotResult
	// Kept relations are named by an end's external id; an end that is not
	// current keeps nothing by name.
	for _, k := range []struct {
		kind, table string
		ext         []string
	}{
		{"i", "inv_identities", keep.Identities}, {"e", "inv_entitlements", keep.Entitlements},
	} {
		_, err := q.execIn(ctx, `INSERT INTO inv_stage_keep (kind, id) SELECT DISTINCT '`+k.kind+`', id FROM `+k.table+`
			WHERE tenant_id = ? AND app_id = ? AND removed_at IS NULL AND external_id IN (%s)`, []any{tenantID, appID}, k.ext)
		if err != nil {
			return res, fmt.Errorf("stage kept rows: %w", err)
		}
	}
	const inWant = `EXISTS (SELECT 1 FROM inv_stage_want w WHERE w.identity_id = inv_relations.identity_id AND w.entitlement_id = inv_relations.entitlement_id)`
	kept := `(EXISTS (SELECT 1 FROM inv_stage_keep k WHERE k.kind = 'i' AND k.id = inv_relations.identity_id)
		OR EXISTS (SELECT 1 FROM inv_stage_keep k WHERE k.kind = 'e' AND k.id = inv_relations.entitlement_id))`
	switch {
	case keep.All:
		kept = `1 = 1`
	case keep.Empty():
		kept = `1 = 0`
	}
	var n int64
	var err error
	if n, err = q.exec(ctx, `UPDATE inv_relations SET removed_at = NULL
		WHERE tenant_id = ? AND app_id = ? AND removed_at IS NOT NULL AND `+inWant, tenantID, appID); err != nil {
		return res, fmt.Errorf("restore relations: %w", q.writeErr(err))
	}
	res.Restored = int(n)
	if n, err = q.exec(ctx, `INSERT INTO inv_relations (tenant_id, app_id, identity_id, entitlement_id, removed_at, created_at)
		SELECT ?, ?, w.identity_id, w.entitlement_id, NULL, ? FROM inv_stage_want w
		WHERE NOT EXISTS (SELECT 1 FROM inv_relations r WHERE r.tenant_id = ? AND r.identity_id = w.identity_id AND r.entitlement_id = w.entitlement_id)`,
		tenantID, appID, q.tm(at), tenantID); err != nil {
		return res, fmt.Errorf("insert relations: %w", q.writeErr(err))
	}
	res.Created = int(n)
	res.Unchanged = int(want) - res.Created - res.Restored
	var k int64
	if !keep.Empty() { // else nothing is kept: skip a pass over the application's relations
		if err = q.queryRow(ctx, `SELECT COUNT(*) FROM inv_relations WHERE tenant_id = ? AND app_id = ? AND removed_at IS NULL
			AND NOT `+inWant+` AND `+kept, tenantID, appID).Scan(&k); err != nil {
			return res, fmt.Errorf("count kept relations: %w", err)
		}
	}
	res.Kept = int(k)
	if !keep.All {
		if n, err = q.exec(ctx, `UPDATE inv_relations SET removed_at = ? WHERE tenant_id = ? AND app_id = ? AND removed_at IS NULL
			AND NOT `+inWant+` AND NOT `+kept, q.tm(at), tenantID, appID); err != nil {
			return res, fmt.Errorf("mark relations removed: %w", q.writeErr(err))
		}
		res.Removed = int(n)
	}
	return res, nil
}
