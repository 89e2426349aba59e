package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/accessbot/accessbot/connectors/dirsource"
)

// connectorsTestCommand is `accessbot connectors test APP`.
func (m *Main) connectorsTestCommand() *cobra.Command {
	var tenant string
	cmd := &cobra.Command{
		Use:   "test APP",
		Short: "Check an application's directory connector: credentials, permissions, what the server supports",
		Long: `Check an application's directory connector.

Entra ID (azuread): takes a token with the client secret, reads the
application permissions granted to the app registration (the token's roles
claim) and prints which of the read-only (access review) and lifecycle
permissions are missing; the lifecycle ones are required when the
application's provisioning runs azuread_api_* scripts. Then it reads a user
and a group.

SCIM (scim): reads /ServiceProviderConfig (PATCH and filter support), then
reads /Users and /Groups with the token.

It exits with an error when a required check fails.`,
		Args: needArgs("APP"),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, _, err := m.boot()
			if err != nil {
				return err
			}
			keys, err := cfg.Keyring()
			if err != nil {
				return err
			}
			st, t, log, err := m.openTenant(ctx, tenant)
			if err != nil {
				return err
			}
			defer st.Close()
			app, err := st.GetApplicationByName(ctx, t.ID, args[0])
			if err != nil {
				return fmt.Errorf("connectors test %s: %w", args[0], err)
			}
			rep, err := dirsource.Test(ctx, st, keys, app, log)
			if err != nil {
				return fmt.Errorf("connectors test %w", err)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s: connector %s (%s)\n", rep.App, rep.Connector, rep.Type)
			failed := 0
			for _, c := range rep.Checks {
				mark := "ok  "
				if !c.OK {
					mark = "FAIL"
					failed++
				}
				fmt.Fprintf(out, "  %s %s\n", mark, c.Text)
			}
			if failed > 0 {
				return fmt.Errorf("connectors test %s: %d check(s) failed", rep.App, failed)
			}
			return nil
		},
	}
	addTenantFlag(cmd, &tenant, " whose application to check")
	return cmd
}
