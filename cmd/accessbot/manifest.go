package main

import (
	"github.com/spf13/cobra"

	"github.com/accessbot/accessbot/bot/manifest"
)

// manifestCommand prints the Slack app manifest to paste into
// api.slack.com/apps → Create New App → From an app manifest.
// It needs no config: the manifest depends only on the flags.
func (m *Main) manifestCommand() *cobra.Command {
	var opts manifest.Options
	cmd := &cobra.Command{
		Use:   "manifest",
		Short: "Print the Slack app manifest (YAML) for creating the Slack app",
		Long: `Print the Slack app manifest (YAML): Socket Mode, the /access command,
interactivity, the App Home tab, the events accessbot handles and exactly the
bot scopes it needs (` + manifest.BotScopesCSV + `).

Paste it into https://api.slack.com/apps → Create New App → From an app manifest.
Give --redirect-url only for multi-workspace OAuth installs.`,
		Example: `  accessbot manifest > slack-manifest.yaml
  accessbot manifest --name "Access Desk" --redirect-url https://accessbot.example.com/slack/oauth/callback`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			y, err := manifest.YAML(opts)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(y)
			return err
		},
	}
	cmd.Flags().StringVar(&opts.Name, "name", manifest.DefaultName, "app and bot display `NAME` (at most 35 characters)")
	cmd.Flags().StringVar(&opts.RedirectURL, "redirect-url", "", "OAuth redirect `URL` (https) for multi-workspace installs; omitted when empty")
	return cmd
}
