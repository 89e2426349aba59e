package sqlite_test

import (
	"testing"

	"github.com/accessbot/accessbot/store"
	"github.com/accessbot/accessbot/store/backend"
	"github.com/accessbot/accessbot/store/conformance"
	"github.com/accessbot/accessbot/store/storetest"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T) store.Store { return storetest.Open(t, backend.SQLite) })
}
