// Package testenv gives tests real, isolated PostgreSQL schemas and Redis key
// prefixes. When a service is unreachable the test is skipped with a loud
// banner, or fails when ACCESSBOT_REQUIRE_SERVICES=1 (CI sets it).
package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/redis/go-redis/v9"

	"github.com/accessbot/accessbot/internal/config"
)

// Environment variables read by this package.
const (
	EnvPostgresDSN     = "ACCESSBOT_TEST_POSTGRES_DSN"
	EnvRedisURL        = "ACCESSBOT_TEST_REDIS_URL"
	EnvRequireServices = "ACCESSBOT_REQUIRE_SERVICES"

	DefaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"
)

// connectTimeout bounds how long an unreachable service delays a test.
const connectTimeout = 3 * time.Second

// RequireServices reports whether missing services must fail tests instead of skipping them.
func RequireServices() bool { return os.Getenv(EnvRequireServices) == "1" }

// unavailable skips (or fails, under ACCESSBOT_REQUIRE_SERVICES=1) with a banner.
func unavailable(t testing.TB, service, target string, err error) {
	t.Helper()
	t.Skip(report(t, service, target, err))
}

// report prints the loud banner, or fails the test when services are required.
func report(t testing.TB, service, target string, err error) string {
	t.Helper()
	if RequireServices() {
		t.Fatalf("%s is required (%s=1) but not reachable at %s: %v", service, EnvRequireServices, target, err)
	}
	banner := fmt.Sprintf("*** %s NOT REACHABLE: %s tests SKIPPED *** (%s: %v; set %s=1 to fail instead)",
		service, lowerService(service), target, err, EnvRequireServices)
	// Print to stderr too, so the banner is seen even without -v.
	fmt.Fprintln(os.Stderr, banner)
	return banner
}

func lowerService(s string) string {
	switch s {
	case "POSTGRES":
		return "postgres"
	case "REDIS":
		return "redis"
	case "CHROMIUM":
		return "browser"
	}
	return s
}

func randomSuffix() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("testenv: crypto/rand: %v", err)) // never happens on supported platforms
	}
	return hex.EncodeToString(b[:])
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// PostgresBaseDSN is the server DSN tests connect to (no schema chosen).
func PostgresBaseDSN() string { return envOr(EnvPostgresDSN, DefaultPostgresDSN) }

// PostgresAvailable reports whether Postgres answers. When it does not, it
// prints the loud banner and returns false, or fails the test under
// ACCESSBOT_REQUIRE_SERVICES=1. Use it to choose cases; PostgresDSN skips.
func PostgresAvailable(t testing.TB) bool {
	t.Helper()
	base := PostgresBaseDSN()
	if err := pingPostgres(base); err != nil {
		t.Log(report(t, "POSTGRES", redactDSN(base), err))
		return false
	}
	return true
}

func pingPostgres(dsn string) error {
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.PingContext(ctx)
}

// PostgresDSN creates a fresh, empty schema with a random name and returns a
// DSN whose connections use it as search_path. The schema is dropped on cleanup.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := PostgresBaseDSN()
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()

	db, err := sql.Open("pgx", base)
	if err != nil {
		unavailable(t, "POSTGRES", redactDSN(base), err)
		return ""
	}
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		unavailable(t, "POSTGRES", redactDSN(base), err)
		return ""
	}
	schema := "test_" + randomSuffix()
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA "`+schema+`"`); err != nil {
		_ = db.Close()
		t.Fatalf("testenv: create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, `DROP SCHEMA "`+schema+`" CASCADE`); err != nil {
			t.Errorf("testenv: drop schema %s: %v", schema, err)
		}
		_ = db.Close()
	})
	dsn, err := withSearchPath(base, schema)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return dsn
}

// withSearchPath adds search_path=schema to a URL or keyword/value DSN.
func withSearchPath(dsn, schema string) (string, error) {
	u, err := url.Parse(dsn)
	if err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	if err == nil && u.Scheme != "" {
		return "", fmt.Errorf("unsupported postgres DSN scheme %q", u.Scheme)
	}
	// keyword/value form: "host=... user=..."
	return dsn + " search_path=" + schema, nil
}

// redactDSN hides a password before the DSN is printed.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Redis returns a client for ACCESSBOT_TEST_REDIS_URL and a unique key prefix
// (ending in ":") for this test. Keys under the prefix are deleted on cleanup.
func Redis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	raw := envOr(EnvRedisURL, DefaultRedisURL)
	opts, err := config.RedisOptions(raw)
	if err != nil {
		t.Fatalf("testenv: parse %s: %v", EnvRedisURL, err)
	}
	client := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		unavailable(t, "REDIS", redactDSN(raw), err)
		return nil, ""
	}
	prefix := "test:" + randomSuffix() + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var cursor uint64
		for {
			keys, next, err := client.Scan(ctx, cursor, prefix+"*", 500).Result()
			if err != nil {
				t.Errorf("testenv: scan redis keys %s*: %v", prefix, err)
				break
			}
			if len(keys) > 0 {
				if err := client.Del(ctx, keys...).Err(); err != nil {
					t.Errorf("testenv: delete redis keys %s*: %v", prefix, err)
				}
			}
			if next == 0 {
				break
			}
			cursor = next
		}
		_ = client.Close()
	})
	return client, prefix
}

// EnvChromium names the Chromium (or Chrome) binary for browser tests; by
// default chromium, chromium-browser or google-chrome on PATH.
const EnvChromium = "ACCESSBOT_CHROMIUM"

// Chromium returns the path of a Chromium binary for a browser test, or
// skips it with the banner (fails under ACCESSBOT_REQUIRE_SERVICES=1).
// Debian's chromium package provides it; .ci/run installs it.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(EnvChromium); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			report(t, "CHROMIUM", p, err)
			t.SkipNow()
		}
		return p
	}
	var err error
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		var p string
		if p, err = exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip(report(t, "CHROMIUM", "PATH (install Debian's chromium package)", err))
	return ""
}
