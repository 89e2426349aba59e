package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/rs/zerolog"
	_ "modernc.org/sqlite"
)

// TestStmtCache: statements run outside transactions are prepared once and
// reused, concurrently and beside transactions on the same connections;
// transactions never use the cache; past maxCachedStmts queries still run.
func TestStmtCache(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "c.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	s := New(db, Dialect{Name: "sqlite", TextTime: true, CacheStatements: true}, zerolog.Nop())
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	if _, err := s.exec(ctx, `CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	const get = `SELECT v FROM kv WHERE k = ?`
	const put = `INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v`
	read := func(k string) (int, error) {
		var v int
		err := s.queryRow(ctx, get, k).Scan(&v)
		return v, err
	}
	if _, err := s.exec(ctx, put, "a", 1); err != nil {
		t.Fatal(err)
	}
	if v, err := read("a"); err != nil || v != 1 {
		t.Fatalf("read a = %d, %v", v, err)
	}
	first := s.stmts.m[get]
	if first == nil || s.stmts.m[put] == nil {
		t.Fatalf("statements not cached: %v", s.stmts.m)
	}

	// Readers and writers outside transactions, and transactions writing
	// the same rows, all at once (run with -race).
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				k := fmt.Sprintf("k%d", i%5)
				var err error
				if g%2 == 0 {
					err = s.atomic(ctx, func(q *queries) error {
						_, err := q.exec(ctx, put, k, i)
						return err
					})
				} else {
					_, err = s.exec(ctx, put, k, i)
				}
				if err != nil {
					errs <- err
					return
				}
				if _, err := read(k); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if s.stmts.m[get] != first {
		t.Fatal("the cached statement was replaced")
	}

	// A transaction runs its queries on its own connection, uncached, and
	// sees its own writes; a rollback undoes them.
	err = s.atomic(ctx, func(q *queries) error {
		if q.stmts != nil {
			t.Error("a transaction's queries use the statement cache")
		}
		if _, err := q.exec(ctx, put, "a", 2); err != nil {
			return err
		}
		var v int
		if err := q.queryRow(ctx, get, "a").Scan(&v); err != nil || v != 2 {
			t.Errorf("in tx: %d, %v", v, err)
		}
		return fmt.Errorf("roll back")
	})
	if err == nil {
		t.Fatal("atomic: want the rollback error")
	}
	if v, err := read("a"); err != nil || v != 1 {
		t.Fatalf("after rollback: %d, %v; want 1", v, err)
	}

	// A bad statement is an error, and not cached.
	if _, err := s.exec(ctx, `UPDATE nosuch SET v = 1`); err == nil || s.stmts.m[`UPDATE nosuch SET v = 1`] != nil {
		t.Fatalf("bad statement: %v", err)
	}

	// Full: more distinct queries still answer, uncached.
	for i := range maxCachedStmts + 10 {
		var n int
		if err := s.queryRow(ctx, fmt.Sprintf(`SELECT %d + COUNT(*) FROM kv WHERE k = ?`, i), "zz").Scan(&n); err != nil || n != i {
			t.Fatalf("query %d: %d, %v", i, n, err)
		}
	}
	if len(s.stmts.m) != maxCachedStmts { // the cap
		t.Fatalf("cache holds %d statements, want the cap %d", len(s.stmts.m), maxCachedStmts)
	}
}
