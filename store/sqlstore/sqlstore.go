// Package sqlstore is the one database/sql implementation of store.Store,
// shared by the SQLite and PostgreSQL backends. The differences between them
// (placeholders, time encoding, error codes) live in a small Dialect.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// Dialect is what differs between the SQL backends.
type Dialect struct {
	// Name is "sqlite" or "postgres", for logs and errors.
	Name string
	// Numbered placeholders ($1, $2, ...) instead of "?".
	Numbered bool
	// TextTime stores times as fixed-width RFC 3339 text (SQLite has no time type).
	TextTime bool
	// Classify maps a driver error to a constraint kind.
	Classify func(err error) Violation
	// CacheStatements keeps statements run outside transactions prepared,
	// for a driver that does not cache them itself (SQLite; pgx does).
	CacheStatements bool
	// CopyRows, when set, bulk-loads rows into table on conn, inside the
	// transaction open on it (PostgreSQL: COPY through pgx). next returns
	// the next row's values, or nil after the last. Transactions are then
	// begun on a *sql.Conn so that the copy can reach the driver's
	// connection.
	CopyRows func(ctx context.Context, conn *sql.Conn, table string, cols []string, next func() ([]any, error)) (int64, error)
}

// Violation is the kind of constraint a driver error reports.
type Violation int

const (
	NoViolation Violation = iota
	UniqueViolation
	ForeignKeyViolation
	CheckViolation
)

// Option configures a Store.
type Option func(*Store)

// WithClock sets the clock used for UpdatedAt and for zero CreatedAt values.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// Store implements store.Store on a *sql.DB.
type Store struct {
	*queries
	db      *sql.DB
	dialect Dialect
	log     zerolog.Logger
	now     func() time.Time
	home    *homeCache // nil: Home versions are read from the database each time
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Queries = (*queries)(nil)
)

