// Package backend opens the configured store.Store by driver name.
package backend

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/jobs"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/postgres"
	"github.com/accessbot/accessbot/store/sqlite"
	"github.com/accessbot/accessbot/store/sqlstore"
)

// Driver names accepted by Open and Migrate.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Drivers lists the accepted driver names.
func Drivers() []string { return []string{SQLite, Postgres} }

// Option configures the opened store.
type Option = sqlstore.Option

// WithClock sets the store's clock (UpdatedAt and zero CreatedAt values).
func WithClock(now func() time.Time) Option { return sqlstore.WithClock(now) }

// Open opens and migrates the store, and River's job tables beside it
// (package jobs). An empty sqlite dsn means sqlite.DefaultDSN.
func Open(ctx context.Context, driver, dsn string, log zerolog.Logger, opts ...Option) (store.Store, error) {
	log = log.With().Str("store", driver).Logger()
	var (
		st  *sqlstore.Store
		err error
	)
	switch driver {
	case SQLite:
		st, err = sqlite.Open(ctx, dsn, log, opts...)
	case Postgres:
		if dsn == "" {
			return nil, fmt.Errorf("open store: postgres needs a dsn: %w", accessbot.ErrInvalid)
		}
		st, err = postgres.Open(ctx, dsn, log, opts...)
	default:
		return nil, fmt.Errorf("open store: unknown driver %q (want sqlite or postgres): %w", driver, accessbot.ErrInvalid)
	}
	if err != nil {
		return nil, err
	}
	if err := jobs.Migrate(ctx, driver, st.DB(), log); err != nil {
		_ = st.Close()
		return nil, err
	}
	return st, nil
}

// Migrate applies pending migrations (the store's, then River's) without
// keeping the store open; safe to run from several processes at once on PostgreSQL.
func Migrate(ctx context.Context, driver, dsn string, log zerolog.Logger) error {
	st, err := Open(ctx, driver, dsn, log)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return st.Close()
}
