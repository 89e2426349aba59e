package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"log/slog"

	"github.com/riverqueue/river/rivermigrate"
	"github.com/rs/zerolog"
)

// Migrate creates or upgrades River's tables in db. On PostgreSQL it holds
// an advisory lock (one per schema) while migrating, so replicas starting
// at once migrate one after the other; SQLite serves one process.
func Migrate(ctx context.Context, driver string, db *sql.DB, log zerolog.Logger) error {
	d, err := newDriver(driver, db)
	if err != nil {
		return fmt.Errorf("migrate jobs: %w", err)
	}
	m, err := rivermigrate.New(d, &rivermigrate.Config{
		Logger: slog.New(zerolog.NewSlogHandler(log.Level(max(log.GetLevel(), zerolog.WarnLevel)))),
	})
	if err != nil {
		return fmt.Errorf("migrate jobs: %w", err)
	}
	if driver == Postgres {
		unlock, err := lockPostgres(ctx, db)
		if err != nil {
			return err
		}
		defer unlock()
	}
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return fmt.Errorf("migrate jobs (river) on %s: %w", driver, err)
	}
	for _, v := range res.Versions {
		// Debug: River's tables are part of the database, which the store's
		// migration line already reports.
		log.Debug().Int("version", v.Version).Str("name", v.Name).Msg("river migration applied")
	}
	return nil
}

// lockPostgres takes a session advisory lock on a connection of its own,
// keyed by the current schema so databases in different schemas don't wait
// for each other. The returned func releases it.
func lockPostgres(ctx context.Context, db *sql.DB) (func(), error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate jobs: lock connection: %w", err)
	}
	var schema string
	if err := conn.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("migrate jobs: current schema: %w", err)
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte("accessbot-river-migrations:" + schema))
	id := int64(h.Sum64() >> 1)
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, id); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("migrate jobs: advisory lock: %w", err)
	}
	return func() {
		// Closing the connection would release it too; unlock first so a
		// pooled connection never keeps it.
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, id)
		_ = conn.Close()
	}, nil
}
