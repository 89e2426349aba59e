// Package storetest opens fresh, migrated, empty stores for tests.
package storetest

import (
	"context"
	"path/filepath"
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
// sqlite lives in a file under t.TempDir(); postgres in a fresh schema.
func Open(t testing.TB, driver string, opts ...backend.Option) store.Store {
	t.Helper()
	var dsn string
	switch driver {
	case backend.SQLite:
		dsn = "file:" + filepath.Join(t.TempDir(), "accessbot.db")
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
	return s
}
