package postgres_test

import (
	"testing"

	"github.com/accessbot/accessbot/internal/testenv"
	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/backend"
	"github.com/accessbot/accessbot/store/conformance"
	"github.com/accessbot/accessbot/store/storetest"
)

func TestConformance(t *testing.T) {
	if !testenv.PostgresAvailable(t) {
		t.Skip("*** POSTGRES NOT REACHABLE: postgres tests SKIPPED ***")
	}
	conformance.Run(t, func(t *testing.T) store.Store { return storetest.Open(t, backend.Postgres) })
}
