package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
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
		restore, err := q.growTempCache(ctx)
		if err != nil {
			return err
		}
		defer restore()
		if err := q.createStage(ctx); err != nil {
			return err
		}
		staged, err := q.stageRelations(ctx, src)
		if err != nil {
			return err
		}
		stored, err := q.hasRelations(ctx, tenantID, appID)
		if err != nil {
			return err
		}
		var ch *changes
		if sink, ok := src.(store.RelationChanges); ok {
			// A first upload changes every identity it names: all, without
			// a pass to list them.
			ch = &changes{all: !stored, ids: map[string]struct{}{}}
			defer func() { sink.Changed(ch.list()) }()
		}
		// The good distinct pairs: on PostgreSQL, written straight into
		// inv_relations when the application has none yet; else into
		// inv_stage_want, to be compared with the stored ones. (SQLite
		// inserts faster from inv_stage_want, in key order.)
		direct := !stored && q.d.Name == "postgres"
		var good int64
		if direct {
			good, err = q.insertDirect(ctx, tenantID, appID, at)
		} else {
			good, err = q.resolveStaged(ctx, tenantID, appID, stored)
		}
		if err != nil {
			return err
		}
		if good != staged { // else every row is good and distinct: no rejects to look for
			if err := q.rejectStaged(ctx, tenantID, appID, src); err != nil {
				return err
			}
		}
		switch {
		case stored:
			res, err = q.applyStaged(ctx, tenantID, appID, good, src.Keep(), at, ch)
		case direct:
			res = accessbot.SnapshotResult{Created: int(good)}
		default:
			res, err = q.insertStaged(ctx, tenantID, appID, good, at)
		}
		if err != nil {
			return err
		}
		for _, t := range stageTables {
			if _, err := q.exec(ctx, `DROP TABLE IF EXISTS `+t); err != nil {
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

// stageCacheKiB is SQLite's page cache for temporary tables while a
// replacement runs (the default is 2 MiB). The staging tables of a
// million relations take over 100 MiB; with a cache no larger than the
// main database's, the anti-joins of applyStaged read the pages of
// inv_relations' key from the file again and again (SQLite shares one
// page cache among all its databases: 670,000 reads for 1,000,000
// probes instead of 60,000, and three times the CPU).
const stageCacheKiB = 32 << 10

// growTempCache sets SQLite's temporary page cache to stageCacheKiB and
// returns what sets it back, which frees it.
func (q *queries) growTempCache(ctx context.Context) (func(), error) {
	if q.d.Name == "postgres" {
		return func() {}, nil
	}
	var was int64
	if err := q.queryRow(ctx, `PRAGMA temp.cache_size`).Scan(&was); err != nil {
		return nil, fmt.Errorf("read temporary cache size: %w", err)
	}
	if _, err := q.exec(ctx, fmt.Sprintf(`PRAGMA temp.cache_size = %d`, -stageCacheKiB)); err != nil {
		return nil, fmt.Errorf("set temporary cache size: %w", err)
	}
	return func() { _, _ = q.exec(ctx, fmt.Sprintf(`PRAGMA temp.cache_size = %d`, was)) }, nil
}

// stageTables are the staging tables; inv_stage_diff is PostgreSQL's and
// only when the application has relations stored, inv_stage_imap and
// inv_stage_emap SQLite's.
var stageTables = []string{"inv_stage_rows", "inv_stage_want", "inv_stage_keep", "inv_stage_diff", "inv_stage_imap", "inv_stage_emap"}

func (q *queries) createStage(ctx context.Context) error {
	// A caller's transaction that went on after a failed replacement still has them.
	for _, t := range stageTables {
		if _, err := q.exec(ctx, `DROP TABLE IF EXISTS `+t); err != nil {
			return fmt.Errorf("drop %s: %w", t, err)
		}
	}
	// The wanted pairs: on SQLite a b-tree in inv_relations' key order,
	// for the anti-joins of applyStaged (probes in key order read each
	// page of inv_relations' key once); on PostgreSQL a heap, compared
	// with the stored rows by hashing (resolveStaged): a key kept row by
	// row cost most of the resolve (a temporary index of a million rows
	// in 8 MB of temp_buffers).
	want := `CREATE TEMPORARY TABLE inv_stage_want (identity_id TEXT NOT NULL, entitlement_id TEXT NOT NULL, PRIMARY KEY (identity_id, entitlement_id)) WITHOUT ROWID`
	stmts := []string{
		// SQLite: the application's current identities and entitlements
		// by external id, one b-tree lookup per staged row each.
		`CREATE TEMPORARY TABLE inv_stage_imap (ext TEXT PRIMARY KEY, id TEXT NOT NULL) WITHOUT ROWID`,
		`CREATE TEMPORARY TABLE inv_stage_emap (ext TEXT PRIMARY KEY, id TEXT NOT NULL) WITHOUT ROWID`,
	}
	if q.d.Name == "postgres" {
		stmts = nil
		want = `CREATE TEMPORARY TABLE inv_stage_want (identity_id TEXT NOT NULL, entitlement_id TEXT NOT NULL)`
		// Hash joins and the DISTINCT of a million pairs spill to disk
		// at the default 4 MB; for this transaction only.
		if _, err := q.exec(ctx, `SET LOCAL work_mem = '64MB'`); err != nil {
			return fmt.Errorf("set work_mem: %w", err)
		}
	}
	for _, stmt := range append(stmts,
		`CREATE TEMPORARY TABLE inv_stage_rows (line INTEGER NOT NULL, ident_ext TEXT NOT NULL, ent_ext TEXT NOT NULL)`,
		want,
		// kind: 'i' an identity, 'e' an entitlement (internal ids).
		`CREATE TEMPORARY TABLE inv_stage_keep (kind TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (kind, id))`,
	) {
		if _, err := q.exec(ctx, stmt); err != nil {
			return fmt.Errorf("create staging table: %w", err)
		}
	}
	return nil
}

// stageRelations copies src into inv_stage_rows in batches: memory holds
// one batch.
func (q *queries) stageRelations(ctx context.Context, src store.RelationSource) (int64, error) {
	row := make([]any, 3)
	staged, err := q.stageRows(ctx, "relations", "inv_stage_rows", []string{"line", "ident_ext", "ent_ext"}, func() ([]any, error) {
		line, k, err := src.Next()
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		row[0], row[1], row[2] = int64(line), k.IdentityExternalID, k.EntitlementExternalID
		return row, nil
	})
	if err != nil {
		return 0, err
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

// stageRows loads a staging table in batches, so that memory holds one
// batch: the dialect's bulk copy (PostgreSQL COPY) when it has one, else
// multi-row INSERTs of a prepared statement. next returns a row's values
// (the slice may be reused), nil after the last; its error (a broken file,
// a bad row) ends the load and is returned as it is. what names the rows
// in errors.
func (q *queries) stageRows(ctx context.Context, what, table string, cols []string, next func() ([]any, error)) (int64, error) {
	if q.d.CopyRows != nil && q.conn != nil {
		var srcErr error
		n, err := q.d.CopyRows(ctx, q.conn, table, cols, func() ([]any, error) {
			r, err := next()
			srcErr = err
			return r, err
		})
		if srcErr != nil {
			return 0, srcErr
		}
		if err != nil {
			return 0, fmt.Errorf("stage %s: %w", what, err)
		}
		return n, nil
	}
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	insert := func(rows int) string {
		return `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES ` + strings.TrimSuffix(strings.Repeat(one+", ", rows), ", ")
	}
	per := batchParams / len(cols)
	full, err := q.prepare(ctx, insert(per))
	if err != nil {
		return 0, fmt.Errorf("prepare %s staging insert: %w", what, err)
	}
	defer full.close()
	args := make([]any, 0, per*len(cols))
	var n int64
	for {
		r, err := next()
		if err != nil {
			return 0, err
		}
		if r == nil {
			break
		}
		n++
		args = append(args, r...)
		if len(args) == cap(args) {
			if err := full.exec(ctx, args...); err != nil {
				return 0, fmt.Errorf("stage %s: %w", what, err)
			}
			args = args[:0]
		}
	}
	if len(args) > 0 {
		if _, err := q.exec(ctx, insert(len(args)/len(cols)), args...); err != nil {
			return 0, fmt.Errorf("stage %s: %w", what, err)
		}
	}
	return n, nil
}

// Joins of a staged row to its current identity and entitlement; args: tenant, app, tenant, app.
const (
	joinIdent = ` JOIN inv_identities i ON i.tenant_id = ? AND i.app_id = ? AND i.external_id = s.ident_ext AND i.removed_at IS NULL`
	joinEnt   = ` JOIN inv_entitlements e ON e.tenant_id = ? AND e.app_id = ? AND e.external_id = s.ent_ext AND e.removed_at IS NULL`
)

// resolveStaged fills inv_stage_want with the good distinct pairs by
// internal id and returns how many.
func (q *queries) resolveStaged(ctx context.Context, tenantID, appID string, stored bool) (int64, error) {
	if q.d.Name != "postgres" {
		return q.resolveStagedSQLite(ctx, tenantID, appID)
	}
	want, err := q.exec(ctx, `INSERT INTO inv_stage_want (identity_id, entitlement_id)
		SELECT DISTINCT i.id, e.id FROM inv_stage_rows s`+joinIdent+joinEnt, tenantID, appID, tenantID, appID)
	if err != nil {
		return 0, fmt.Errorf("resolve staged relations: %w", err)
	}
	if stored {
		// The stored rows that differ, in one hash (or merge) full join:
		// a full join cannot be a nested loop, whatever the statistics
		// on inv_relations, and an unchanged upload leaves this empty,
		// so the writes below touch only what changes.
		if _, err := q.exec(ctx, `CREATE TEMPORARY TABLE inv_stage_diff AS
			SELECT COALESCE(w.identity_id, r.identity_id) AS identity_id, COALESCE(w.entitlement_id, r.entitlement_id) AS entitlement_id,
				CASE WHEN r.identity_id IS NULL THEN 'n' WHEN w.identity_id IS NULL THEN 'g' ELSE 'r' END AS kind
			FROM inv_stage_want w
			FULL JOIN (SELECT identity_id, entitlement_id, removed_at FROM inv_relations WHERE tenant_id = ? AND app_id = ?) r
				ON r.identity_id = w.identity_id AND r.entitlement_id = w.entitlement_id
			WHERE r.identity_id IS NULL OR (w.identity_id IS NULL AND r.removed_at IS NULL) OR (w.identity_id IS NOT NULL AND r.removed_at IS NOT NULL)`,
			tenantID, appID); err != nil {
			return 0, fmt.Errorf("compare staged relations: %w", err)
		}
		// Indexed (it is small: what changes), so that the writes that
		// read it stay linear whichever side the planner starts from,
		// even when it takes inv_relations for tiny (no statistics yet):
		// unindexed, a 1% change on 1M rows ran for minutes in a nested
		// loop.
		if _, err := q.exec(ctx, `CREATE INDEX inv_stage_diff_pair ON inv_stage_diff (identity_id, entitlement_id)`); err != nil {
			return 0, fmt.Errorf("index staging table: %w", err)
		}
		if _, err := q.exec(ctx, `ANALYZE inv_stage_diff`); err != nil {
			return 0, fmt.Errorf("analyze staging table: %w", err)
		}
	}
	return want, nil
}

// resolveStagedSQLite is resolveStaged on SQLite, which has no hash
// joins: the staged rows are read in file order, each end looked up in a
// small map of the application's current ones, and the pairs written in
// key order (sorted first), so that inv_stage_want grows at its end and
// repeats are dropped by its key. Joined to inv_identities row by row
// instead, the resolve took twice as long: two lookups per end, and pairs
// written all over the table.
func (q *queries) resolveStagedSQLite(ctx context.Context, tenantID, appID string) (int64, error) {
	for _, m := range []struct{ table, from string }{{"inv_stage_imap", "inv_identities"}, {"inv_stage_emap", "inv_entitlements"}} {
		if _, err := q.exec(ctx, `INSERT INTO `+m.table+` (ext, id) SELECT external_id, id FROM `+m.from+`
			WHERE tenant_id = ? AND app_id = ? AND removed_at IS NULL ORDER BY external_id`, tenantID, appID); err != nil {
			return 0, fmt.Errorf("stage current ids: %w", err)
		}
	}
	want, err := q.exec(ctx, `INSERT OR IGNORE INTO inv_stage_want (identity_id, entitlement_id)
		SELECT i.id, e.id FROM inv_stage_rows s JOIN inv_stage_imap i ON i.ext = s.ident_ext JOIN inv_stage_emap e ON e.ext = s.ent_ext
		ORDER BY 1, 2`)
	if err != nil {
		return 0, fmt.Errorf("resolve staged relations: %w", err)
	}
	return want, nil
}

func (q *queries) indexStage(ctx context.Context) error {
	if _, err := q.exec(ctx, `CREATE INDEX inv_stage_rows_pair ON inv_stage_rows (ident_ext, ent_ext, line)`); err != nil {
		return fmt.Errorf("index staging table: %w", err)
	}
	return nil
}

// rejectStaged tells src of the staged rows that name no current identity
// or entitlement, then of the rows that repeat an earlier good row. Only
// an upload with such rows pays for it.
func (q *queries) rejectStaged(ctx context.Context, tenantID, appID string, src store.RelationSource) error {
	// The joins below look rows up by pair whichever side the planner
	// starts from; a clean upload needs no index, so it is made here.
	if err := q.indexStage(ctx); err != nil {
		return err
	}
	if q.d.Name == "postgres" {
		if _, err := q.exec(ctx, `ANALYZE inv_stage_rows`); err != nil {
			return fmt.Errorf("analyze staging table: %w", err)
		}
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
		return fmt.Errorf("check staged relations: %w", err)
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
		return fmt.Errorf("check repeated relations: %w", err)
	}
	return nil
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
func (q *queries) applyStaged(ctx context.Context, tenantID, appID string, want int64, keep accessbot.SnapshotKeep, at time.Time, ch *changes) (accessbot.SnapshotResult, error) {
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
	// Which stored rows to restore and which are gone, and the new pairs:
	// anti-joins with inv_stage_want on SQLite, inv_stage_diff's rows on
	// PostgreSQL (resolveStaged).
	const inWant = `EXISTS (SELECT 1 FROM inv_stage_want w WHERE w.identity_id = inv_relations.identity_id AND w.entitlement_id = inv_relations.entitlement_id)`
	restore, gone := `AND `+inWant, `AND NOT `+inWant
	newPairs, newArgs := `FROM inv_stage_want w
		WHERE NOT EXISTS (SELECT 1 FROM inv_relations r WHERE r.tenant_id = ? AND r.identity_id = w.identity_id AND r.entitlement_id = w.entitlement_id)`, []any{tenantID}
	if q.d.Name == "postgres" {
		const diff = `AND (identity_id, entitlement_id) IN (SELECT identity_id, entitlement_id FROM inv_stage_diff WHERE kind = '%s')`
		restore, gone = fmt.Sprintf(diff, "r"), fmt.Sprintf(diff, "g")
		newPairs, newArgs = `FROM inv_stage_diff w WHERE w.kind = 'n'`, nil
	}
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
	// SQLite: a pass over the application's stored rows counts them, so
	// that the passes that restore and remove run only when they have
	// something to do (PostgreSQL knows from inv_stage_diff).
	current, removed := int64(-1), int64(-1)
	if q.d.Name != "postgres" {
		if err := q.queryRow(ctx, `SELECT COUNT(*), COUNT(removed_at) FROM inv_relations WHERE tenant_id = ? AND app_id = ?`, tenantID, appID).Scan(&current, &removed); err != nil {
			return res, fmt.Errorf("count stored relations: %w", err)
		}
		current -= removed
	}
	if removed != 0 {
		if n, err = ch.exec(ctx, q, `UPDATE inv_relations SET removed_at = NULL
			WHERE tenant_id = ? AND app_id = ? AND removed_at IS NOT NULL `+restore, tenantID, appID); err != nil {
			return res, fmt.Errorf("restore relations: %w", q.writeErr(err))
		}
		res.Restored = int(n)
	}
	if n, err = ch.exec(ctx, q, `INSERT INTO inv_relations (tenant_id, app_id, identity_id, entitlement_id, removed_at, created_at)
		SELECT ?, ?, w.identity_id, w.entitlement_id, NULL, ? `+newPairs,
		append([]any{tenantID, appID, q.tm(at)}, newArgs...)...); err != nil {
		return res, fmt.Errorf("insert relations: %w", q.writeErr(err))
	}
	res.Created = int(n)
	res.Unchanged = int(want) - res.Created - res.Restored
	if current >= 0 && current == int64(res.Unchanged) {
		// Every current row is wanted (each unchanged pair is one of
		// them): nothing to keep or remove.
		return res, nil
	}
	var k int64
	if !keep.Empty() { // else nothing is kept: skip a pass over the application's relations
		if err = q.queryRow(ctx, `SELECT COUNT(*) FROM inv_relations WHERE tenant_id = ? AND app_id = ? AND removed_at IS NULL
			`+gone+` AND `+kept, tenantID, appID).Scan(&k); err != nil {
			return res, fmt.Errorf("count kept relations: %w", err)
		}
	}
	res.Kept = int(k)
	if !keep.All {
		if n, err = ch.exec(ctx, q, `UPDATE inv_relations SET removed_at = ? WHERE tenant_id = ? AND app_id = ? AND removed_at IS NULL
			`+gone+` AND NOT `+kept, q.tm(at), tenantID, appID); err != nil {
			return res, fmt.Errorf("mark relations removed: %w", q.writeErr(err))
		}
		res.Removed = int(n)
	}
	return res, nil
}

// maxListedChanges is the most changed identities listed to a
// RelationChanges; past it, all of them are taken as changed.
const maxListedChanges = 50000

// changes collects the identities whose relations a replacement writes.
// A nil *changes collects nothing.
type changes struct {
	all bool
	ids map[string]struct{}
}

// hasRelations reports whether the application has any relation stored,
// current or removed.
func (q *queries) hasRelations(ctx context.Context, tenantID, appID string) (bool, error) {
	var n int
	err := q.queryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM inv_relations WHERE tenant_id = ? AND app_id = ? LIMIT 1) x`, tenantID, appID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look for stored relations: %w", err)
	}
	return n > 0, nil
}

// insertDirect is applyStaged for an application with no relation stored,
// on PostgreSQL: every good pair is new, and there is nothing to restore,
// keep or remove. The pairs go from the staged rows straight into inv_relations, with no
// want table in between; a repeated pair is written once (DISTINCT:
// identities belong to one application, so no stored row can conflict).
// ON CONFLICT DO NOTHING did the same row by row, a speculative insertion
// each: 1.3-1.4x the insert's time at 1,000,000 rows.
func (q *queries) insertDirect(ctx context.Context, tenantID, appID string, at time.Time) (int64, error) {
	n, err := q.exec(ctx, `INSERT INTO inv_relations (tenant_id, app_id, identity_id, entitlement_id, removed_at, created_at)
		SELECT DISTINCT ?, ?, i.id, e.id, NULL::timestamptz, ?::timestamptz FROM inv_stage_rows s`+joinIdent+joinEnt,
		tenantID, appID, q.tm(at), tenantID, appID, tenantID, appID)
	if err != nil {
		return 0, fmt.Errorf("insert relations: %w", q.writeErr(err))
	}
	return n, nil
}

// insertStaged is applyStaged for an application with no relation stored,
// on SQLite: every wanted pair is new, and there is nothing to restore,
// keep or remove.
func (q *queries) insertStaged(ctx context.Context, tenantID, appID string, want int64, at time.Time) (accessbot.SnapshotResult, error) {
	rebuild, err := q.dropEntitlementIndex(ctx, want)
	if err != nil {
		return accessbot.SnapshotResult{}, err
	}
	n, err := q.exec(ctx, `INSERT INTO inv_relations (tenant_id, app_id, identity_id, entitlement_id, removed_at, created_at)
		SELECT ?, ?, w.identity_id, w.entitlement_id, NULL, ? FROM inv_stage_want w`, tenantID, appID, q.tm(at))
	if err != nil {
		return accessbot.SnapshotResult{}, fmt.Errorf("insert relations: %w", q.writeErr(err))
	}
	if n != want {
		return accessbot.SnapshotResult{}, fmt.Errorf("insert relations: %d of %d written", n, want)
	}
	if rebuild != "" {
		if _, err := q.exec(ctx, rebuild); err != nil {
			return accessbot.SnapshotResult{}, fmt.Errorf("rebuild relations index: %w", err)
		}
	}
	return accessbot.SnapshotResult{Created: int(n)}, nil
}

// minIndexRebuild is the fewest new relations for which insertStaged
// rebuilds inv_relations_entitlement instead of keeping it up to date.
const minIndexRebuild = 10000

// dropEntitlementIndex drops inv_relations_entitlement when n new
// relations are at least as many as the table holds (a first large
// upload), and returns the statement that creates it again, as the
// migrations wrote it; "" when it is kept. Rows arrive in identity order,
// so each one lands at a random place of that index: keeping it up to date
// took two thirds of the insert (1,000,000 relations: 15 of 23 s of CPU),
// building it after the insert, from sorted keys, a few seconds. Inside
// the transaction, the drop is undone with everything else on failure.
func (q *queries) dropEntitlementIndex(ctx context.Context, n int64) (string, error) {
	if n < minIndexRebuild {
		return "", nil
	}
	var stored sql.NullInt64 // the largest rowid: a count without a scan
	if err := q.queryRow(ctx, `SELECT MAX(rowid) FROM inv_relations`).Scan(&stored); err != nil {
		return "", fmt.Errorf("count stored relations: %w", err)
	}
	if stored.Int64 > n {
		return "", nil
	}
	var create string
	err := q.queryRow(ctx, `SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'inv_relations_entitlement'`).Scan(&create)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read relations index: %w", err)
	}
	if _, err := q.exec(ctx, `DROP INDEX inv_relations_entitlement`); err != nil {
		return "", fmt.Errorf("drop relations index: %w", err)
	}
	return create, nil
}

// exec runs a write of inv_relations; while listing, the write returns
// the identity of each row it writes.
func (ch *changes) exec(ctx context.Context, q *queries, query string, args ...any) (int64, error) {
	if ch == nil || ch.all {
		return q.exec(ctx, query, args...)
	}
	rows, err := q.query(ctx, query+` RETURNING identity_id`, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	var id string
	for rows.Next() {
		if err := rows.Scan(&id); err != nil {
			return n, err
		}
		n++
		if !ch.all {
			ch.ids[id] = struct{}{}
			if len(ch.ids) > maxListedChanges {
				ch.all, ch.ids = true, nil
			}
		}
	}
	return n, rows.Err()
}

func (ch *changes) list() ([]string, bool) {
	if ch.all {
		return nil, true
	}
	out := make([]string, 0, len(ch.ids))
	for id := range ch.ids {
		out = append(out, id)
	}
	slices.Sort(out)
	return out, false
}
