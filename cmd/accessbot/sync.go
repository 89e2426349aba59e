package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/accessbot/accessbot/connectors/dirsource"
	"github.com/accessbot/accessbot/flows/dirsync"
	"github.com/accessbot/accessbot/flows/findings"
)

// syncCommand is `accessbot sync APP`: read the application's directory
// through its connector now and write its inventory snapshot.
func (m *Main) syncCommand() *cobra.Command {
	var (
		tenant                      string
		full, dryRun, allowRemovals bool
	)
	cmd := &cobra.Command{
		Use:   "sync APP",
		Short: "Sync an application's inventory from its connector (Entra ID, SCIM) now",
		Long: `Sync an application's inventory from its connector now.

The application's connector: names a connector of the tenant file's
connectors: section (or, when none has that name, the tenant's only
connector of that type). Entra ID (type azuread) reads users, groups
(security and Microsoft 365), activated directory roles and their members; after the first sync
only the changes are read (delta queries), and everything again when
Microsoft has expired the delta token or with --full. SCIM (type scim)
reads /Users and /Groups with their members, everything each time.

The result replaces the application's snapshot exactly as an upload does
(accessbot import), the finding rules run, employees whose account has a
leave date that has passed are terminated, and memberships that appeared
outside accessbot become findings (rule connector_access_outside_accessbot).
Each run's outcome is kept for accessbot connectors status.`,
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
				return fmt.Errorf("sync %s: %w", args[0], err)
			}
			src, _, err := dirsource.For(ctx, st, keys, app, log)
			if err != nil {
				return fmt.Errorf("sync %w", err)
			}
			pb, err := m.cliPlaybooks(st, log)
			if err != nil {
				return err
			}
			// Playbooks with the recurrence set run after every written sync.
			sy := dirsync.New(st, findings.NewEngine(m.Now, log), m.Now, log).WithAfterImport(pb.AfterImport).WithFindingsOpened(pb.FindingsOpened)
			res, err := sy.Sync(ctx, t.ID, app, src, dirsync.Options{Full: full, DryRun: dryRun, AllowRemovals: allowRemovals})
			if res != nil {
				var rejected int
				for _, im := range res.Imports {
					for _, r := range im.Rejected {
						fmt.Fprintln(cmd.ErrOrStderr(), r.Error())
					}
					rejected += len(im.Rejected)
				}
				s := res.Summary()
				if dryRun {
					s += " (dry run: nothing was written)"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "tenant %s: %s\n", t.Slug, s)
			}
			return err
		},
	}
	addTenantFlag(cmd, &tenant, " whose application to sync")
	cmd.Flags().BoolVar(&full, "full", false, "read everything, not only the changes since the last sync")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "report what would change, write nothing")
	cmd.Flags().BoolVar(&allowRemovals, "allow-removals", false, "write the snapshot even if it removes more rows than the tenant's guard allows")
	return cmd
}

// connectorsCommand is `accessbot connectors status` and `accessbot connectors test APP`.
func (m *Main) connectorsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "connectors", Short: "Show the state of the applications' connector syncs, or check a connector"}
	var tenant string
	status := &cobra.Command{
		Use:   "status",
		Short: "Each directory application's state, schedule, last sync, its counts and the last error",
		Long: `Each application whose connector is a directory (Entra ID, SCIM), or
that has synced, with the seed's states: "Connected" and "Data available"
once a sync wrote its snapshot, "Error" with the last error when the last
run failed, "Pending" before any run finished. The Home tab shows admins
the same.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, t, _, err := m.openTenant(ctx, tenant)
			if err != nil {
				return err
			}
			defer st.Close()
			rows, err := dirsync.StatusRows(ctx, st, t.ID)
			if err != nil {
				return err
			}
			if len(rows) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "tenant %s: no application syncs from a directory connector (azuread, scim)\n", t.Slug)
				return nil
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "APPLICATION\tCONNECTOR\tSTATUS\tMESSAGE\tSCHEDULE\tLAST SYNC\tLAST ERROR")
			for _, r := range rows {
				last, sched := "never", r.Schedule
				if r.LastSync != nil {
					last = r.LastSync.UTC().Format(time.RFC3339)
				}
				if sched == "" {
					sched = "on demand"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.App, r.Connector, r.Status, r.Message, sched, last, strings.ReplaceAll(r.LastError, "\n", " "))
			}
			if err := w.Flush(); err != nil {
				return err
			}
			for _, r := range rows {
				if r.Counts != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", r.App, r.Counts)
				}
			}
			return nil
		},
	}
	addTenantFlag(status, &tenant, "")
	cmd.AddCommand(status, m.connectorsTestCommand())
	return cmd
}
