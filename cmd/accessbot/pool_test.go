package main

import (
	"strconv"
	"testing"

	"github.com/accessbot/accessbot/internal/config"
	"github.com/accessbot/accessbot/internal/testenv"
	"github.com/accessbot/accessbot/store/postgres"
)

// TestRunWarmsThePostgresPool: `run` opens store.pool_size connections
// before it serves, and may open no more; /metrics shows the pool.
func TestRunWarmsThePostgresPool(t *testing.T) {
	t.Parallel()
	if !testenv.PostgresAvailable(t) {
		t.Skip("*** POSTGRES NOT REACHABLE: postgres tests SKIPPED ***")
	}
	const size = 7 // more than run uses by itself before it serves
	m, _, stderr := testMain(map[string]string{
		"ACCESSBOT_HTTP_LISTEN":     "127.0.0.1:0",
		"ACCESSBOT_STORE_DRIVER":    "postgres",
		"ACCESSBOT_STORE_DSN":       testenv.PostgresDSN(t),
		"ACCESSBOT_STORE_POOL_SIZE": strconv.Itoa(size),
	})
	addr, stop := startRun(t, m)
	code, body := httpGet(t, "http://"+addr+"/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics = %d", code)
	}
	stop()
	for _, name := range []string{"go_sql_max_open_connections", "go_sql_open_connections"} {
		if got := metricSum(body, name, `db_name="store"`); got != size {
			t.Errorf("%s = %v, want %d (store.pool_size)\nlog:\n%s", name, got, size, stderr)
		}
	}
}

// The documented default of store.pool_size is the store's own.
func TestPoolSizeDefault(t *testing.T) {
	cfg, err := config.Parse("", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store.PoolSize != postgres.DefaultPoolSize {
		t.Fatalf("store.pool_size defaults to %d, postgres.DefaultPoolSize is %d", cfg.Store.PoolSize, postgres.DefaultPoolSize)
	}
}
