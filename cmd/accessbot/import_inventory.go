package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/accessbot/accessbot/flows/findings"
	"github.com/accessbot/accessbot/flows/inventory"
)

// importInventoryCommands are `import identities|entitlements|relations APP
// FILE.csv` and `import mappings FILE.csv`.
func (m *Main) importInventoryCommands() []*cobra.Command {
	return []*cobra.Command{
		m.importInventoryCommand(inventory.Identities, "Import an application's accounts (identities)",
			`Columns: identity_id (required), email, display_name, status (active or
disabled; default active), last_seen_at (RFC 3339, e.g. 2025-01-31T17:00:00Z).`),
		m.importInventoryCommand(inventory.Entitlements, "Import an application's groups, roles and permissions",
			`Columns: entitlement_id (required), name, type, labels (separated by ";",
e.g. privileged;ops).`),
		m.importInventoryCommand(inventory.Relations, "Import which identity holds which entitlement",
			`Columns: identity_id, entitlement_id (both required). Both must name rows
of the application's current identities and entitlements: import those first.`),
		m.importInventoryCommand(inventory.Mappings, "Map identities to employees (for accounts whose email differs)",
			`Columns: identity_id, employee_email (both required), app (optional: the
application, needed when several applications have that identity id).
Without a mapping, an identity belongs to the employee with its email.
The upload replaces every mapping (or, with --app, that application's).`),
	}
}

func (m *Main) importInventoryCommand(kind inventory.Kind, short, columns string) *cobra.Command {
	var (
		tenant, app                   string
		strict, dryRun, allowRemovals bool
	)
	names := []string{"APP", "FILE.csv"}
	if kind == inventory.Mappings {
		names = names[1:]
	}
	use := string(kind) + " " + strings.Join(names, " ")
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Long: short + ` from a CSV file (a manual upload).

The header row names the columns, in any order and letter case; an unknown
column is refused. ` + columns + `

The file is the application's whole snapshot: rows missing from it are
marked removed (kept for history), rows that come back are restored, all
in one transaction. The finding rules then run in the same transaction.

Each bad row is reported as FILE:LINE: reason and skipped, and every stored
row it names is kept as it was (a row that names nothing keeps everything);
with --strict any bad row means nothing is written (exit status 1). A bad
header or broken CSV quoting imports nothing.

An upload that would remove more than the tenant's guard allows (by default
more than 20 rows and more than 10% of the application's current rows) is
refused and writes nothing; --allow-removals lets it through. The tenant
file's imports: section sets the guard.`,
		Args: needArgs(names...),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[len(args)-1]
			if kind != inventory.Mappings {
				app = args[0]
			}
			lim, err := m.csvLimits()
			if err != nil {
				return err
			}
			file, err := os.Open(path)
			if err != nil {
				return fmt.Errorf("import %s: %w", kind, err)
			}
			defer file.Close()
			st, t, log, err := m.openTenant(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			defer st.Close()
			pb, err := m.cliPlaybooks(st, log)
			if err != nil {
				return err
			}
			// An upload is a sync: recurrence playbooks and findings it opens are queued with it.
			im := inventory.NewImporter(st, findings.NewEngine(m.Now, log), m.Now, log).WithAfterImport(pb.AfterImport)
			res, err := im.Import(cmd.Context(), t.ID, kind, app, path, file, inventory.Options{Strict: strict, DryRun: dryRun, AllowRemovals: allowRemovals, App: app, Limits: lim})
			if res == nil {
				return err
			}
			return writeImportResult(cmd, t.Slug, res.Rejected, err, res.Summaries()...)
		},
	}
	addTenantFlag(cmd, &tenant, " to import into")
	cmd.Flags().BoolVar(&strict, "strict", false, "write nothing if any row is bad")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "report what would change, write nothing")
	cmd.Flags().BoolVar(&allowRemovals, "allow-removals", false, "apply the upload even if it removes more rows than the tenant's guard allows")
	if kind == inventory.Mappings {
		cmd.Flags().StringVar(&app, "app", "", "only replace the mappings of application `NAME`'s identities")
	}
	return cmd
}
