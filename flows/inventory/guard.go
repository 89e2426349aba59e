package inventory

import (
	"context"
	"errors"
	"fmt"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// ErrTooManyRemovals is what a *RemovalError wraps.
var ErrTooManyRemovals = errors.New("too many removals")

// RemovalError is an import the accidental-removal guard refused: it would
// have removed more rows than the tenant allows at once. Nothing was written.
type RemovalError struct {
	Kind             Kind
	App              string // "" for mappings of every application
	Removed, Current int
	Settings         accessbot.ImportSettings
}

func (e *RemovalError) Error() string {
	whose := "the tenant's"
	if e.App != "" {
		whose = e.App + "'s"
	}
	pct := 100
	if e.Current > 0 {
		pct = (e.Removed*100 + e.Current/2) / e.Current
	}
	return fmt.Sprintf("refused: this upload would remove %d of %s %d current %s (%d%%); the tenant's guard refuses more than %d row(s) and more than %d%% at once, so nothing was written. "+
		"If the removals are real, run it again with --allow-removals; to change the guard, set imports.max_removed_rows and imports.max_removed_percent in the tenant file",
		e.Removed, whose, e.Current, e.Kind, pct, e.Settings.MaxRemovedRows, e.Settings.MaxRemovedPercent)
}

func (e *RemovalError) Unwrap() error { return ErrTooManyRemovals }

// importSettings are the tenant's, or the defaults when it has none.
func importSettings(ctx context.Context, q store.Queries, tenantID string) (accessbot.ImportSettings, error) {
	s, err := q.GetImportSettings(ctx, tenantID)
	if errors.Is(err, accessbot.ErrNotFound) {
		return accessbot.DefaultImportSettings(tenantID), nil
	}
	if err != nil {
		return accessbot.ImportSettings{}, fmt.Errorf("read import settings: %w", err)
	}
	return *s, nil
}
