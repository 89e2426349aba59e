package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/accessbot/accessbot/flows/csvrows"
	"github.com/accessbot/accessbot/flows/userimport"
)

// importCommand is the parent of every CSV import; `import users` is the
// employee upload. Other imports are added as its subcommands.
func (m *Main) importCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Import data from CSV files (manual uploads)",
		Args:  cobra.NoArgs,
		RunE:  showHelp,
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
		Long: `Import employees from a CSV file into a tenant's users (see
docs/imports-and-findings.md, "Importing employees").

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
		Args: needArgs("FILE.csv"),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			lim, err := m.csvLimits()
			if err != nil {
				return err
			}
			file, err := os.Open(path)
			if err != nil {
				return fmt.Errorf("import users: %w", err)
			}
			defer file.Close()
			st, t, log, err := m.openTenant(cmd.Context(), tenant)
			if err != nil {
				return err
			}
			defer st.Close()
			res, err := userimport.NewImporter(st, m.Now, log).Import(cmd.Context(), t.ID, path,
				file, userimport.Options{Strict: strict, DryRun: dryRun, Limits: lim})
			if res == nil {
				return err
			}
			for _, c := range res.Changes {
				fmt.Fprintln(cmd.OutOrStdout(), c)
			}
			return writeImportResult(cmd, t.Slug, res.Rejected, err, res.Summary())
		},
	}
	addTenantFlag(cmd, &tenant, " to import into")
	cmd.Flags().BoolVar(&strict, "strict", false, "write nothing if any row is bad")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "report what would change, write nothing")
	return cmd
}

// csvLimits are the config's limits.upload_bytes and limits.csv_cell_bytes.
func (m *Main) csvLimits() (csvrows.Limits, error) {
	cfg, err := m.loadConfig()
	if err != nil {
		return csvrows.Limits{}, err
	}
	return csvrows.Limits{MaxBytes: int64(cfg.Limits.UploadBytes), MaxCellBytes: int64(cfg.Limits.CSVCellBytes)}, nil
}

// writeImportResult prints an import's rejected rows (to stderr) and its
// summary lines, and turns a strict import's ErrRejected into the error
// the command exits with.
func writeImportResult(cmd *cobra.Command, slug string, rejected []*userimport.RowError, err error, summaries ...string) error {
	for _, r := range rejected {
		fmt.Fprintln(cmd.ErrOrStderr(), r.Error())
	}
	for _, s := range summaries {
		fmt.Fprintf(cmd.OutOrStdout(), "tenant %s: %s\n", slug, s)
	}
	if errors.Is(err, userimport.ErrRejected) {
		return fmt.Errorf("%d row(s) rejected; --strict: nothing was imported", len(rejected))
	}
	return err
}
