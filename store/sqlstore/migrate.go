package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/rs/zerolog"
)

// Migrate applies fsys's pending goose migrations to db. A non-nil locker
// serializes concurrent migrators (several replicas starting at once).
func Migrate(ctx context.Context, db *sql.DB, dialect goose.Dialect, fsys fs.FS, locker lock.SessionLocker, log zerolog.Logger) error {
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if locker != nil {
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, db, fsys, opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", dialect, err)
	}
	// One line for people and collectors alike; each migration at debug.
	var took time.Duration
	for _, r := range results {
		took += r.Duration
		log.Debug().Str("dialect", string(dialect)).Int64("version", r.Source.Version).
			Dur("took", r.Duration).Msg("migration applied")
	}
	if len(results) > 0 {
		log.Info().Str("dialect", string(dialect)).Int("migrations", len(results)).
			Int64("version", results[len(results)-1].Source.Version).Dur("took", took).Msg("database migrated")
	}
	return nil
}
