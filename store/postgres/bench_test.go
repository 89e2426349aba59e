package postgres_test

import (
	"testing"

	"github.com/accessbot/accessbot/internal/testenv"
	"github.com/accessbot/accessbot/store/backend"
	"github.com/accessbot/accessbot/store/conformance"
	"github.com/accessbot/accessbot/store/storetest"
)

// BenchmarkStore: see conformance.Bench and BENCHMARKS.md.
func BenchmarkStore(b *testing.B) {
	if !testenv.PostgresAvailable(b) {
		b.Skip("*** POSTGRES NOT REACHABLE: postgres benchmarks SKIPPED ***")
	}
	conformance.Bench(b, storetest.Open(b, backend.Postgres))
}
