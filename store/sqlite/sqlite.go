// Package sqlite is the embedded, single-process backend of store.Store on
// modernc.org/sqlite (pure Go, no cgo).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/rs/zerolog"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/accessbot/accessbot/store/sqlstore"
)

// DefaultDSN is used when the configured DSN is empty.
const DefaultDSN = "file:accessbot.db"

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

// Dialect is SQLite's flavour of the shared SQL store.
func Dialect() sqlstore.Dialect {
	return sqlstore.Dialect{Name: "sqlite", TextTime: true, Classify: classify, CacheStatements: true}
}

func classify(err error) sqlstore.Violation {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return sqlstore.NoViolation
	}
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return sqlstore.UniqueViolation
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return sqlstore.ForeignKeyViolation
	case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL:
		return sqlstore.CheckViolation
	}
	return sqlstore.NoViolation
}

// withPragmas adds what every connection needs: a busy timeout and immediate
// transactions (so concurrent writers queue instead of failing with
// SQLITE_BUSY), WAL, and foreign keys. Settings already in dsn win.
func withPragmas(dsn string) string {
	if dsn == "" {
		dsn = DefaultDSN
	}
	base, rawQuery, _ := strings.Cut(dsn, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return dsn // let the driver report the malformed DSN
	}
	have := strings.ToLower(strings.Join(q["_pragma"], ","))
	add := func(name, pragma string) {
		if !strings.Contains(have, name) {
			q.Add("_pragma", pragma)
		}
	}
	add("busy_timeout", "busy_timeout(10000)")
	add("foreign_keys", "foreign_keys(1)")
	if !isMemory(dsn) {
		add("journal_mode", "journal_mode(WAL)")
	}
	add("synchronous", "synchronous(NORMAL)")
	if q.Get("_txlock") == "" {
		q.Set("_txlock", "immediate")
	}
	return base + "?" + q.Encode()
}

// maxIdleConns is how many connections stay open between bursts. It covers
// the Slack workers (32) and the job workers running queries at once: a
// connection opened past it is closed when returned, and the next one
// prepares every cached statement again (9% of the bot's CPU at 1,000
// envelopes/s with 16; 3% with 64, BENCHMARKS.md). Connections are opened
// only as needed.
const maxIdleConns = 64

func isMemory(dsn string) bool {
	return strings.Contains(dsn, ":memory:") || strings.Contains(dsn, "mode=memory")
}

func openDB(dsn string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", withPragmas(dsn))
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	if isMemory(dsn) {
		// Every connection to :memory: is its own database: keep one.
		db.SetMaxOpenConns(1)
	} else {
		// Opening a connection applies the pragmas and parses the whole
		// schema; with database/sql's default of 2 idle connections, every
		// burst of concurrent queries (Slack workers, handlers) opened and
		// closed connections, which cost more than the queries.
		db.SetMaxIdleConns(maxIdleConns)
		db.SetConnMaxIdleTime(5 * time.Minute)
	}
	return db, nil
}

// Migrate applies pending migrations. SQLite serves one process, which runs
// them before serving, so no cross-process lock is taken.
func Migrate(ctx context.Context, dsn string, log zerolog.Logger) error {
	db, err := openDB(dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	return sqlstore.Migrate(ctx, db, goose.DialectSQLite3, Migrations(), nil, log)
}

// Open opens (creating if needed) and migrates the database at dsn.
func Open(ctx context.Context, dsn string, log zerolog.Logger, opts ...sqlstore.Option) (*sqlstore.Store, error) {
	db, err := openDB(dsn)
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	if err := sqlstore.Migrate(ctx, db, goose.DialectSQLite3, Migrations(), nil, log); err != nil {
		_ = db.Close()
		return nil, err
	}
	return sqlstore.New(db, Dialect(), log, opts...), nil
}
