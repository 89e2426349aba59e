package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// maxCachedStmts bounds the statements kept prepared. Queries are mostly
// constant text; the few built per call (IN lists of varying length) run
// unprepared once the cache is full.
const maxCachedStmts = 512

// stmtCache keeps statements run outside transactions prepared, for
// drivers that would otherwise parse and plan every query again (modernc
// SQLite: its QueryContext and ExecContext prepare and finalize each time).
// A *sql.Stmt is safe for concurrent use and prepares itself once on each
// pooled connection it runs on. Transactions do not use it: their queries
// run as before, on the transaction's connection.
type stmtCache struct {
	db     *sql.DB
	mu     sync.Mutex
	m      map[string]*sql.Stmt
	closed bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}}
}

// get returns the prepared statement for query, or nil when the cache is
// full or closed (run query unprepared then).
func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	s, ok := c.m[query]
	full := c.closed || len(c.m) >= maxCachedStmts
	c.mu.Unlock()
	if ok || full {
		return s, nil
	}
	s, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[query]; ok || c.closed {
		_ = s.Close() // another caller prepared it first, or the store closed
		return prev, nil
	}
	c.m[query] = s
	return s, nil
}

// close closes every cached statement; later gets return nil.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var errs []error
	for _, s := range c.m {
		errs = append(errs, s.Close())
	}
	clear(c.m)
	return errors.Join(errs...)
}
