package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/accessbot/accessbot/store/backend"
	"github.com/accessbot/accessbot/store/sqlite"
)

func (m *Main) backupCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "backup FILE",
		Short: "Copy the SQLite store to a new file while the bot runs",
		Long: `Write a consistent copy of the SQLite store (store.dsn) to FILE, which must
not exist, with SQLite's VACUUM INTO. The bot may keep running: the copy reads
one snapshot and does not block it. The container image has no sqlite3 shell,
so this is its way to back up. For PostgreSQL use pg_dump.`,
		Args: needArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := m.loadConfig()
			if err != nil {
				return err
			}
			if cfg.Store.Driver != backend.SQLite {
				return fmt.Errorf("backup copies the SQLite store; store.driver is %q: use pg_dump (docs/operations.md)", cfg.Store.Driver)
			}
			dsn := cfg.Store.DSN.Reveal()
			if dsn == "" {
				dsn = sqlite.DefaultDSN
			}
			if err := sqlite.Backup(cmd.Context(), dsn, args[0]); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "Backed up the SQLite store to %s.\n", args[0])
			return err
		},
	}
}
