package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/accessbot/accessbot/store/backend"
)

func (m *Main) migrateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the embedded database migrations and exit",
		Long: `Apply pending database migrations to the configured store (store.driver,
store.dsn) and exit. Running it again, or from two replicas at once, is safe.
'accessbot run' also migrates on start, so this is for deploy pipelines.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, log, err := m.boot()
			if err != nil {
				return err
			}
			if err := backend.Migrate(cmd.Context(), cfg.Store.Driver, cfg.Store.DSN.Reveal(), log); err != nil {
				return fmt.Errorf("migrate %s store (store.driver, store.dsn): %w", cfg.Store.Driver, err)
			}
			log.Info().Str("store", cfg.Store.Driver).Msg("migrations applied")
			return nil
		},
	}
}
