package postgres_test

import (
	"context"
	"io/fs"
	"testing"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/internal/testenv"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/backend"
	"github.com/accessbot/accessbot/store/conformance"
	"github.com/accessbot/accessbot/store/postgres"
	"github.com/accessbot/accessbot/store/storetest"
)

func TestConformance(t *testing.T) {
	if !testenv.PostgresAvailable(t) {
		t.Skip("*** POSTGRES NOT REACHABLE: postgres tests SKIPPED ***")
	}
	conformance.Run(t, func(t *testing.T) store.Store { return storetest.Open(t, backend.Postgres) })
}

// TestMigrateConcurrently is two-replicas-start-at-once: every migrator
// succeeds, one after the other, under the advisory lock.
func TestMigrateConcurrently(t *testing.T) {
	t.Parallel()
	dsn := testenv.PostgresDSN(t)
	const replicas = 4
	errs := make(chan error, replicas)
	for range replicas {
		go func() { errs <- postgres.Migrate(context.Background(), dsn, zerolog.Nop()) }()
	}
	for range replicas {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent migrate: %v", err)
		}
	}
	s, err := postgres.Open(context.Background(), dsn, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var applied int
	if err := s.DB().QueryRow(`SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	files, err := fs.Glob(postgres.Migrations(), "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if applied != len(files) {
		t.Fatalf("%d migrations recorded, want %d (each applied once)", applied, len(files))
	}
}
