package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Backup writes a consistent copy of the database at dsn to the new file
// dest with VACUUM INTO, while the bot keeps running: in WAL mode the copy
// reads one snapshot (committed transactions, those still in the -wal file
// included) and neither blocks nor is blocked by writers. dest is one
// self-contained file, compacted; it must not exist yet.
func Backup(ctx context.Context, dsn, dest string) error {
	if isMemory(dsn) {
		return errors.New("backup sqlite: an in-memory database has nothing on disk to back up")
	}
	// Opening a missing database would create an empty one there.
	if p := dsnPath(dsn); p != "" {
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("backup sqlite: no database at %s (store.dsn): %w", p, err)
		}
	}
	if _, err := os.Stat(dest); err == nil {
		return fmt.Errorf("backup sqlite: %s already exists: choose a new file", dest)
	}
	db, err := openDB(dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	var tables int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table'`).Scan(&tables); err != nil {
		return fmt.Errorf("backup sqlite: read %s: %w", dsn, err)
	}
	if tables == 0 {
		return fmt.Errorf("backup sqlite: %s holds no tables: is store.dsn the bot's database?", dsn)
	}
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dest); err != nil {
		return fmt.Errorf("backup sqlite to %s: %w", dest, err)
	}
	return nil
}

// dsnPath is the file a "file:PATH?..." or plain-path DSN names, "" when it
// can't tell.
func dsnPath(dsn string) string {
	base, _, _ := strings.Cut(dsn, "?")
	base = strings.TrimPrefix(base, "file:")
	if base == "" || strings.HasPrefix(base, "//") {
		return ""
	}
	return base
}
