package conformance

import (
	"database/sql"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// rowWrites counts the row writes (insert, update, delete) a table sees
// for one tenant, through triggers the test adds and drops: the proof that
// a re-upload writes only the rows that change (issue 18), whatever the
// store does inside.
type rowWrites struct {
	db     *sql.DB
	log    string
	tenant string
}

func countRowWrites(t *testing.T, db *sql.DB, table, tenantID string) *rowWrites {
	t.Helper()
	w := &rowWrites{db: db, log: "wlog_" + randHex(4), tenant: tenantID}
	var stmts, drop []string
	if isSQLite(db) {
		stmts = []string{fmt.Sprintf(`CREATE TABLE %s (tenant_id TEXT, op TEXT)`, w.log)}
		for _, ev := range []struct{ name, row string }{{"INSERT", "NEW"}, {"UPDATE", "NEW"}, {"DELETE", "OLD"}} {
			stmts = append(stmts, fmt.Sprintf(`CREATE TRIGGER %[1]s_%[2]s AFTER %[2]s ON %[3]s
				BEGIN INSERT INTO %[1]s VALUES (%[4]s.tenant_id, '%[2]s'); END`, w.log, ev.name, table, ev.row))
			drop = append(drop, fmt.Sprintf(`DROP TRIGGER IF EXISTS %s_%s`, w.log, ev.name))
		}
	} else {
		stmts = []string{
			fmt.Sprintf(`CREATE TABLE %s (tenant_id TEXT, op TEXT)`, w.log),
			fmt.Sprintf(`CREATE FUNCTION %[1]s() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN
					IF TG_OP = 'DELETE' THEN INSERT INTO %[1]s VALUES (OLD.tenant_id, TG_OP);
					ELSE INSERT INTO %[1]s VALUES (NEW.tenant_id, TG_OP); END IF;
					RETURN NULL;
				END $$`, w.log),
			fmt.Sprintf(`CREATE TRIGGER %[1]s AFTER INSERT OR UPDATE OR DELETE ON %[2]s
				FOR EACH ROW EXECUTE FUNCTION %[1]s()`, w.log, table),
		}
		drop = []string{fmt.Sprintf(`DROP TRIGGER IF EXISTS %s ON %s`, w.log, table), fmt.Sprintf(`DROP FUNCTION IF EXISTS %s()`, w.log)}
	}
	drop = append(drop, `DROP TABLE IF EXISTS `+w.log)
	t.Cleanup(func() {
		for _, q := range drop {
			if _, err := db.ExecContext(ctx(), q); err != nil {
				t.Errorf("drop write counter: %v", err)
			}
		}
	})
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx(), q); err != nil {
			t.Fatalf("add write counter on %s: %v", table, err)
		}
	}
	return w
}

// take returns the writes counted by operation since the last take.
func (w *rowWrites) take(t *testing.T) map[string]int {
	t.Helper()
	rows, err := w.db.QueryContext(ctx(), `SELECT op, count(*) FROM `+w.log+` WHERE tenant_id = $1 GROUP BY op`, w.tenant)
	ok(t, err, "read write counter")
	defer rows.Close()
	got := map[string]int{}
	for rows.Next() {
		var op string
		var n int
		ok(t, rows.Scan(&op, &n), "scan write counter")
		got[op] = n
	}
	ok(t, rows.Err(), "read write counter")
	_, err = w.db.ExecContext(ctx(), `DELETE FROM `+w.log)
	ok(t, err, "reset write counter")
	return got
}

func isSQLite(db *sql.DB) bool {
	return db.QueryRowContext(ctx(), `SELECT count(*) FROM sqlite_master`).Scan(new(int)) == nil
}

// testInventoryWritesOnlyChanges: re-uploading a snapshot writes only the
// rows that change: nothing when nothing changed (not even a seen-at), one
// insert per new relation, one update per removed or restored one.
func testInventoryWritesOnlyChanges(t *testing.T, s store.Store) {
	d, isSQL := s.(dber)
	if !isSQL {
		t.Skip("not an SQL store")
	}
	w := newInvWorld(t, s)
	tid, aid := w.tenant.ID, w.app.ID
	t0 := fixedTime()
	var idents []accessbot.Identity
	var keys []accessbot.RelationKey
	for i := range 100 {
		ext := fmt.Sprintf("u%02d", i)
		idents = append(idents, identity(ext, ext+"@example.com", ""))
		keys = append(keys, accessbot.RelationKey{IdentityExternalID: ext, EntitlementExternalID: "e0"},
			accessbot.RelationKey{IdentityExternalID: ext, EntitlementExternalID: "e1"})
	}
	_, err := s.ReplaceIdentities(ctx(), tid, aid, idents, accessbot.SnapshotKeep{}, t0)
	ok(t, err, "identities")
	_, err = s.ReplaceAppEntitlements(ctx(), tid, aid, []accessbot.AppEntitlement{{ExternalID: "e0"}, {ExternalID: "e1"}, {ExternalID: "e2"}}, accessbot.SnapshotKeep{}, t0)
	ok(t, err, "entitlements")
	_, err = s.ReplaceRelationsFrom(ctx(), tid, aid, &changeSource{keys: keys}, t0)
	ok(t, err, "first relations upload")

	rels := countRowWrites(t, d.DB(), "inv_relations", tid)
	ids := countRowWrites(t, d.DB(), "inv_identities", tid)
	// 1% of the 200: u00 loses e1 and gains e2.
	changed := append([]accessbot.RelationKey{{IdentityExternalID: "u00", EntitlementExternalID: "e2"}}, keys[2:]...)
	changed = append(changed, keys[0])
	for _, step := range []struct {
		name string
		keys []accessbot.RelationKey
		want map[string]int
	}{
		{"unchanged", keys, map[string]int{}},
		{"1% changed", changed, map[string]int{"INSERT": 1, "UPDATE": 1}},
		{"the changed one again", changed, map[string]int{}},
		{"back to the first (one restored, one removed)", keys, map[string]int{"UPDATE": 2}},
	} {
		_, err := s.ReplaceRelationsFrom(ctx(), tid, aid, &changeSource{keys: step.keys}, t0.Add(time.Hour))
		ok(t, err, step.name)
		if got := rels.take(t); !maps.Equal(got, step.want) {
			t.Fatalf("%s: relation rows written %v, want %v", step.name, got, step.want)
		}
	}
	_, err = s.ReplaceIdentities(ctx(), tid, aid, idents, accessbot.SnapshotKeep{}, t0.Add(2*time.Hour))
	ok(t, err, "identities again")
	if got := ids.take(t); len(got) != 0 {
		t.Fatalf("unchanged identities re-upload wrote identity rows %v, want none", got)
	}
}
