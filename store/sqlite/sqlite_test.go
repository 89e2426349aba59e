package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"

	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/backend"
	"github.com/accessbot/accessbot/store/conformance"
	"github.com/accessbot/accessbot/store/sqlite"
	"github.com/accessbot/accessbot/store/storetest"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T) store.Store { return storetest.Open(t, backend.SQLite) })
}

func TestMigrateTwiceAndPragmas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := "file:" + filepath.Join(t.TempDir(), "a.db")
	for range 2 {
		if err := sqlite.Migrate(ctx, dsn, zerolog.Nop()); err != nil {
			t.Fatalf("migrate: %v", err)
		}
	}
	s, err := sqlite.Open(ctx, dsn, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "10000"} {
		var got string
		if err := s.DB().QueryRow("PRAGMA " + pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %q, want %q", pragma, got, want)
		}
	}
}

func TestOpenInMemory(t *testing.T) {
	t.Parallel()
	s, err := backend.Open(context.Background(), backend.SQLite, "file::memory:", zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.ListTenants(context.Background()); err != nil {
		t.Fatalf("in-memory store not migrated: %v", err)
	}
}

func TestOpenUnknownDriver(t *testing.T) {
	t.Parallel()
	_, err := backend.Open(context.Background(), "mysql", "", zerolog.Nop())
	if !errors.Is(err, accessbot.ErrInvalid) {
		t.Fatalf("unknown driver: got %v, want ErrInvalid", err)
	}
}