// New wraps an open, migrated database. The Store owns db and closes it.
func New(db *sql.DB, d Dialect, log zerolog.Logger, opts ...Option) *Store {
	s := &Store{db: db, dialect: d, log: log, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	s.queries = &queries{x: db, d: &s.dialect, now: s.now}
	if s.home != nil {
		s.queries.wrote = s.home.wrote
	}
	if d.CacheStatements {
		s.queries.stmts = newStmtCache(db)
	}
	return s
}

// DB is the underlying handle, for tests and migrations.
func (s *Store) DB() *sql.DB { return s.db }

// InTx runs fn in one transaction. fn's error or a panic rolls everything back;
// a panic is re-raised after the rollback.
func (s *Store) InTx(ctx context.Context, fn func(q store.Queries) error) (err error) {
	tx, conn, err := beginTx(ctx, s.db, &s.dialect)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if conn != nil {
		defer conn.Close() // back to the pool, after the commit or rollback below
	}
	done := false
	defer func() {
		if done {
			return
		}
		// fn panicked, or called runtime.Goexit (t.FailNow): roll back either way.
		p := recover()
		if rbErr := tx.Rollback(); rbErr != nil {
			s.log.Error().Err(rbErr).Str("dialect", s.dialect.Name).Msg("rollback after panic failed")
		}
		if p != nil {
			panic(p)
		}
	}()
	ferr := fn(&queries{x: tx, conn: conn, d: &s.dialect, now: s.now})
	done = true
	if ferr != nil {
		if rbErr := tx.Rollback(); rbErr != nil {
			return errors.Join(ferr, fmt.Errorf("rollback: %w", rbErr))
		}
		return ferr
	}
	err = tx.Commit()
	s.queries.written()
	if err != nil {
		return fmt.Errorf("commit transaction: %w", s.queries.writeErr(err))
	}
	return nil
}

// beginTx begins a transaction on db, on a connection of its own (conn,
// to close after the transaction) when the dialect copies rows.
func beginTx(ctx context.Context, db *sql.DB, d *Dialect) (*sql.Tx, *sql.Conn, error) {
	if d.CopyRows == nil {
		tx, err := db.BeginTx(ctx, nil)
		return tx, nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	return tx, conn, nil
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close closes the database.
func (s *Store) Close() error {
	var err error
	if s.home != nil {
		s.home.close()
	}
	if s.stmts != nil {
		err = s.stmts.close()
	}
	return errors.Join(err, s.db.Close())
}

// execer is what *sql.DB and *sql.Tx share.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queries implements store.Queries on a *sql.DB or a *sql.Tx.
type queries struct {
	x execer
	// conn is the connection x's transaction runs on, when the dialect
	// copies rows (Dialect.CopyRows); nil otherwise.
	conn *sql.Conn
	d    *Dialect
	now  func() time.Time
	// stmts is set on the Store's own queries (not a transaction's) when
	// the dialect caches statements.
	stmts *stmtCache
	// wrote, set on the Store's own queries when it keeps Home versions,
	// is called after each write there and each commit of a transaction
	// begun there (homeCache.wrote).
	wrote func()
}

// written reports a write (see wrote).
func (q *queries) written() {
	if q.wrote != nil {
		q.wrote()
	}
}

// rebind turns "?" placeholders into "$n" for numbered dialects. Queries
// here never contain a literal "?".
func (q *queries) rebind(query string) string {
	if !q.d.Numbered {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// cached is the statement kept prepared for query, nil to run it as is.
func (q *queries) cached(ctx context.Context, query string) (*sql.Stmt, error) {
	if q.stmts == nil {
		return nil, nil
	}
	return q.stmts.get(ctx, query)
}

func (q *queries) exec(ctx context.Context, query string, args ...any) (int64, error) {
	query = q.rebind(query)
	var res sql.Result
	s, err := q.cached(ctx, query)
	switch {
	case err != nil:
		return 0, err
	case s != nil:
		res, err = s.ExecContext(ctx, args...)
	default:
		res, err = q.x.ExecContext(ctx, query, args...)
	}
	q.written() // even on an error: it may have been written
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q *queries) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	query = q.rebind(query)
	s, err := q.cached(ctx, query)
	switch {
	case err != nil:
		return nil, err
	case s != nil:
		return s.QueryContext(ctx, args...)
	}
	return q.x.QueryContext(ctx, query, args...)
}

func (q *queries) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	query = q.rebind(query)
	if s, err := q.cached(ctx, query); err == nil && s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	// A statement that cannot be prepared fails again here, in the Row.
	return q.x.QueryRowContext(ctx, query, args...)
}

// writeErr maps constraint errors of inserts and updates: a duplicate is a
// conflict, a reference to a row missing in this tenant is not found.
func (q *queries) writeErr(err error) error {
	switch q.classify(err) {
	case UniqueViolation:
		return fmt.Errorf("%w: %v", accessbot.ErrConflict, err)
	case ForeignKeyViolation:
		return fmt.Errorf("referenced row: %w: %v", accessbot.ErrNotFound, err)
	case CheckViolation:
		return fmt.Errorf("%w: %v", accessbot.ErrInvalid, err)
	}
	return err
}

// deleteErr maps constraint errors of deletes: a row still referenced is a conflict.
func (q *queries) deleteErr(err error) error {
	if q.classify(err) == ForeignKeyViolation {
		return fmt.Errorf("still referenced: %w: %v", accessbot.ErrConflict, err)
	}
	return err
}

func (q *queries) classify(err error) Violation {
	if err == nil || q.d.Classify == nil {
		return NoViolation
	}
	return q.d.Classify(err)
}

// notFound maps sql.ErrNoRows to accessbot.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return accessbot.ErrNotFound
	}
	return err
}

// affected turns "0 rows changed" into ErrNotFound.
func affected(n int64, err error) error {
	if err != nil {
		return err
	}
	if n == 0 {
		return accessbot.ErrNotFound
	}
	return nil
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// stamp fills a zero id and creation time, both written back to the caller's value.
func (q *queries) stamp(id *string, created *time.Time) {
	if *id == "" {
		*id = newID()
	}
	if created.IsZero() {
		*created = q.now()
	}
	*created = Round(*created)
}

// Round is how a time is stored: UTC, truncated to microseconds, which both
// backends keep exactly.
func Round(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func roundPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	r := Round(*t)
	return &r
}

// textTimeLayout is fixed width so stored times sort as text.
const textTimeLayout = "2006-01-02T15:04:05.000000Z"

// tm encodes a time for the dialect.
func (q *queries) tm(t time.Time) any {
	t = Round(t)
	if q.d.TextTime {
		return t.Format(textTimeLayout)
	}
	return t
}

// tmp encodes an optional time; nil is NULL.
func (q *queries) tmp(t *time.Time) any {
	if t == nil {
		return nil
	}
	return q.tm(*t)
}

// dbTime scans a time stored as a time or as text.
type dbTime struct {
	T     time.Time
	Valid bool
}

func (d *dbTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*d = dbTime{}
		return nil
	case time.Time:
		*d = dbTime{T: x.UTC(), Valid: true}
		return nil
	case string:
		return d.parse(x)
	case []byte:
		return d.parse(string(x))
	}
	return fmt.Errorf("scan time: unsupported type %T", v)
}

func (d *dbTime) parse(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("scan time %q: %w", s, err)
	}
	*d = dbTime{T: t.UTC(), Valid: true}
	return nil
}

func (d dbTime) ptr() *time.Time {
	if !d.Valid {
		return nil
	}
	t := d.T
	return &t
}

// nullStr stores "" as NULL, for optional references.
func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// jsonArg stores raw JSON as text; empty is NULL.
func jsonArg(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// rawJSON scans a nullable JSON column into a copy of its bytes.
type rawJSON struct{ B []byte }

func (r *rawJSON) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		r.B = nil
	case string:
		r.B = []byte(x)
	case []byte:
		r.B = append([]byte(nil), x...)
	default:
		return fmt.Errorf("scan json: unsupported type %T", v)
	}
	return nil
}

// limitClause is appended to list queries; 0 means no limit.
func limitClause(limit int) string {
	if limit <= 0 {
		return ""
	}
	return " LIMIT " + strconv.Itoa(limit)
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// collect scans every row with scan and closes rows.
func collect[T any](rows *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
