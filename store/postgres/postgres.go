// Package postgres is the PostgreSQL backend of store.Store, for production
// and several replicas, on jackc/pgx/v5 through database/sql.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations is the embedded goose migration directory.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the embedded directory always exists
	}
	return sub
}

// Dialect is PostgreSQL's flavour of the shared SQL store.
func Dialect() sqlstore.Dialect {
	return sqlstore.Dialect{Name: "postgres", Numbered: true, Classify: classify, CopyRows: copyRows}
}

func classify(err error) sqlstore.Violation {
	var e *pgconn.PgError
	if !errors.As(err, &e) {
		return sqlstore.NoViolation
	}
	switch e.Code {
	case "23505": // unique_violation
		return sqlstore.UniqueViolation
	case "23503": // foreign_key_violation
		return sqlstore.ForeignKeyViolation
	case "23514", "23502": // check_violation, not_null_violation
		return sqlstore.CheckViolation
	}
	return sqlstore.NoViolation
}

// maxIdleConns is how many connections stay open between bursts.
const maxIdleConns = 48

func openDB(ctx context.Context, dsn string) (*sql.DB, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	// database/sql keeps 2 idle connections by default; the Slack work pool
	// (32 workers), the slash-command handlers and River would otherwise open
	// and close connections in every burst (with 8, PostgreSQL started a
	// backend per burst at 2,000 envelopes/s). Connections are opened only
	// as needed; an idle one is closed after 5 minutes.
	db.SetMaxIdleConns(maxIdleConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}

// migrate runs goose under a session-level advisory lock, so replicas
// starting at once migrate one after the other. The lock id is derived from
// the schema, so databases in different schemas don't wait for each other.
func migrate(ctx context.Context, db *sql.DB, log zerolog.Logger) error {
	var schema string
	if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("migrate postgres: current schema: %w", err)
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte("accessbot-migrations:" + schema))
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(int64(h.Sum64()>>1)),
		lock.WithLockTimeout(1, 300), // retry every second for 5 minutes
	)
	if err != nil {
		return fmt.Errorf("migrate postgres: locker: %w", err)
	}
	return sqlstore.Migrate(ctx, db, goose.DialectPostgres, Migrations(), locker, log)
}

// Migrate applies pending migrations; safe to run from several processes at once.
func Migrate(ctx context.Context, dsn string, log zerolog.Logger) error {
	db, err := openDB(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	return migrate(ctx, db, log)
}

// Open connects to dsn and migrates.
func Open(ctx context.Context, dsn string, log zerolog.Logger, opts ...sqlstore.Option) (*sqlstore.Store, error) {
	db, err := openDB(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, db, log); err != nil {
		_ = db.Close()
		return nil, err
	}
	// Home versions are kept in memory while a listener hears every
	// process's writes, this one's included (see homeListener).
	opts = append([]sqlstore.Option{sqlstore.WithHomeListener(homeListener(dsn, db, log))}, opts...)
	return sqlstore.New(db, Dialect(), log, opts...), nil
}

// copyRows loads rows into table with COPY, on the pgx connection behind
// conn, inside the transaction database/sql has open on it: one round trip
// streams every row instead of a statement per batch.
func copyRows(ctx context.Context, conn *sql.Conn, table string, cols []string, next func() ([]any, error)) (int64, error) {
	var n int64
	err := conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("copy into %s: driver connection is %T, not pgx", table, dc)
		}
		var err error
		n, err = c.Conn().CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromFunc(next))
		return err
	})
	if err != nil {
		return n, fmt.Errorf("copy into %s: %w", table, err)
	}
	return n, nil
}
