package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/userimport"
	"github.com/accessbot/accessbot/store"
)

// importCommand is the parent of every CSV import; `import users` is the
// employee upload. Other imports are added as its subcommands.
func (m *Main) importCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Import data from CSV files (manual uploads)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(m.importUsersCommand())
	cmd.AddCommand(m.importInventoryCommands()...)
	return cmd
}

func (m *Main) importUsersCommand() *cobra.Command {
	var (
		tenant         string
		strict, dryRun bool
	)
	cmd := &cobra.Command{
		Use:   "users FILE.csv",
		Short: "Import employees (the HR upload) into a tenant's users",
		Long: `Import employees from a CSV file into a tenant's users (see the README
section "Importing employees").

The header row names the columns, in any order and letter case:
  email, name (required), manager_email, department, status (active or
  terminated), termination_date (YYYY-MM-DD or RFC 3339).
Users are matched by email, ignoring case: a re-import updates them in place.
A column left out of the header leaves that field alone.

Each bad row is reported as FILE:LINE: reason and skipped; the good rows
still import, in one transaction. With --strict, any bad row means nothing
is written (exit status 1). A bad header or broken CSV quoting imports
nothing.`,
		Example: `  accessbot import users employees.csv --dry-run
  accessbot import users employees.csv --tenant acme --strict`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			file, err := os.Open(path)
			if err != nil {
				return fmt.Errorf("import users: %w", err)
			}
			defer file.Close()
			cfg, log, err := m.boot()
			if err != nil {
				return err
			}
			st, err := m.openStore(cmd.Context(), cfg, log)
			if err != nil {
				return err
			}
			defer st.Close()
			t, err := pickTenant(cmd.Context(), st, tenant)
			if err != nil {
				return err
			}
			res, err := userimport.NewImporter(st, m.Now, log).Import(cmd.Context(), t.ID, path,
				file, userimport.Options{Strict: strict, DryRun: dryRun})
			if res != nil {
				out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
				for _, c := range res.Changes {
					fmt.Fprintln(out, c)
				}
				for _, r := range res.Rejected {
					fmt.Fprintln(errOut, r.Error())
				}
				fmt.Fprintf(out, "tenant %s: %s\n", t.Slug, res.Summary())
			}
			if errors.Is(err, userimport.ErrRejected) {
				return fmt.Errorf("%d row(s) rejected; --strict: nothing was imported", len(res.Rejected))
			}
			return err
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant `SLUG` to import into (required when the store has more than one)")
	cmd.Flags().BoolVar(&strict, "strict", false, "write nothing if any row is bad")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "report what would change, write nothing")
	return cmd
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
