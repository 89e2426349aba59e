package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// atomic runs fn in a transaction: q's own when q already is one, a new one
// otherwise. Snapshot replacement and rule runs must be all or nothing even
// when called outside InTx.
func (q *queries) atomic(ctx context.Context, fn func(q *queries) error) (err error) {
	db, ok := q.x.(*sql.DB)
	if !ok {
		return fn(q)
	}
	tx, conn, err := beginTx(ctx, db, q.d)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if conn != nil {
		defer conn.Close()
	}
	done := false
	defer func() {
		if !done {
			_ = tx.Rollback()
		}
	}()
	if err := fn(&queries{x: tx, conn: conn, d: q.d, now: q.now}); err != nil {
		done = true
		_ = tx.Rollback()
		return err
	}
	done = true
	err = tx.Commit()
	q.written()
	if err != nil {
		return fmt.Errorf("commit transaction: %w", q.writeErr(err))
	}
	return nil
}

// preparer is what *sql.DB and *sql.Tx share for prepared statements.
type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// stmt is a statement prepared once and run for many rows.
type stmt struct{ s *sql.Stmt }

func (q *queries) prepare(ctx context.Context, query string) (*stmt, error) {
	p, ok := q.x.(preparer)
	if !ok {
		return nil, fmt.Errorf("prepare: %T cannot prepare statements", q.x)
	}
	s, err := p.PrepareContext(ctx, q.rebind(query))
	if err != nil {
		return nil, err
	}
	return &stmt{s: s}, nil
}

func (s *stmt) exec(ctx context.Context, args ...any) error {
	_, err := s.s.ExecContext(ctx, args...)
	return err
}

func (s *stmt) close() { _ = s.s.Close() }

// batchParams caps the placeholders of one multi-row statement, well under
// SQLite's (32766) and PostgreSQL's (65535) limits.
const batchParams = 3000

// insertMany inserts n rows of ncols values with multi-row INSERTs. head is
// "INSERT INTO t (a, b, c)"; row appends row i's values to args.
func (q *queries) insertMany(ctx context.Context, head string, ncols, n int, row func(i int, args []any) []any) error {
	per := max(1, batchParams/ncols)
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", ncols), ", ") + ")"
	args := make([]any, 0, per*ncols)
	for start := 0; start < n; start += per {
		end := min(n, start+per)
		var b strings.Builder
		b.Grow(len(head) + 8 + (end-start)*(len(one)+2))
		b.WriteString(head)
		b.WriteString(" VALUES ")
		args = args[:0]
		for i := start; i < end; i++ {
			if i > start {
				b.WriteString(", ")
			}
			b.WriteString(one)
			args = row(i, args)
		}
		if _, err := q.exec(ctx, b.String(), args...); err != nil {
			return err
		}
	}
	return nil
}

// execIn runs query once per chunk of ids; query ends in "IN (%s)" and
// takes before, then the chunk's ids, as arguments.
func (q *queries) execIn(ctx context.Context, query string, before []any, ids []string) (int64, error) {
	var total int64
	per := batchParams - len(before)
	for start := 0; start < len(ids); start += per {
		end := min(len(ids), start+per)
		args := append(append(make([]any, 0, len(before)+end-start), before...), toAny(ids[start:end])...)
		n, err := q.exec(ctx, fmt.Sprintf(query, strings.TrimSuffix(strings.Repeat("?, ", end-start), ", ")), args...)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
