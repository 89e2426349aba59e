package main

import (
	"github.com/spf13/cobra"

	"github.com/accessbot/accessbot/bot/slackapi"
	"github.com/accessbot/accessbot/flows/tenantfile"
)

func (m *Main) applyCommand() *cobra.Command {
	var (
		file   string
		dryRun bool
	)
	cmd := &cobra.Command{
		Use:   "apply -f FILE",
		Short: "Apply a tenant file: tenant, Slack workspace, users, applications, approval chains, rules, alerts, schedules, campaigns",
		Long: `Apply a tenant file (YAML; see examples/tenant.yaml and
docs/tenant-file.md). The tenant it names is created or updated to match:
its Slack workspace binding, users, applications with owners, connections
and resources, approval chains, and (when the file has those sections)
finding rules, alert channels, schedules, review campaigns, review
reminder timing, connectors and the outbound allow-list. Connector
secrets are read from the environment variables the file names (never
from the file) and stored encrypted with encryption.key; the diff shows
them only as "(secret) changed".

The whole file is checked before the store is touched, and applied in one
transaction: any error applies nothing and names the file, line and field.
Applying the same file twice reports "no changes". Users missing from the
file are never deleted; applications, connections, resources and chains
missing from it are deleted only when its prune: section says so. A rules:,
schedules: or campaigns: section is the complete list: what it leaves out
is deleted; a section left out leaves the store's alone.

Output is one line per change: "+" created, "~" updated (with old→new),
"-" deleted, then notes ("#") about what was left alone or defaulted
(such as "# review reminders: default schedule 0 9 * * * UTC").`,
		Example: `  accessbot apply -f examples/tenant.yaml --dry-run
  accessbot apply -f examples/tenant.yaml`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Parse first: a bad file needs no config or store to be
			// reported (a bad config is, by bootStore, after it).
			limit := int64(tenantfile.DefaultMaxBytes)
			if cfg, err := m.loadConfig(); err == nil {
				limit = int64(cfg.Limits.TenantFileBytes)
			}
			f, err := tenantfile.ReadFileLimit(file, limit, "")
			if err != nil {
				return err
			}
			cfg, log, err := m.boot()
			if err != nil {
				return err
			}
			keys, err := cfg.Keyring()
			if err != nil {
				return err
			}
			st, err := m.openStore(cmd.Context(), cfg, log)
			if err != nil {
				return err
			}
			defer st.Close()
			// Connector secrets are read from the environment variables
			// the file names, and stored sealed with the key ring.
			// Approvers' and routed channels are checked in Slack when
			// accessbot has a token for the workspace.
			var opener slackapi.Opener
			if keys != nil {
				opener = keys
			}
			channels, err := applyChannels(cmd.Context(), cfg.Slack, st, opener, f)
			if err != nil {
				return err
			}
			res, err := tenantfile.NewApplier(st, m.Now, log).WithSecrets(keys, m.Env).WithChannels(channels).Apply(cmd.Context(), f, dryRun)
			if err != nil {
				return err
			}
			return res.Write(cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "tenant `FILE` to apply (YAML)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the changes, write nothing")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}
