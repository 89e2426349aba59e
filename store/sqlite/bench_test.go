package sqlite_test

import (
	"testing"

	"github.com/accessbot/accessbot/store/backend"
	"github.com/accessbot/accessbot/store/conformance"
	"github.com/accessbot/accessbot/store/storetest"
)

// BenchmarkStore: see conformance.Bench and BENCHMARKS.md.
func BenchmarkStore(b *testing.B) {
	conformance.Bench(b, storetest.Open(b, backend.SQLite))
}
