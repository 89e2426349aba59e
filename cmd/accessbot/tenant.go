package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/store"
)

// addTenantFlag adds --tenant to cmd; what (e.g. " to import into") follows
// "tenant SLUG" in the usage.
func addTenantFlag(cmd *cobra.Command, slug *string, what string) {
	cmd.Flags().StringVar(slug, "tenant", "", "tenant `SLUG`"+what+" (required when the store has more than one)")
}

// bootStore is what every command on tenant data starts with: the config,
// a logger and the migrated store, which the caller closes.
func (m *Main) bootStore(ctx context.Context) (store.Store, zerolog.Logger, error) {
	cfg, log, err := m.boot()
	if err != nil {
		return nil, log, err
	}
	st, err := m.openStore(ctx, cfg, log)
	if err != nil {
		return nil, log, err
	}
	return st, log, nil
}

// openTenant is bootStore plus the tenant --tenant names (see pickTenant).
// The caller closes the store.
func (m *Main) openTenant(ctx context.Context, slug string) (store.Store, *accessbot.Tenant, zerolog.Logger, error) {
	st, log, err := m.bootStore(ctx)
	if err != nil {
		return nil, nil, log, err
	}
	t, err := pickTenant(ctx, st, slug)
	if err != nil {
		st.Close()
		return nil, nil, log, err
	}
	return st, t, log, nil
}

// tenantLister is what pickTenant needs of the store.
type tenantLister interface {
	GetTenantBySlug(ctx context.Context, slug string) (*accessbot.Tenant, error)
	ListTenants(ctx context.Context) ([]accessbot.Tenant, error)
}

var _ tenantLister = (store.Store)(nil)

// pickTenant resolves --tenant, which may be left out when the store has
// exactly one tenant.
func pickTenant(ctx context.Context, st tenantLister, slug string) (*accessbot.Tenant, error) {
	if slug != "" {
		t, err := st.GetTenantBySlug(ctx, slug)
		if errors.Is(err, accessbot.ErrNotFound) {
			return nil, fmt.Errorf("--tenant %s: no such tenant (accessbot apply -f FILE creates tenants)", slug)
		}
		if err != nil {
			return nil, fmt.Errorf("find tenant %s: %w", slug, err)
		}
		return t, nil
	}
	ts, err := st.ListTenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	switch len(ts) {
	case 0:
		return nil, errors.New("the store has no tenant yet: create one with accessbot apply -f tenant.yaml")
	case 1:
		return &ts[0], nil
	}
	slugs := make([]string, len(ts))
	for i, t := range ts {
		slugs[i] = t.Slug
	}
	return nil, fmt.Errorf("the store has %d tenants (%s): choose one with --tenant SLUG", len(ts), strings.Join(slugs, ", "))
}
