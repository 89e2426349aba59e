package testenv_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/accessbot/accessbot/internal/testenv"
)

func TestPostgresDSNIsolatedSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var schemas [2]string
	for i := range schemas {
		dsn := testenv.PostgresDSN(t)
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schemas[i]); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(schemas[i], "test_") {
			t.Fatalf("current_schema = %q, want a test_ schema", schemas[i])
		}
		// Unqualified tables land in the fresh schema.
		if _, err := db.ExecContext(ctx, `CREATE TABLE t (x int)`); err != nil {
			t.Fatal(err)
		}
	}
	if schemas[0] == schemas[1] {
		t.Fatalf("two calls returned the same schema %q", schemas[0])
	}
}

func TestPostgresSchemaDroppedOnCleanup(t *testing.T) {
	t.Parallel()
	var schema string
	t.Run("inner", func(t *testing.T) {
		dsn := testenv.PostgresDSN(t)
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.QueryRow(`SELECT current_schema()`).Scan(&schema); err != nil {
			t.Fatal(err)
		}
	})
	if schema == "" {
		t.Skip("inner test skipped")
	}
	db, err := sql.Open("pgx", testenv.PostgresBaseDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1`, schema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("schema %s still exists after cleanup", schema)
	}
}

func TestRedisPrefixCleanedUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var prefix string
	var other string
	t.Run("inner", func(t *testing.T) {
		c, p := testenv.Redis(t)
		prefix = p
		if err := c.Set(ctx, p+"k1", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := c.Set(ctx, p+"k2", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		_, other = testenv.Redis(t)
	})
	if prefix == "" {
		t.Skip("inner test skipped")
	}
	if prefix == other {
		t.Fatalf("two calls returned the same prefix %q", prefix)
	}
	c, _ := testenv.Redis(t)
	n, err := c.Exists(ctx, prefix+"k1", prefix+"k2").Result()
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d keys under %s survived cleanup", n, prefix)
	}
}
