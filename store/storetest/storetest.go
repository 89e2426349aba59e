// Package storetest opens fresh, migrated, empty stores for tests.
package storetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/internal/testenv"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/backend"
)

// Drivers returns "sqlite", plus "postgres" when it is reachable. When it is
// not, the loud skip banner is printed (or, with ACCESSBOT_REQUIRE_SERVICES=1,
// the test fails).
func Drivers(t testing.TB) []string {
	t.Helper()
	drivers := []string{backend.SQLite}
	if testenv.PostgresAvailable(t) {
		drivers = append(drivers, backend.Postgres)
	}
	return drivers
}

// Open returns a fresh, migrated, empty store for driver, closed on cleanup.
// sqlite lives in a file under t.TempDir(), a copy of one migrated once per
// test binary; postgres in a fresh schema.
func Open(t testing.TB, driver string, opts ...backend.Option) store.Store {
	t.Helper()
	st, _ := OpenDSN(t, driver, opts...)
	return st
}

// OpenDSN is Open, also returning the store's DSN, so that another process
// (a test that kills and restarts one) can open the same database.
func OpenDSN(t testing.TB, driver string, opts ...backend.Option) (store.Store, string) {
	t.Helper()
	var dsn string
	switch driver {
	case backend.SQLite:
		path := filepath.Join(t.TempDir(), "accessbot.db")
		data, err := migratedSQLite()
		if err != nil {
			t.Fatalf("storetest: %v", err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatalf("storetest: %v", err)
		}
		dsn = "file:" + path
	case backend.Postgres:
		dsn = testenv.PostgresDSN(t)
	default:
		t.Fatalf("storetest: unknown driver %q", driver)
	}
	s, err := backend.Open(context.Background(), driver, dsn, zerolog.Nop(), opts...)
	if err != nil {
		t.Fatalf("storetest: open %s: %v", driver, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("storetest: close %s: %v", driver, err)
		}
	})
	return s, dsn
}

// sqliteTemplate is an empty SQLite database with every migration (the
// store's and River's) applied, built once per test binary: migrating a new
// file takes 10-30 s under -race on a busy 2-core machine (the SQLite driver
// is Go translated from C, all of it instrumented), opening a copy under 1 s.
// Open still runs the migrations on the copy, which finds none to apply.
var sqliteTemplate struct {
	once sync.Once
	data []byte
	err  error
}

func migratedSQLite() ([]byte, error) {
	sqliteTemplate.once.Do(func() {
		sqliteTemplate.data, sqliteTemplate.err = buildSQLiteTemplate()
	})
	return sqliteTemplate.data, sqliteTemplate.err
}

func buildSQLiteTemplate() ([]byte, error) {
	dir, err := os.MkdirTemp("", "accessbot-storetest-")
	if err != nil {
		return nil, fmt.Errorf("sqlite template: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "template.db")
	st, err := backend.Open(context.Background(), backend.SQLite, "file:"+path, zerolog.Nop())
	if err != nil {
		return nil, fmt.Errorf("sqlite template: %w", err)
	}
	if err := st.Close(); err != nil {
		return nil, fmt.Errorf("sqlite template: close: %w", err)
	}
	// Closing the last connection checkpoints the WAL into the file and
	// removes it; a WAL left behind would hold part of the schema.
	if _, err := os.Stat(path + "-wal"); err == nil {
		return nil, fmt.Errorf("sqlite template: %s-wal outlived the close", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite template: %w", err)
	}
	return data, nil
}
