// Package backend opens the configured store.Store by driver name.
package backend

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
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

// Open opens and migrates the store. An empty sqlite dsn means sqlite.DefaultDSN.
func Open(ctx context.Context, driver, dsn string, log zerolog.Logger, opts ...Option) (store.Store, error) {
	log = log.With().Str("store", driver).Logger()
	switch driver {
	case SQLite:
		return sqlite.Open(ctx, dsn, log, opts...)
	case Postgres:
		if dsn == "" {
			return nil, fmt.Errorf("open store: postgres needs a dsn: %w", accessbot.ErrInvalid)
		}
		return postgres.Open(ctx, dsn, log, opts...)
	}
	return nil, fmt.Errorf("open store: unknown driver %q (want sqlite or postgres): %w", driver, accessbot.ErrInvalid)
}

// Migrate applies pending migrations without keeping the store open.
func Migrate(ctx context.Context, driver, dsn string, log zerolog.Logger) error {
	log = log.With().Str("store", driver).Logger()
	switch driver {
	case SQLite:
		return sqlite.Migrate(ctx, dsn, log)
	case Postgres:
		if dsn == "" {
			return fmt.Errorf("migrate store: postgres needs a dsn: %w", accessbot.ErrInvalid)
		}
		return postgres.Migrate(ctx, dsn, log)
	}
	return fmt.Errorf("migrate store: unknown driver %q (want sqlite or postgres): %w", driver, accessbot.ErrInvalid)
}
