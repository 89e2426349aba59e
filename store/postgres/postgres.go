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
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
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

// DefaultPoolSize is store.pool_size's default: the most connections a
// process opens to PostgreSQL. Slack allows 10 Socket Mode connections per
// app, so at most 5 replicas at 2 each; 5 × (16 + the 2 listening
// connections outside the pool, River's and the Home versions') = 90 stays
// under PostgreSQL's default max_connections of 100 less its 3 reserved.
const DefaultPoolSize = 16

func openDB(ctx context.Context, dsn string) (*sql.DB, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	// Bounded: without a bound a burst opened a backend for every query
	// that found no idle connection (at 1,000 envelopes/s, from 6 to 21 in
	// 300 ms; 51 on a busy machine, one every ~50 ms while each
	// fork and login ran); with it, a query waits, up to its context's
	// deadline, for one of these. All may stay idle, so a
	// burst does not close and reopen them; an idle one is closed after 5
	// minutes. Migrations need 2 at once (the advisory lock's and goose's).
	db.SetMaxOpenConns(DefaultPoolSize)
	db.SetMaxIdleConns(DefaultPoolSize)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}

// Warm bounds db's pool at size connections and opens them all now, at
// once, so that the first burst of work finds them ready instead of
// waiting for PostgreSQL to start a backend for each. `accessbot run` calls
// it before it connects to Slack; db is a store's (sqlstore.Store.DB). An
// error says how many are ready; the pool still works, opening the rest as
// needed.
func Warm(ctx context.Context, db *sql.DB, size int) error {
	if size < 1 {
		return fmt.Errorf("warm postgres pool: size %d: %w", size, accessbot.ErrInvalid)
	}
	db.SetMaxOpenConns(size)
	db.SetMaxIdleConns(size)
	// Hold every connection until all are open, so each is a new one.
	conns := make([]*sql.Conn, size)
	errs := make([]error, size)
	var wg sync.WaitGroup
	for i := range size {
		wg.Go(func() { conns[i], errs[i] = db.Conn(ctx) })
	}
	wg.Wait()
	ready, first := 0, error(nil)
	for i, c := range conns {
		if c != nil {
			ready++
			_ = c.Close() // back to the pool, idle
		} else if first == nil {
			first = errs[i]
		}
	}
	if first != nil {
		return fmt.Errorf("warm postgres pool: %d of %d connections ready: %w", ready, size, first)
	}
	return nil
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
