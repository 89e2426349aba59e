package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/accessbot/accessbot"
	"github.com/accessbot/accessbot/flows/requests"
)

func (m *Main) explainCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "explain",
		Short: "Say who would be asked to approve a request, and why",
		Args:  cobra.NoArgs,
		RunE:  showHelp,
	}
	cmd.AddCommand(m.explainRequestCommand())
	return cmd
}

func (m *Main) explainRequestCommand() *cobra.Command {
	var tenant, app, entitlement, forEmail, byEmail, channel string
	cmd := &cobra.Command{
		Use:   "request --app APP --for EMAIL",
		Short: "Who would be asked at each level of a request, and why",
		Long: `Resolve the approval chain a request would use, without making it, and
print who would be asked at each level and why: the chain chosen (the
entitlement's, the application's, the channel's route or the tenant
default), the rule and quorum, delegates standing in, people left out (the
requester, the person it is for, the inactive), fallbacks to the tenant
admins, the approvers' channel, and the risk tier with its step-up.`,
		Example: `  accessbot explain request --app AWS --entitlement AdministratorAccess --for sofia.rossi@acme.com
  accessbot explain request --app Slack --for tom.baker@acme.com --channel C0ITHELP`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if app == "" || forEmail == "" {
				return errors.New("--app and --for are required")
			}
			ctx := cmd.Context()
			st, t, log, err := m.openTenant(ctx, tenant)
			if err != nil {
				return err
			}
			defer st.Close()
			a, err := st.GetApplicationByName(ctx, t.ID, app)
			if errors.Is(err, accessbot.ErrNotFound) {
				return fmt.Errorf("--app %s: no such application in tenant %s", app, t.Slug)
			}
			if err != nil {
				return err
			}
			in := requests.ExplainInput{TenantID: t.ID, AppID: a.ID, Channel: channel}
			if entitlement != "" {
				c, err := st.GetConnectionByName(ctx, t.ID, a.ID, entitlement)
				if errors.Is(err, accessbot.ErrNotFound) {
					return fmt.Errorf("--entitlement %s: %s has no such entitlement", entitlement, a.Name)
				}
				if err != nil {
					return err
				}
				in.ConnectionID = c.ID
			}
			target, err := st.GetUserByEmail(ctx, t.ID, forEmail)
			if errors.Is(err, accessbot.ErrNotFound) {
				return fmt.Errorf("--for %s: no such user in tenant %s", forEmail, t.Slug)
			}
			if err != nil {
				return err
			}
			in.RequesterID, in.TargetID = target.ID, target.ID
			if byEmail != "" {
				by, err := st.GetUserByEmail(ctx, t.ID, byEmail)
				if errors.Is(err, accessbot.ErrNotFound) {
					return fmt.Errorf("--by %s: no such user in tenant %s", byEmail, t.Slug)
				}
				if err != nil {
					return err
				}
				in.RequesterID = by.ID
			}
			ex, err := requests.New(st, nil, nil, m.now, requests.Policy{}, log).Explain(ctx, in)
			if err != nil {
				return err
			}
			return ex.Write(cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant `SLUG` (may be left out when the store has one tenant)")
	cmd.Flags().StringVar(&app, "app", "", "the application's `NAME`")
	cmd.Flags().StringVar(&entitlement, "entitlement", "", "the entitlement's (connection's) `NAME`")
	cmd.Flags().StringVar(&forEmail, "for", "", "`EMAIL` of the person the access is for")
	cmd.Flags().StringVar(&byEmail, "by", "", "`EMAIL` of who asks, when not the person it is for")
	cmd.Flags().StringVar(&channel, "channel", "", "the Slack `CHANNEL` id it would be asked in (channel routes)")
	return cmd
}
