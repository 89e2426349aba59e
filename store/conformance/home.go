package conformance

import (
	"database/sql"
	"errors"
	"sort"
	"testing"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// homeHidden are the tables with a tenant_id that no Home tab section
// reads, so their writes leave the Home version alone. Every other such
// table must carry the home_v trigger(s) (migration 00285): a new table
// fails testHomeVersion until it is put in one list or the other.
var homeHidden = map[string]string{
	"home_versions":    "the counter itself",
	"audit_log":        "audit trail; written by every action",
	"message_refs":     "where messages were posted",
	"deliveries":       "delivery outbox",
	"review_progress":  "where the updates of reviewers' DMs stand",
	"schedule_slots":   "scheduler slot claims; written every tick",
	"slack_ids":        "identity resolution's Slack id cache",
	"step_ups":         "step-up links",
	"secrets":          "encrypted secrets",
	"findings":         "inventory findings (digest, not Home)",
	"findings_tokens":  "digest button tokens",
	"inv_entitlements": "inventory", "inv_identities": "inventory", "inv_mappings": "inventory", "inv_relations": "inventory",
}

// dber is what the SQL stores offer tests.
type dber interface{ DB() *sql.DB }

func testHomeVersion(t *testing.T, s store.Store) {
	t.Run("EveryTableClassified", func(t *testing.T) {
		d, isSQL := s.(dber)
		if !isSQL {
			t.Skip("not an SQL store")
		}
		db := d.DB()
		missing := homeUntracked(t, db)
		if len(missing) > 0 {
			t.Fatalf("tables with tenant_id neither Home-hidden nor carrying the home_v trigger: %v", missing)
		}
	})
	t.Run("WritesMoveIt", func(t *testing.T) {
		ten := newTenant(t, s)
		other := newTenant(t, s)
		v0 := homeVersion(t, s, ten.ID)
		if v0 == 0 {
			t.Fatalf("creating the tenant left its Home version at 0")
		}
		o0 := homeVersion(t, s, other.ID)
		u := newUser(t, s, ten.ID, "hv-"+randHex(3)+"@example.com")
		v1 := homeVersion(t, s, ten.ID)
		if v1 <= v0 {
			t.Fatalf("CreateUser: version %d -> %d, want it to move", v0, v1)
		}
		if o := homeVersion(t, s, other.ID); o != o0 {
			t.Fatalf("a write in one tenant moved another's version: %d -> %d", o0, o)
		}
		u.Name = "Renamed"
		ok(t, s.UpdateUser(ctx(), u), "update user")
		v2 := homeVersion(t, s, ten.ID)
		if v2 <= v1 {
			t.Fatalf("UpdateUser: version %d -> %d, want it to move", v1, v2)
		}
		ok(t, s.AppendAudit(ctx(), &accessbot.AuditEntry{TenantID: ten.ID, ActorID: "system", Action: "x", ObjectID: "y"}), "append audit")
		if v := homeVersion(t, s, ten.ID); v != v2 {
			t.Fatalf("an audit entry (Home-hidden) moved the version: %d -> %d", v2, v)
		}
		// A rolled-back write leaves it where it was; a committed one in a
		// transaction moves it.
		boom := errors.New("boom")
		err := s.InTx(ctx(), func(q store.Queries) error {
			newUser(t, q, ten.ID, "hv-rb-"+randHex(3)+"@example.com")
			return boom
		})
		isErr(t, err, boom, "rolled back tx")
		if v := homeVersion(t, s, ten.ID); v != v2 {
			t.Fatalf("a rolled-back write moved the version: %d -> %d", v2, v)
		}
		ok(t, s.InTx(ctx(), func(q store.Queries) error {
			newUser(t, q, ten.ID, "hv-tx-"+randHex(3)+"@example.com")
			return nil
		}), "committed tx")
		v3 := homeVersion(t, s, ten.ID)
		if v3 <= v2 {
			t.Fatalf("committed tx: version %d -> %d, want it to move", v2, v3)
		}
		ok(t, s.DeleteUser(ctx(), ten.ID, u.ID), "delete user")
		if v := homeVersion(t, s, ten.ID); v <= v3 {
			t.Fatalf("DeleteUser: version %d -> %d, want it to move", v3, v)
		}
		if v, err := s.HomeVersion(ctx(), "no-such-tenant"); err != nil || v != 0 {
			t.Fatalf("unknown tenant: %d, %v; want 0, nil", v, err)
		}
	})
}

func homeVersion(t *testing.T, s store.Queries, tenantID string) int64 {
	t.Helper()
	v, err := s.HomeVersion(ctx(), tenantID)
	ok(t, err, "home version")
	return v
}

// homeUntracked lists the tables with a tenant_id column (and tenants)
// that are not Home-hidden and lack a home_v trigger.
func homeUntracked(t *testing.T, db *sql.DB) []string {
	t.Helper()
	var dialectSQLite bool
	if err := db.QueryRowContext(ctx(), `SELECT count(*) FROM sqlite_master`).Scan(new(int)); err == nil {
		dialectSQLite = true
	}
	var tablesQ, trigQ string
	if dialectSQLite {
		tablesQ = `SELECT m.name FROM sqlite_master m WHERE m.type = 'table' AND (m.name = 'tenants'
			OR EXISTS (SELECT 1 FROM pragma_table_info(m.name) p WHERE p.name = 'tenant_id'))`
		// One trigger per event: insert, update and delete.
		trigQ = `SELECT tbl_name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'home_v_%'
			GROUP BY tbl_name HAVING count(*) = 3`
	} else {
		tablesQ = `SELECT c.table_name FROM information_schema.columns c
			JOIN information_schema.tables tb ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name
			WHERE c.table_schema = current_schema() AND tb.table_type = 'BASE TABLE'
			  AND (c.column_name = 'tenant_id' OR c.table_name = 'tenants') GROUP BY c.table_name`
		trigQ = `SELECT c.relname FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
			WHERE g.tgname = 'home_v' AND c.relnamespace = current_schema()::regnamespace
			  AND g.tgtype & (4|8|16) = (4|8|16)` // insert, delete and update
	}
	tables := names(t, db, tablesQ)
	if len(tables) < 10 {
		t.Fatalf("found only %d tenant tables: %v", len(tables), tables)
	}
	tracked := map[string]bool{}
	for _, n := range names(t, db, trigQ) {
		tracked[n] = true
	}
	var missing []string
	for _, n := range tables {
		_, hidden := homeHidden[n]
		if hidden == tracked[n] {
			missing = append(missing, n) // neither, or both (a hidden table with a trigger is a mistake too)
		}
	}
	sort.Strings(missing)
	return missing
}

func names(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.QueryContext(ctx(), q)
	ok(t, err, "query schema")
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		ok(t, rows.Scan(&n), "scan")
		out = append(out, n)
	}
	ok(t, rows.Err(), "rows")
	return out
}
